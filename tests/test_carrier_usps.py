"""USPS Tracking v3: real-shaped answers map to the normalized Shipment or the right error."""
from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from carriers.errors import BadPayloadError, NotFoundError, RateLimitedError, UnavailableError
from carriers.model import EventKind as K
from carriers.model import Status
from carriers.usps import parse
from tests.carrier_kit import fixture
from tests.oauth_kit import BASE, spec

USPS = spec("usps")

# (fixture, HTTP status, number asked, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", 200, "9400111899223847190000", Status.IN_TRANSIT, [K.PICKED_UP, K.IN_TRANSIT, K.IN_TRANSIT]),
    ("delivered", 200, "9400109104250532908587", Status.DELIVERED,
     [K.INFO_RECEIVED, K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("returned", 200, "9261290100130435082507", Status.EXCEPTION, [K.OUT_FOR_DELIVERY, K.DELIVERY_FAILED, K.RETURNING]),
    ("notice_left", 200, "9405511899223197428490", Status.DELIVERY_FAILED, [K.OUT_FOR_DELIVERY, K.DELIVERY_FAILED]),
    ("not_found", 404, "9400100000000000000000", NotFoundError, []),
    ("bad_number", 400, "94001", NotFoundError, []),
]


@pytest.mark.parametrize(("name", "http", "number", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_one_number(name: str, http: int, number: str, expected: object, kinds: list[K]) -> None:
    USPS.mock_token()
    route = respx.get(f"{BASE}/tracking/v3/tracking/{number}").mock(
        return_value=httpx.Response(http, json=fixture("usps", name)))
    result = (await USPS.carrier().fetch([number]))[number]
    assert route.calls.last.request.url.params["expand"] == "DETAIL"
    if isinstance(expected, type):
        assert isinstance(result, expected) and result.number == number
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.code and e.source == "usps" for e in result.events)


@pytest.mark.parametrize(("name", "index", "instant"), [
    ("delivered", -1, "2026-11-20T18:58:40+00:00"),  # GMTTimestamp wins over the local eventTimestamp
    ("returned", -1, "2026-11-19T09:02:00-06:00"),  # no GMTTimestamp: local time with GMTOffset
    ("notice_left", -1, "2026-11-20T15:12:00-05:00"),  # neither: local time read as US Eastern
], ids=["gmt", "offset", "eastern"])
def test_event_times(name: str, index: int, instant: str) -> None:
    shipment = parse(fixture("usps", name), "N")
    assert shipment.events[index].time.isoformat() == instant


# Source: carriers.md "Checked against published sources" (recorded USPS v3 answers): an eventTimestamp ending in Z
# without GMTTimestamp is the scan's local time, not UTC.
@pytest.mark.parametrize(("event", "instant"), [
    ({"eventTimestamp": "2026-11-19T09:02:00Z", "eventState": "IL"}, "2026-11-19T09:02:00-06:00"),
    ({"eventTimestamp": "2026-11-19T09:02:00Z", "eventState": "ca"}, "2026-11-19T09:02:00-08:00"),
    ({"eventTimestamp": "2026-07-19T09:02:00Z", "eventState": "AZ"}, "2026-07-19T09:02:00-07:00"),
    ({"eventTimestamp": "2026-11-19T09:02:00Z", "eventState": "AE"}, "2026-11-19T09:02:00-05:00"),
    ({"eventTimestamp": "2026-11-19T09:02:00Z"}, "2026-11-19T09:02:00-05:00"),
    ({"eventTimestamp": "2026-11-19T09:02:00Z", "GMTOffset": "-7:00", "eventState": "IL"},
     "2026-11-19T09:02:00-07:00"),
    ({"eventTimestamp": "2026-11-19T09:02:00Z", "GMTTimestamp": "2026-11-19T15:02:00Z", "eventState": "CA"},
     "2026-11-19T15:02:00+00:00"),
], ids=["central", "pacific-lower-case", "arizona-no-dst", "apo-fallback-eastern", "no-state-eastern",
        "gmt-offset-wins", "gmt-timestamp-wins"])
def test_a_z_time_without_gmt_is_local(event: dict[str, str], instant: str) -> None:
    payload = {"trackingEvents": [{"eventCode": "10", "eventType": "Processed", **event}]}
    assert parse(payload, "N").events[0].time.isoformat() == instant


def test_details_kept() -> None:
    shipment = parse(fixture("usps", "in_transit"), "9400111899223847190000")
    assert shipment.estimated_delivery == date(2026, 11, 22)
    assert shipment.raw_status == "In Transit"
    assert shipment.events[-1].location == "PORTLAND OR DISTRIBUTION CENTER"
    assert shipment.extra["mail_class"].startswith("Priority Mail")


@pytest.mark.parametrize(("http", "body", "headers", "error"), [
    (429, fixture("usps", "rate_limited"), {"Retry-After": "3600"}, RateLimitedError),
    (503, fixture("usps", "unavailable"), {}, UnavailableError),
    (200, "<html>maintenance</html>", {}, BadPayloadError),
    (200, {"trackingNumber": "N", "trackingEvents": [{"eventCode": "01"}]}, {}, BadPayloadError),
], ids=["429", "503", "html", "event-without-time"])
@respx.mock
async def test_errors(http: int, body: object, headers: dict[str, str], error: type[Exception]) -> None:
    USPS.mock_token()
    content = body.encode() if isinstance(body, str) else None
    route = respx.get(f"{BASE}/tracking/v3/tracking/N").mock(
        return_value=httpx.Response(http, json=None if content else body, content=content, headers=headers))
    try:
        result = (await USPS.carrier().fetch(["N"]))["N"]
    except Exception as exc:  # whole-call errors are raised; the cycle spreads them over the batch
        result = exc
    assert isinstance(result, error), result
    if error is RateLimitedError:
        assert result.retry_after == 3600 and route.call_count == 1  # an hour away: not retried now
    if error is UnavailableError:
        assert route.call_count == 3  # retried with backoff, then given up for this cycle

