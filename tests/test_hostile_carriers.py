"""Hostile carrier answers: an impossible time or an absurd wait costs its own event or number, never the batch.

Decisions these tests pin down:
- a time that is present but unusable (a null-date placeholder such as 0001-01-01 or 9999-12-31, null, "",
  "0000-00-00", text that is no time, an epoch past time_t, anything outside EVENT_TIME_MIN..EVENT_TIME_MAX)
  drops that one event (or estimate) with a log line; the number's other events and its Shipment remain;
- a time FIELD that is missing altogether is an answer not of the documented shape (a renamed field must
  show as a failing source, not as silently emptied histories): BadPayloadError for that number only;
- every wait a carrier imposes lies in [0, MAX_IMPOSED_WAIT], or is None when it cannot be read.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from carriers import aftership, cainiao, dhl, fedex, laposte, track17, ups, usps
from carriers.aftership import AfterShipCarrier, created_key
from carriers.cainiao import CainiaoCarrier
from carriers.demo import DemoCarrier
from carriers.errors import BadPayloadError, CarrierError, RateLimitedError
from carriers.http import MAX_IMPOSED_WAIT, guard, retry_after_seconds
from carriers.laposte import LaPosteCarrier
from carriers.model import EVENT_TIME_MAX, EVENT_TIME_MIN, EventKind, Shipment, Status, TrackingEvent
from carriers.track17 import QUOTA_KEY, Track17Carrier, registered_key
from tests.carrier_kit import NOW, build, fixture
from tests.oauth_kit import spec

BASE = "https://carrier.test"
DAY = MAX_IMPOSED_WAIT
YEAR_1 = "0001-01-01T00:00:00+08:00"  # the .NET/Java null-date placeholder, in a zone east of UTC
YEAR_9999 = "9999-12-31T23:59:59-05:00"  # the "no date" maximum, in a zone west of UTC
DELETE = object()  # a field removed from the event


@dataclass(frozen=True)
class Adapter:
    """One adapter's valid fixture, where its events are, and its pure parse for one number."""

    fixture: str
    number: str
    events: Callable[[Any], list[dict[str, Any]]]
    read: Callable[[Any, str], Shipment | CarrierError]

    def payload(self, carrier: str) -> Any:
        """A fresh copy of the valid fixture."""
        return fixture(carrier, self.fixture)


ADAPTERS = {
    "cainiao": Adapter("in_transit", "LP00712345678901", lambda p: p["module"][0]["detailList"],
                       lambda p, n: cainiao.parse(p, [n])[n]),
    "ups": Adapter("in_transit", "1Z999AA10123456784",
                   lambda p: p["trackResponse"]["shipment"][0]["package"][0]["activity"],
                   lambda p, n: guard("ups", n, ups.parse, p, n)),
    "usps": Adapter("in_transit", "9400111899223847190000", lambda p: p["trackingEvents"],
                    lambda p, n: guard("usps", n, usps.parse, p, n)),
    "fedex": Adapter("in_transit", "399368623212",
                     lambda p: p["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"],
                     lambda p, n: fedex.parse(p, [n])[n]),
    "dhl": Adapter("in_transit", "00340434292135100124", lambda p: p["shipments"][0]["events"],
                   lambda p, n: guard("dhl", n, dhl.parse, p, n)),
    "laposte": Adapter("in_transit", "6A18987654321", lambda p: p["shipment"]["event"],
                       lambda p, n: laposte.parse(p, [n])[n]),
    "17track": Adapter("in_transit", "RR123456785CN",
                       lambda p: p["data"]["accepted"][0]["track_info"]["tracking"]["providers"][1]["events"],
                       lambda p, n: track17.parse(p, [n], NOW)[n]),
    "aftership": Adapter("in_transit", "EE123456785CN", lambda p: p["data"]["trackings"][0]["checkpoints"],
                         lambda p, n: aftership.parse(p, [n])[n]),
}

