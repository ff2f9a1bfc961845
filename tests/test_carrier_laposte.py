"""La Poste Suivi v2: real-shaped answers map to the normalized Shipment or the right error."""
from __future__ import annotations

import httpx
import pytest
import respx

from carriers.errors import AuthError, BadPayloadError, NotFoundError, RateLimitedError, UnavailableError
from carriers.laposte import LaPosteCarrier
from carriers.model import EventKind as K
from carriers.model import Status
from tests.carrier_kit import build, fixture

BASE = "https://carrier.test"

# (fixture, HTTP status, number asked, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", 200, "6A18987654321", Status.IN_TRANSIT, [K.PICKED_UP, K.CUSTOMS, K.ARRIVED]),
    ("delivered", 200, "6A18987654321", Status.DELIVERED, [K.PICKED_UP, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("returned", 200, "RB123456785FR", Status.EXCEPTION, [K.PICKED_UP, K.DELIVERY_FAILED, K.RETURNING]),
    ("customs_held", 200, "CP123456785CN", Status.EXCEPTION, [K.CUSTOMS, K.CUSTOMS_HELD]),
    ("not_found", 404, "6A18987654329", NotFoundError, []),
    ("bad_id", 400, "XX1", NotFoundError, []),
]


@pytest.mark.parametrize(("name", "http", "number", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_one_number(name: str, http: int, number: str, expected: object, kinds: list[K]) -> None:
    route = respx.get(f"{BASE}/idships/{number}").mock(return_value=httpx.Response(http, json=fixture("laposte", name)))
    result = (await build(LaPosteCarrier).fetch([number]))[number]
    assert route.calls.last.request.headers["X-Okapi-Key"] == "test-key"
    if isinstance(expected, type):
        assert isinstance(result, expected)
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.code and e.source == "laposte" for e in result.events)


@respx.mock
async def test_naive_timestamps_are_french_time() -> None:
    respx.get(f"{BASE}/idships/RB123456785FR").mock(return_value=httpx.Response(200, json=fixture("laposte", "returned")))
    result = (await build(LaPosteCarrier).fetch(["RB123456785FR"]))["RB123456785FR"]
    assert result.events[-1].time.isoformat() == "2026-11-19T15:00:00+01:00"


@respx.mock
async def test_several_ids_in_one_call() -> None:
    route = respx.get(f"{BASE}/idships/6A18987654321,6A18987654329").mock(
        return_value=httpx.Response(207, json=fixture("laposte", "several")))
    results = await build(LaPosteCarrier).fetch(["6A18987654321", "6A18987654329"])
    assert route.call_count == 1
    assert results["6A18987654321"].status is Status.IN_TRANSIT
    assert isinstance(results["6A18987654329"], NotFoundError)


@pytest.mark.parametrize(("http", "body", "error"), [
    (401, fixture("laposte", "unauthorized"), AuthError),
    (429, fixture("laposte", "rate_limited"), RateLimitedError),
    (200, fixture("laposte", "rate_limited"), RateLimitedError),
    (200, "<html>maintenance</html>", BadPayloadError),
    (200, {"returnCode": 200, "shipment": {"idShip": "6A18987654321", "event": [{"code": "PC1"}]}}, BadPayloadError),
], ids=["401", "429", "quota-in-body", "html", "event-without-date"])
@respx.mock
async def test_errors(http: int, body: object, error: type[Exception]) -> None:
    content = body.encode() if isinstance(body, str) else None
    respx.get(f"{BASE}/idships/6A18987654321").mock(
        return_value=httpx.Response(http, json=None if content else body, content=content))
    carrier = build(LaPosteCarrier)
    try:
        result = (await carrier.fetch(["6A18987654321"]))["6A18987654321"]
    except Exception as exc:  # whole-call errors are raised; the cycle spreads them over the batch
        result = exc
    assert isinstance(result, error), result


SHIPMENT = {"idShip": "6A18987654321", "isFinal": False,
            "event": [{"code": "PC1", "label": "Taken in charge", "date": "2026-11-17T09:12:00+01:00"}]}


# Source: the Suivi v2 OpenAPI's returnCode list (101, 104, 105, 109, 200, 201, 208, 504; carriers.md, "Checked
# against published sources"); 104 arrives with HTTP 404 ("votre suivi n'est pas encore disponible").
@pytest.mark.parametrize(("http", "code", "expected"), [
    (404, 104, NotFoundError),
    (404, 101, NotFoundError),
    (404, 105, NotFoundError),
    (404, 109, NotFoundError),
    (200, 504, UnavailableError),
    (200, 200, Status.IN_TRANSIT),
    (200, 201, Status.IN_TRANSIT),
    (200, 208, Status.IN_TRANSIT),
], ids=lambda v: str(v) if isinstance(v, int) else None)
@respx.mock
async def test_documented_return_codes(http: int, code: int, expected: object) -> None:
    body = {"lang": "en_GB", "scope": "open", "returnCode": code, "idShip": "6A18987654321",
            "returnMessage": "Votre suivi n'est pas encore disponible"}
    if expected is Status.IN_TRANSIT:
        body["shipment"] = SHIPMENT
    respx.get(f"{BASE}/idships/6A18987654321").mock(return_value=httpx.Response(http, json=body))
    result = (await build(LaPosteCarrier).fetch(["6A18987654321"]))["6A18987654321"]
    if isinstance(expected, type):
        assert type(result) is expected, result
        assert f"returnCode {code}" in str(result)
    else:
        assert result.status is expected


@respx.mock
async def test_a_404_without_json_is_not_found_for_that_number_only() -> None:
    """Source: carriers.md, "some 404 bodies are not JSON"; a batch is asked again number by number."""
    html = httpx.Response(404, content=b"<html><body>Not Found</body></html>")
    respx.get(f"{BASE}/idships/6A18987654321,6A18987654329").mock(return_value=html)
    respx.get(f"{BASE}/idships/6A18987654329").mock(return_value=html)
    respx.get(f"{BASE}/idships/6A18987654321").mock(return_value=httpx.Response(
        200, json={"returnCode": 200, "shipment": SHIPMENT}))
    results = await build(LaPosteCarrier).fetch(["6A18987654321", "6A18987654329"])
    assert results["6A18987654321"].status is Status.IN_TRANSIT
    assert isinstance(results["6A18987654329"], NotFoundError)


@respx.mock
async def test_request_follows_the_documented_form() -> None:
    """Contract (Suivi v2 OpenAPI): GET /idships/{ids} comma-separated, X-Okapi-Key, a documented lang, JSON."""
    route = respx.get(f"{BASE}/idships/6A18987654321,6A18987654329").mock(
        return_value=httpx.Response(207, json=fixture("laposte", "several")))
    await build(LaPosteCarrier).fetch(["6A18987654321", "6A18987654329"])
    request = route.calls.last.request
    assert request.method == "GET"
    assert dict(request.url.params) == {"lang": "en_GB"}  # en_US is not among fr_FR, en_GB, de_DE, es_ES, it_IT, nl_NL
    assert request.headers["X-Okapi-Key"] == "test-key"
    assert request.headers["Accept"] == "application/json"
    assert request.content == b""


@pytest.mark.parametrize(("code", "kind", "status"), [
    ("DR2", K.EXCEPTION, Status.INFO_RECEIVED),
    ("ID0", K.CUSTOMS, Status.IN_TRANSIT),
])
@respx.mock
async def test_event_codes_dr2_and_id0(code: str, kind: K, status: Status) -> None:
    """Source: carriers.md (event codes include DR2 and ID0); labels from a public client's code list."""
    event = {"code": code, "label": code, "date": "2026-11-18T10:00:00+01:00"}
    respx.get(f"{BASE}/idships/6A18987654321").mock(return_value=httpx.Response(
        200, json={"returnCode": 200, "shipment": {**SHIPMENT, "event": [event, *SHIPMENT["event"]]}}))
    result = (await build(LaPosteCarrier).fetch(["6A18987654321"]))["6A18987654321"]
    assert (result.events[-1].kind, result.status) == (kind, status)
