"""La Poste Suivi v2: real-shaped answers map to the normalized Shipment or the right error."""
from __future__ import annotations

import httpx
import pytest
import respx

from carriers.errors import AuthError, BadPayloadError, NotFoundError, RateLimitedError
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