DROPPED, KEPT = "dropped", "kept"
# (what the row models, carrier, fields set on the second event, outcome)
POISON: list[tuple[str, str, dict[str, Any], object]] = [
    ("cainiao epoch ms 1e20, past time_t", "cainiao", {"time": 10**20}, DROPPED),
    ("cainiao epoch ms 1e308 as a float", "cainiao", {"time": 1e308}, DROPPED),
    ("cainiao epoch ms -1, before 1970", "cainiao", {"time": -1}, DROPPED),
    ("cainiao epoch 0, the 1970 placeholder", "cainiao", {"time": 0}, DROPPED),
    ("cainiao time as text that is no number", "cainiao", {"time": "not a date"}, DROPPED),
    ("cainiao event without a time field (a renamed field)", "cainiao", {"time": DELETE}, BadPayloadError),
    ("ups gmtDate 00000000 placeholder", "ups", {"gmtDate": "00000000"}, DROPPED),
    ("ups gmtDate year 9999", "ups", {"gmtDate": "99991231", "gmtTime": "235959"}, DROPPED),
    ("ups local year 1 at +08:00, no GMT fields", "ups",
     {"gmtDate": DELETE, "gmtTime": DELETE, "date": "00010101", "time": "000000", "gmtOffset": "+08:00"}, DROPPED),
    ("ups local year 9999 at -05:00, no GMT fields", "ups",
     {"gmtDate": DELETE, "gmtTime": DELETE, "date": "99991231", "time": "235959", "gmtOffset": "-05:00"}, DROPPED),
    ("ups gmtDate garbage", "ups", {"gmtDate": "not a date"}, DROPPED),
    ("ups gmtOffset +99:00, no offset on Earth: local time read as UTC", "ups",
     {"gmtDate": DELETE, "gmtTime": DELETE, "gmtOffset": "+99:00"}, KEPT),
    ("usps GMTTimestamp year 1 at +08:00", "usps", {"GMTTimestamp": YEAR_1}, DROPPED),
    ("usps GMTTimestamp year 9999 at -05:00", "usps", {"GMTTimestamp": YEAR_9999}, DROPPED),
    ("usps local year 1 with GMTOffset +08:00", "usps",
     {"GMTTimestamp": DELETE, "eventTimestamp": "0001-01-01T00:00:00", "GMTOffset": "+08:00"}, DROPPED),
    ("usps SQL null date 0000-00-00", "usps", {"GMTTimestamp": None, "eventTimestamp": "0000-00-00T00:00:00"},
     DROPPED),
    ("usps GMTTimestamp garbage", "usps", {"GMTTimestamp": "not a date"}, DROPPED),
    ("fedex year 1 at +08:00", "fedex", {"date": YEAR_1}, DROPPED),
    ("fedex year 9999 at -05:00", "fedex", {"date": YEAR_9999}, DROPPED),
    ("fedex date null", "fedex", {"date": None}, DROPPED),
    ("fedex date garbage", "fedex", {"date": "not a date"}, DROPPED),
    ("dhl year 1 at +08:00", "dhl", {"timestamp": YEAR_1}, DROPPED),
    ("dhl naive year 9999, local time in DE", "dhl", {"timestamp": "9999-12-31T23:59:59"}, DROPPED),
    ("dhl empty timestamp", "dhl", {"timestamp": ""}, DROPPED),
    ("dhl timestamp garbage", "dhl", {"timestamp": "not a date"}, DROPPED),
    ("laposte year 1 at +08:00", "laposte", {"date": YEAR_1}, DROPPED),
    ("laposte year 9999 at -05:00", "laposte", {"date": YEAR_9999}, DROPPED),
    ("laposte date garbage", "laposte", {"date": "not a date"}, DROPPED),
    ("laposte event without a date field (a renamed field)", "laposte", {"date": DELETE}, BadPayloadError),
    ("17track time_iso year 1 at +08:00", "17track", {"time_iso": YEAR_1}, DROPPED),
    ("17track time_iso year 9999 at -05:00", "17track", {"time_iso": YEAR_9999}, DROPPED),
    ("17track no time_iso, time_utc garbage", "17track", {"time_iso": None, "time_utc": "not a date"}, DROPPED),
    ("17track one microsecond before the window", "17track", {"time_iso": "1999-12-31T23:59:59.999999Z"}, DROPPED),
    ("17track first instant past the window", "17track", {"time_iso": "2100-01-01T00:00:00Z"}, DROPPED),
    ("17track the window's first instant", "17track", {"time_iso": "2000-01-01T00:00:00Z"}, KEPT),
    ("laposte a year ahead: the monitor's rules judge it, not the adapter", "laposte",
     {"date": "2027-11-21T12:00:00+01:00"}, KEPT),
    ("aftership year 1 at +08:00", "aftership", {"checkpoint_time": YEAR_1}, DROPPED),
    ("aftership year 9999 at -05:00", "aftership", {"checkpoint_time": YEAR_9999}, DROPPED),
    ("aftership checkpoint_time garbage", "aftership", {"checkpoint_time": "not a date"}, DROPPED),
]


