"""UPS Track API v1: real-shaped answers map to the normalized Shipment or the right error."""
from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from carriers.errors import AuthError, BadPayloadError, NotFoundError, RateLimitedError
from carriers.model import EventKind as K
from carriers.model import Status
from carriers.ups import parse
from tests.carrier_kit import fixture
from tests.oauth_kit import BASE, spec

UPS = spec("ups")
NUMBER = "1Z999AA10123456784"
TRACK = f"{BASE}/api/track/v1/details/{NUMBER}"

# (fixture, HTTP status, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", 200, Status.IN_TRANSIT, [K.INFO_RECEIVED, K.PICKED_UP, K.IN_TRANSIT, K.IN_TRANSIT]),
    ("delivered", 200, Status.DELIVERED, [K.PICKED_UP, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("returned", 200, Status.RETURNED, [K.DELIVERY_FAILED, K.RETURNING, K.RETURNED]),
    ("customs", 200, Status.EXCEPTION, [K.CUSTOMS, K.CUSTOMS_HELD]),
    ("not_found", 200, NotFoundError, []),
    ("not_found_404", 404, NotFoundError, []),
    ("invalid_number", 400, NotFoundError, []),
]


@pytest.mark.parametrize(("name", "http", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_one_number(name: str, http: int, expected: object, kinds: list[K]) -> None:
    UPS.mock_token()
    route = respx.get(TRACK).mock(return_value=httpx.Response(http, json=fixture("ups", name)))
    result = (await UPS.carrier().fetch([NUMBER]))[NUMBER]
    assert route.calls.last.request.headers["transactionSrc"] == "tracking-monitor"
    if isinstance(expected, type):
        assert isinstance(result, expected) and result.number == NUMBER
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.code and e.source == "ups" for e in result.events)


@respx.mock
async def test_every_request_has_its_own_trans_id() -> None:
    UPS.mock_token()
    route = respx.get(TRACK).mock(return_value=httpx.Response(200, json=fixture("ups", "in_transit")))
    carrier = UPS.carrier()
    for _ in range(2):
        await carrier.fetch([NUMBER])
    ids = {call.request.headers["transId"] for call in route.calls}
    assert len(ids) == 2 and all(0 < len(i) <= 32 for i in ids)


@pytest.mark.parametrize(("name", "index", "instant"), [
    ("in_transit", -1, "2026-11-21T04:15:00+00:00"),  # gmtTime "41500" lost its leading zero
    ("customs", -1, "2026-11-20T07:13:56+00:00"),  # no GMT fields and no offset: read as UTC
    ("customs", 0, "2026-11-20T01:00:00-05:00"),  # local date/time with gmtOffset
], ids=["gmt", "bare", "offset"])
def test_activity_times(name: str, index: int, instant: str) -> None:
    assert parse(fixture("ups", name), NUMBER).events[index].time.isoformat() == instant


# (where the form was seen, gmtTime, time, the first activity's instant): the three forms UPS sends a time of day in
TIME_FORMS = [
    ("Tracking.yaml: HHMMSS", "204435", "124435", "2026-11-20T20:44:35+00:00"),
    ("Tracking.yaml's example and karrio's tests: HMMSS, leading zero dropped", "74700", "234700",
     "2026-11-20T07:47:00+00:00"),
    ("recorded real answers: HH:MM:SS", "20:04:35", "12:04:35", "2026-11-20T20:04:35+00:00"),
    ("recorded real answers, local time only: HH:MM:SS with gmtOffset", None, "12:04:35", "2026-11-20T12:04:35-05:00"),
]


@pytest.mark.parametrize(("source", "gmt_time", "local_time", "instant"), TIME_FORMS, ids=[t[0] for t in TIME_FORMS])
def test_every_form_of_a_time_of_day_is_read(source: str, gmt_time: str | None, local_time: str, instant: str) -> None:
    payload = fixture("ups", "in_transit")
    first = payload["trackResponse"]["shipment"][0]["package"][0]["activity"][0]
    first.update({"gmtDate": "20261120" if gmt_time else None, "gmtTime": gmt_time, "date": "20261120",
                  "time": local_time, "gmtOffset": "-05:00"})
    shipment = parse(payload, NUMBER)
    assert len(shipment.events) == 4  # none dropped as unreadable
    assert shipment.events[-1].time.isoformat() == instant


def test_details_kept() -> None:
    shipment = parse(fixture("ups", "in_transit"), NUMBER)
    assert shipment.estimated_delivery == date(2026, 11, 24)
    assert shipment.events[-1].location == "Louisville, KY, US"
    assert shipment.extra == {"service": "UPS Worldwide Express"}


@pytest.mark.parametrize(("http", "body", "error"), [
    (429, fixture("ups", "rate_limited"), RateLimitedError),
    (401, fixture("ups", "unauthorized"), AuthError),
    (403, {"response": {"errors": [{"code": "250003", "message": "Invalid Access License number"}]}}, AuthError),
    (200, "<html>maintenance</html>", BadPayloadError),
    (200, {"trackResponse": {"shipment": [{"package": [{"activity": [{"status": {"type": "I"}}]}]}]}},
     BadPayloadError),
], ids=["429", "401", "403", "html", "activity-without-date"])
@respx.mock
async def test_errors(http: int, body: object, error: type[Exception]) -> None:
    UPS.mock_token()
    content = body.encode() if isinstance(body, str) else None
    respx.get(TRACK).mock(return_value=httpx.Response(http, json=None if content else body, content=content,
                                                      headers={"Retry-After": "60"} if http == 429 else {}))
    try:
        result = (await UPS.carrier().fetch([NUMBER]))[NUMBER]
    except Exception as exc:  # whole-call errors are raised; the cycle spreads them over the batch
        result = exc
    assert isinstance(result, error), result
