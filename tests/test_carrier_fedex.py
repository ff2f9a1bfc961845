"""FedEx Track API v1: real-shaped answers map to the normalized Shipment or the right error."""
from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from carriers.errors import BadPayloadError, NotFoundError, RateLimitedError
from carriers.fedex import parse
from carriers.model import EventKind as K
from carriers.model import Status
from tests.carrier_kit import fixture
from tests.oauth_kit import BASE, spec

FEDEX = spec("fedex")
TRACK = f"{BASE}/track/v1/trackingnumbers"

# (fixture, number asked, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", "399368623212", Status.IN_TRANSIT,
     [K.INFO_RECEIVED, K.PICKED_UP, K.IN_TRANSIT, K.CUSTOMS, K.IN_TRANSIT]),
    ("delivered", "776094337676", Status.DELIVERED,
     [K.PICKED_UP, K.DELIVERY_FAILED, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("exception", "399368623212", Status.EXCEPTION, [K.CUSTOMS_HELD, K.ADDRESS_PROBLEM, K.RETURNING]),
    ("not_found", "123456789012", NotFoundError, []),
]


@pytest.mark.parametrize(("name", "number", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_one_number(name: str, number: str, expected: object, kinds: list[K]) -> None:
    FEDEX.mock_token()
    route = respx.post(TRACK).mock(return_value=httpx.Response(200, json=fixture("fedex", name)))
    result = (await FEDEX.carrier().fetch([number]))[number]
    assert route.calls.last.request.headers["Authorization"].startswith("Bearer ")
    if isinstance(expected, type):
        assert isinstance(result, expected) and result.number == number
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.code and e.source == "fedex" for e in result.events)


@respx.mock
async def test_several_numbers_in_one_call() -> None:
    FEDEX.mock_token()
    route = respx.post(TRACK).mock(return_value=httpx.Response(200, json=fixture("fedex", "several")))
    results = await FEDEX.carrier().fetch(["399368623212", "123456789012"])
    assert route.call_count == 1
    sent = route.calls.last.request
    assert httpx.Response(200, content=sent.content).json() == {
        "includeDetailedScans": True,
        "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in ("399368623212", "123456789012")]}
    # latestStatusDetail code OD wins over its coarser derived code IT.
    assert results["399368623212"].status is Status.OUT_FOR_DELIVERY
    assert isinstance(results["123456789012"], NotFoundError)


def test_details_kept() -> None:
    shipment = parse(fixture("fedex", "in_transit"), ["399368623212"])["399368623212"]
    assert shipment.estimated_delivery == date(2026, 11, 24)
    assert shipment.events[0].time.isoformat() == "2026-11-18T10:02:00+01:00"
    assert shipment.events[-1].location == "MEMPHIS, TN, US"
    assert shipment.extra == {"service": "FedEx International Priority"}
    problem = parse(fixture("fedex", "exception"), ["399368623212"])["399368623212"]
    assert problem.events[1].description == "Delivery exception - Incorrect address"


def test_a_reused_number_reports_its_newest_shipment() -> None:
    old, new = fixture("fedex", "delivered"), fixture("fedex", "in_transit")
    item = new["output"]["completeTrackResults"][0]
    item["trackResults"] = old["output"]["completeTrackResults"][0]["trackResults"] + item["trackResults"]
    assert parse(new, ["399368623212"])["399368623212"].status is Status.IN_TRANSIT


@pytest.mark.parametrize(("http", "body", "error"), [
    (429, fixture("fedex", "rate_limited"), RateLimitedError),
    (400, fixture("fedex", "bad_request"), BadPayloadError),
    (200, "<html>maintenance</html>", BadPayloadError),
    (200, {"output": {}}, BadPayloadError),
], ids=["429", "400", "html", "no-results"])
@respx.mock
async def test_errors(http: int, body: object, error: type[Exception]) -> None:
    FEDEX.mock_token()
    content = body.encode() if isinstance(body, str) else None
    respx.post(TRACK).mock(return_value=httpx.Response(http, json=None if content else body, content=content,
                                                       headers={"Retry-After": "10"} if http == 429 else {}))
    with pytest.raises(error):
        await FEDEX.carrier().fetch(["399368623212"])