def poisoned(carrier: str, fields: dict[str, Any]) -> Any:
    """The carrier's valid fixture with `fields` set on (or removed from) its second event."""
    adapter = ADAPTERS[carrier]
    payload = adapter.payload(carrier)
    event = adapter.events(payload)[1]
    for key, value in fields.items():
        if value is DELETE:
            event.pop(key, None)
        else:
            event[key] = value
    return payload


@pytest.mark.parametrize(("what", "carrier", "fields", "outcome"), POISON, ids=[p[0] for p in POISON])
def test_a_poisoned_event_costs_only_itself(what: str, carrier: str, fields: dict[str, Any], outcome: object,
                                            caplog: pytest.LogCaptureFixture) -> None:
    adapter = ADAPTERS[carrier]
    clean = adapter.read(adapter.payload(carrier), adapter.number)
    assert isinstance(clean, Shipment) and len(clean.events) >= 3
    result = adapter.read(poisoned(carrier, fields), adapter.number)
    if outcome is BadPayloadError:
        assert isinstance(result, BadPayloadError) and result.number == adapter.number, result
        return
    assert isinstance(result, Shipment), result
    assert all(EVENT_TIME_MIN <= e.time <= EVENT_TIME_MAX for e in result.events)
    others = set(result.events) & set(clean.events)
    if outcome == DROPPED:
        assert set(result.events) < set(clean.events) and len(result.events) == len(clean.events) - 1
        assert result.status is clean.status and result.estimated_delivery == clean.estimated_delivery
        assert f"{carrier} {adapter.number}: event dropped" in caplog.text  # one line names carrier and number
    else:
        assert len(result.events) == len(clean.events) and len(others) == len(clean.events) - 1


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Any], None]:
    def apply(payload: Any) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return apply


# (what the row models, carrier, the poison): the estimate goes, the events and the Shipment stay.
ESTIMATES: list[tuple[str, str, Callable[[Any], None]]] = [
    ("cainiao ETA epoch ms 1e20", "cainiao", _set(("module", 0, "globalEtaInfo", "deliveryMaxTime"), 10**20)),
    ("ups SDD 00000000", "ups",
     _set(("trackResponse", "shipment", 0, "package", 0, "deliveryDate"), [{"type": "SDD", "date": "00000000"}])),
    ("usps expected 0000-00-00", "usps", _set(("expectedDeliveryTimeStamp",), "0000-00-00T00:00:00Z")),
    ("fedex window end year 9999", "fedex",
     _set(("output", "completeTrackResults", 0, "trackResults", 0, "estimatedDeliveryTimeWindow", "window", "ends"),
          YEAR_9999)),
    ("dhl ETA year 9999", "dhl", _set(("shipments", 0, "estimatedTimeOfDelivery"), "9999-12-31T23:59:59")),
    ("17track ETA year 1", "17track",
     _set(("data", "accepted", 0, "track_info", "time_metrics", "estimated_delivery_date", "to"), YEAR_1)),
    ("aftership ETA garbage", "aftership",
     _set(("data", "trackings", 0, "courier_estimated_delivery_date", "estimated_delivery_date"), "soon")),
]


@pytest.mark.parametrize(("what", "carrier", "poison"), ESTIMATES, ids=[e[0] for e in ESTIMATES])
def test_an_impossible_estimate_is_dropped_alone(what: str, carrier: str, poison: Callable[[Any], None]) -> None:
    adapter = ADAPTERS[carrier]
    clean = adapter.read(adapter.payload(carrier), adapter.number)
    payload = adapter.payload(carrier)
    poison(payload)
    result = adapter.read(payload, adapter.number)
    assert isinstance(result, Shipment), result
    assert result.estimated_delivery is None and result.events == clean.events  # type: ignore[union-attr]


def at(text: str) -> datetime:
    """An aware time from ISO 8601 text."""
    return datetime.fromisoformat(text)


# (what the row models, event time, kept by the Shipment constructor)
SHIPMENT_TIMES = [
    ("year 1 at +08:00: astimezone(UTC) would overflow", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8))), False),
    ("year 9999 at -05:00: astimezone(UTC) would overflow",
     datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))), False),
    ("just before the window", at("1999-12-31T23:59:59+00:00"), False),
    ("just after the window", at("2100-01-01T00:00:00+00:00"), False),
    ("the window's first instant", EVENT_TIME_MIN, True),
    ("the window's last instant, in a zone east of UTC", EVENT_TIME_MAX.astimezone(timezone(timedelta(hours=14))), True),
    ("an ordinary scan", NOW, True),
]


@pytest.mark.parametrize(("what", "time", "kept"), SHIPMENT_TIMES, ids=[s[0] for s in SHIPMENT_TIMES])
def test_the_shipment_constructor_is_the_last_line_of_defence(what: str, time: datetime, kept: bool) -> None:
    good = TrackingEvent(NOW - timedelta(days=2), EventKind.PICKED_UP, "Accepted", code="PU", source="plugin")
    event = TrackingEvent(time, EventKind.IN_TRANSIT, "Scan", code="IT", source="plugin")
    shipment = Shipment("N1", "plugin", Status.IN_TRANSIT, (event, good), estimated_delivery=date(9999, 12, 31))
    assert (event in shipment.events) is kept and good in shipment.events
    assert shipment.estimated_delivery is None  # a date in year 9999 is no estimate
    assert replace(shipment, number="N2").events == shipment.events


# (what the row models, the clock, the demo number, events left of its script)
DEMO_CLOCKS = [
    ("a clock near the window's start drops the script's 1999 events", datetime(2000, 1, 10, tzinfo=UTC),
     "DEMO-STALLED", 1),
    ("a clock in year 1 (a broken --now) drops every event instead of overflowing", datetime(1, 1, 5, tzinfo=UTC),
     "DEMO-STALLED", 0),
    ("an ordinary clock keeps the whole script", NOW, "DEMO-STALLED", 3),
]


@pytest.mark.parametrize(("what", "clock", "number", "left"), DEMO_CLOCKS, ids=[d[0] for d in DEMO_CLOCKS])
async def test_demo_times_go_through_the_window(what: str, clock: datetime, number: str, left: int) -> None:
    result = (await DemoCarrier(DemoCarrier.Settings(), clock=lambda: clock).fetch([number]))[number]
    assert isinstance(result, Shipment) and len(result.events) == left


# (what the row models, what a parse raises)
UNEXPECTED = [
    ("datetime.fromtimestamp past time_t", OverflowError("timestamp out of range for platform time_t")),
    ("datetime.fromtimestamp on a 32-bit time_t", OSError(75, "Value too large for defined data type")),
    ("a date out of range", OverflowError("date value out of range")),
    ("a shape it did not expect", KeyError("shipment")),
]


@pytest.mark.parametrize(("what", "exc"), UNEXPECTED, ids=[u[0] for u in UNEXPECTED])
def test_guard_makes_an_unreadable_answer_that_numbers_error(what: str, exc: Exception) -> None:
    def parse() -> None:
        raise exc

    error = guard("cainiao", "LP00712345678901", parse)
    assert isinstance(error, BadPayloadError)  # returned beside the batch's other results, not raised
    assert error.number == "LP00712345678901" and error.carrier == "cainiao"


GOOD, BAD = "GOOD", "BAD"


@dataclass(frozen=True)
class Batch:
    """A batch adapter as the batch test sees it."""

    items: Callable[[Any], list[dict[str, Any]]]  # the answer's per-number items
    key: str  # the item's number field
    events: Callable[[dict[str, Any]], list[dict[str, Any]]]  # an item's events
    shape: str  # an item field that, made a string, leaves that item unreadable
    method: str
    path: str


BATCH = {
    "cainiao": Batch(lambda p: p["module"], "mailNo", lambda i: i["detailList"], "detailList", "GET",
                     "/global/detail.json"),
    "17track": Batch(lambda p: p["data"]["accepted"], "number",
                     lambda i: [e for p in i["track_info"]["tracking"]["providers"] for e in p["events"]],
                     "track_info", "POST", "/gettrackinfo"),
    "aftership": Batch(lambda p: p["data"]["trackings"], "tracking_number", lambda i: i["checkpoints"], "checkpoints",
                       "GET", "/trackings"),
}
UNREADABLE = None  # the poison that makes BAD's item unreadable as a whole

# (what the row models, batch carrier, fields set on every event of BAD, what BAD gets)
BATCHES: list[tuple[str, str, dict[str, Any] | None, type]] = [
    ("cainiao: BAD's every epoch ms is 1e20", "cainiao", {"time": 10**20}, Shipment),
    ("cainiao: BAD's events are a string", "cainiao", UNREADABLE, BadPayloadError),
    ("17track: BAD's every time is year 1 at +08:00", "17track", {"time_iso": YEAR_1, "time_utc": YEAR_1}, Shipment),
    ("17track: BAD's track_info is a string", "17track", UNREADABLE, BadPayloadError),
    ("aftership: BAD's every checkpoint is year 9999", "aftership", {"checkpoint_time": YEAR_9999}, Shipment),
    ("aftership: BAD's checkpoints are a string", "aftership", UNREADABLE, BadPayloadError),
]


def two_numbers(carrier: str, fields: dict[str, Any] | None) -> tuple[Any, Shipment]:
    """A batch answer for GOOD (the clean fixture's item) and BAD (the same item, poisoned), and GOOD alone."""
    batch, adapter = BATCH[carrier], ADAPTERS[carrier]
    payload = adapter.payload(carrier)
    items = batch.items(payload)
    good = items[0]
    good[batch.key] = GOOD
    alone = adapter.read(copy.deepcopy(payload), GOOD)
    assert isinstance(alone, Shipment)
    bad = copy.deepcopy(good)
    bad[batch.key] = BAD
    if fields is UNREADABLE:
        bad[batch.shape] = "garbage"
    else:
        for event in batch.events(bad):
            event.update(fields)
    items.append(bad)
    return payload, alone


def batch_carrier(carrier: str) -> Any:
    """The adapter, GOOD and BAD already registered or created by an earlier run."""
    if carrier == "cainiao":
        return build(CainiaoCarrier, enabled=True)
    adapter = build(Track17Carrier if carrier == "17track" else AfterShipCarrier)
    key = registered_key if carrier == "17track" else created_key
    adapter.memory.update({key(n): "earlier" for n in (GOOD, BAD)})
    return adapter


@pytest.mark.parametrize(("what", "carrier", "fields", "bad_gets"), BATCHES, ids=[b[0] for b in BATCHES])
@respx.mock
async def test_one_poisoned_number_leaves_the_rest_of_the_batch_untouched(
        what: str, carrier: str, fields: dict[str, Any] | None, bad_gets: type) -> None:
    payload, alone = two_numbers(carrier, fields)
    batch = BATCH[carrier]
    respx.route(method=batch.method, url=f"{BASE}{batch.path}").mock(return_value=httpx.Response(200, json=payload))
    results = await batch_carrier(carrier).fetch([GOOD, BAD])
    assert results[GOOD] == alone  # the good number's Shipment, exactly as when asked alone
    assert isinstance(results[BAD], bad_gets), results[BAD]
    if isinstance(results[BAD], Shipment):
        assert results[BAD].events == ()  # every event was impossible: dropped, the Shipment kept


def reset_in(seconds: float) -> str:
    """An X-RateLimit-Reset Unix time `seconds` from NOW."""
    return str(int(NOW.timestamp() + seconds))


# (what the row models, headers of a 429, seconds to wait: clamped to [0, MAX_IMPOSED_WAIT], None = unreadable)
WAITS: list[tuple[str, dict[str, str | bytes], float | None]] = [
    ("Retry-After in seconds", {"Retry-After": "120"}, 120.0),
    ("Retry-After as an HTTP date 2 minutes ahead", {"Retry-After": "Sat, 21 Nov 2026 12:02:00 GMT"}, 120.0),
    ("X-RateLimit-Reset a Unix time 60 s ahead", {"X-RateLimit-Reset": reset_in(60)}, 60.0),
    ("Retry-After 20 nines", {"Retry-After": "99999999999999999999"}, DAY),
    ("Retry-After 400000000000 s (12,000 years)", {"Retry-After": "400000000000"}, DAY),
    ("Retry-After 5000 digits, past int()'s digit limit", {"Retry-After": "9" * 5000}, DAY),
    ("Retry-After 1e308, not delay-seconds", {"Retry-After": "1e308"}, None),
    ("Retry-After inf", {"Retry-After": "inf"}, None),
    ("Retry-After nan", {"Retry-After": "nan"}, None),
    ("Retry-After negative", {"Retry-After": "-5"}, None),
    ("Retry-After garbage", {"Retry-After": "soon"}, None),
    ("Retry-After superscript digits, which str.isdigit() accepts", {"Retry-After": "²³".encode("latin-1")}, None),
    ("Retry-After the HTTP date 31 Dec 9999", {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, DAY),
    ("Retry-After 31 Dec 9999 at -0500", {"Retry-After": "Fri, 31 Dec 9999 23:59:59 -0500"}, DAY),
    ("Retry-After an HTTP date in the past", {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}, 0.0),
    ("Retry-After an HTTP date whose year overflows C", {"Retry-After": "Fri, 31 Dec 99999999999999999999 23:59:59 GMT"},
     None),
    ("X-RateLimit-Reset 20 nines", {"X-RateLimit-Reset": "99999999999999999999"}, DAY),
    ("X-RateLimit-Reset 400000000000 (year 14,645)", {"X-RateLimit-Reset": "400000000000"}, DAY),
    ("X-RateLimit-Reset 1e308", {"X-RateLimit-Reset": "1e308"}, None),
    ("X-RateLimit-Reset negative", {"X-RateLimit-Reset": "-60"}, None),
    ("X-RateLimit-Reset a Unix time in the past", {"X-RateLimit-Reset": reset_in(-3600)}, 0.0),
    ("X-RateLimit-Reset a small delay", {"X-RateLimit-Reset": "30"}, 30.0),
    ("garbage Retry-After, readable X-RateLimit-Reset", {"Retry-After": "later", "X-RateLimit-Reset": reset_in(60)},
     60.0),
]


@pytest.mark.parametrize(("what", "headers", "seconds"), WAITS, ids=[w[0] for w in WAITS])
def test_retry_after_is_clamped(what: str, headers: dict[str, str | bytes], seconds: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers), NOW) == seconds


FETCHED_WAITS = [w for w in WAITS if w[0] in {
    "Retry-After in seconds", "Retry-After as an HTTP date 2 minutes ahead", "X-RateLimit-Reset a Unix time 60 s ahead",
    "Retry-After 20 nines", "Retry-After 400000000000 s (12,000 years)", "Retry-After the HTTP date 31 Dec 9999",
    "X-RateLimit-Reset 400000000000 (year 14,645)", "Retry-After garbage"}]


@pytest.mark.parametrize(("what", "headers", "seconds"), FETCHED_WAITS, ids=[w[0] for w in FETCHED_WAITS])
@respx.mock
async def test_a_429_through_an_adapter_reports_the_clamped_wait(what: str, headers: dict[str, str | bytes],
                                                                 seconds: float | None) -> None:
    respx.get(f"{BASE}/idships/6A18987654321").mock(return_value=httpx.Response(429, headers=headers))
    with pytest.raises(RateLimitedError) as caught:
        await build(LaPosteCarrier).fetch(["6A18987654321"])
    assert caught.value.retry_after == seconds


# (what the row models, retry_after given to RateLimitedError, what it keeps)
ERROR_WAITS: list[tuple[str, float | None, float | None]] = [
    ("an int too large for a float", 10**400, DAY),
    ("1e308", 1e308, DAY),
    ("infinity", float("inf"), DAY),
    ("NaN", float("nan"), None),
    ("negative", -5.0, 0.0),
    ("40 days to a monthly reset", 40 * 86400.0, DAY),
    ("two minutes", 120.0, 120.0),
    ("none given", None, None),
]


@pytest.mark.parametrize(("what", "given", "kept"), ERROR_WAITS, ids=[e[0] for e in ERROR_WAITS])
def test_every_rate_limited_error_carries_a_clamped_wait(what: str, given: float | None, kept: float | None) -> None:
    assert RateLimitedError("slow down", retry_after=given).retry_after == kept


# (what the row models, 17TRACK's stored quota_until, registration asked, the wait reported if not)
QUOTA_STATES: list[tuple[str, str, bool, float | None]] = [
    ("an hour left", (NOW + timedelta(hours=1)).isoformat(), False, 3600.0),
    ("year 9999 from an old or corrupt state", "9999-12-31T23:59:59-05:00", True, None),
    ("not a time", "not a date", True, None),
    ("a naive time", "2026-11-21T13:00:00", True, None),
    ("already past", (NOW - timedelta(hours=1)).isoformat(), True, None),
]


@pytest.mark.parametrize(("what", "stored", "asked", "wait"), QUOTA_STATES, ids=[q[0] for q in QUOTA_STATES])
@respx.mock
async def test_a_stored_17track_quota_wait_never_blocks_for_ever(what: str, stored: str, asked: bool,
                                                                  wait: float | None) -> None:
    register = respx.post(f"{BASE}/register").mock(return_value=httpx.Response(
        200, json={"code": 0, "data": {"accepted": [{"number": "RR999999995CN"}], "rejected": []}}))
    respx.post(f"{BASE}/gettrackinfo").mock(return_value=httpx.Response(200, json=fixture("17track", "not_found")))
    carrier = build(Track17Carrier)
    carrier.memory[QUOTA_KEY] = stored
    result = (await carrier.fetch(["RR999999995CN"]))["RR999999995CN"]
    assert register.called is asked
    if not asked:
        assert isinstance(result, RateLimitedError) and result.retry_after == wait


# (what the row models, the token answer's expires_in)
TOKEN_LIVES = [("1e308", "1e308"), ("infinity", "inf"), ("NaN", "nan"), ("negative", -1), ("an int past float", 10**400),
               ("garbage", "forever")]


@pytest.mark.parametrize(("what", "expires_in"), TOKEN_LIVES, ids=[t[0] for t in TOKEN_LIVES])
@respx.mock
async def test_an_absurd_token_lifetime_does_not_break_the_call(what: str, expires_in: object) -> None:
    usps_spec = spec("usps")
    usps_spec.mock_token(httpx.Response(200, content=json.dumps(
        {"access_token": "t0k3n", "expires_in": expires_in}).encode(), headers={"content-type": "application/json"}))
    usps_spec.mock_track()
    result = (await usps_spec.carrier().fetch([usps_spec.number]))[usps_spec.number]
    assert isinstance(result, Shipment) and result.status is Status.DELIVERED
