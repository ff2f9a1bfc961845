"""The buyer's rules as tables, with an injected clock: every finding kind before, at and after its boundary."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from carriers.model import EventKind, Status, TrackingEvent
from monitor.rules import ORDER_KINDS, Finding, History, Kind, Policy, Severity, evaluate, order_policies
from monitor.watchlist import Order, Rules

PARIS = ZoneInfo("Europe/Paris")
SEC = timedelta(seconds=1)
TRACKING = "LP00123456789CN"


def at(text: str, zone: ZoneInfo = PARIS) -> datetime:
    """A wall-clock time in `zone` as an aware instant: at("2026-06-08 00:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def utc(text: str) -> datetime:
    """A UTC instant."""
    return at(text, ZoneInfo("UTC")).astimezone(UTC)


def order(**fields: Any) -> Order:
    """An order placed on 2026-06-01 with `fields` on top."""
    return Order.model_validate({"id": "A1", "shop": "Shop", "item": "Lamp", "ordered_on": "2026-06-01", **fields})


def ev(when: datetime, kind: EventKind = EventKind.IN_TRANSIT, text: str = "In transit", where: str = "") -> TrackingEvent:
    """One tracking event."""
    return TrackingEvent(when, kind, text, where, code=kind.value, source="demo")


def hist(*events: TrackingEvent, status: Status = Status.IN_TRANSIT, **kw: Any) -> History:
    """A history from the demo carrier."""
    return History(carrier="demo", status=status, events=events, **kw)


def run(o: Order, h: History, now: datetime, zone: ZoneInfo = PARIS, lang: str = "en", **rules: Any) -> list[Finding]:
    """Evaluate with the order's effective rules ([rules] from `rules`, order overrides on top)."""
    return evaluate(o, h, now, Policy(o.rules(Rules(**rules)), zone, lang))


def of(findings: list[Finding], kind: Kind) -> list[Finding]:
    """The findings of one kind."""
    return [f for f in findings if f.kind is kind]


def kinds(findings: list[Finding]) -> set[Kind]:
    """The kinds present."""
    return {f.kind for f in findings}


def case(name: str, kind: Kind, now: datetime, fires: bool, o: Order | None = None, h: History | None = None) -> Any:
    """One boundary row."""
    return pytest.param(kind, o or order(), h or History(), now, fires, id=name)


T = order(tracking=TRACKING)
EVENT_AT = utc("2026-06-05 08:00")
EXPORT_HIST = hist(ev(EVENT_AT, EventKind.EXPORTED, "Departed from origin airport", "Shenzhen"))
UNKNOWN_HIST = hist(status=Status.NOT_FOUND, number_since=utc("2026-06-03 10:00"))
PROT = order(protection_ends="2026-07-20")
PROMISED = order(promised_by="2026-06-20")
DISPUTE = order(dispute={"opened_on": "2026-07-01", "wait_until": "2026-07-10"})
REFUND = order(delivered_on="2026-07-01", refund_window="15d")
FAILING = hist(status=None, failing_since=utc("2026-06-10 06:00"), last_error="HTTP 503")
PICKUP_AT = utc("2026-06-10 08:00")  # the first pickup scan; the demo carrier publishes no hold: 7 days, an estimate
PICKUP = TrackingEvent(PICKUP_AT, EventKind.AVAILABLE_FOR_PICKUP, "Available for pick-up", "Relais Lyon 3",
                       "AvailableForPickup", "demo")
PICKUP_HIST = hist(ev(utc("2026-06-08 08:00")), PICKUP, status=Status.AVAILABLE_FOR_PICKUP)

BOUNDARIES = [
    case("missing-before", Kind.TRACKING_MISSING, at("2026-06-07 23:59:59"), False),
    case("missing-at", Kind.TRACKING_MISSING, at("2026-06-08 00:00"), True),
    case("missing-after", Kind.TRACKING_MISSING, at("2026-06-09 12:00"), True),
    case("missing-has-number", Kind.TRACKING_MISSING, at("2026-06-20 00:00"), False, T),
    case("unknown-before", Kind.TRACKING_UNKNOWN, utc("2026-06-08 09:59:59"), False, T, UNKNOWN_HIST),
    case("unknown-at", Kind.TRACKING_UNKNOWN, utc("2026-06-08 10:00"), True, T, UNKNOWN_HIST),
    case("unknown-after", Kind.TRACKING_UNKNOWN, utc("2026-06-09 10:00"), True, T, UNKNOWN_HIST),
    case("unknown-since-date-before", Kind.TRACKING_UNKNOWN, at("2026-06-07 23:59:59"), False,
         order(tracking=TRACKING, tracking_since="2026-06-03"), UNKNOWN_HIST),
    case("unknown-since-date-at", Kind.TRACKING_UNKNOWN, at("2026-06-08 00:00"), True,
         order(tracking=TRACKING, tracking_since="2026-06-03"), UNKNOWN_HIST),
    case("unknown-has-events", Kind.TRACKING_UNKNOWN, utc("2026-06-20 00:00"), False, T,
         hist(ev(EVENT_AT), status=Status.NOT_FOUND, number_since=utc("2026-06-03 10:00"))),
    case("stalled-before", Kind.STALLED, EVENT_AT + timedelta(days=7) - SEC, False, T, hist(ev(EVENT_AT))),
    case("stalled-at", Kind.STALLED, EVENT_AT + timedelta(days=7), True, T, hist(ev(EVENT_AT))),
    case("stalled-after", Kind.STALLED, EVENT_AT + timedelta(days=8), True, T, hist(ev(EVENT_AT))),
    case("dark-before", Kind.DARK_AFTER_EXPORT, EVENT_AT + timedelta(days=3) - SEC, False, T, EXPORT_HIST),
    case("dark-at", Kind.DARK_AFTER_EXPORT, EVENT_AT + timedelta(days=3), True, T, EXPORT_HIST),
    case("dark-after", Kind.DARK_AFTER_EXPORT, EVENT_AT + timedelta(days=4), True, T, EXPORT_HIST),
    case("dark-not-exported", Kind.DARK_AFTER_EXPORT, EVENT_AT + timedelta(days=4), False, T, hist(ev(EVENT_AT))),
    case("exported-stall-before", Kind.STALLED, EVENT_AT + timedelta(days=20) - SEC, False, T, EXPORT_HIST),
    case("exported-stall-at", Kind.STALLED, EVENT_AT + timedelta(days=20), True, T, EXPORT_HIST),
    case("promised-day-itself", Kind.PROMISED_PASSED, at("2026-06-20 23:59:59"), False, PROMISED),
    case("promised-grace-before", Kind.PROMISED_PASSED, at("2026-06-21 23:59:59"), False, PROMISED),
    case("promised-at", Kind.PROMISED_PASSED, at("2026-06-22 00:00"), True, PROMISED),
    case("promised-after", Kind.PROMISED_PASSED, at("2026-06-23 00:00"), True, PROMISED),
    case("ended-before", Kind.PROTECTION_ENDED, at("2026-07-19 23:59:59"), False, PROT),
    case("ended-at", Kind.PROTECTION_ENDED, at("2026-07-20 00:00"), True, PROT),
    case("ended-after", Kind.PROTECTION_ENDED, at("2026-07-21 00:00"), True, PROT),
    case("dispute-before", Kind.DISPUTE_FOLLOWUP, at("2026-07-09 23:59:59"), False, DISPUTE),
    case("dispute-at", Kind.DISPUTE_FOLLOWUP, at("2026-07-10 00:00"), True, DISPUTE),
    case("dispute-day-after", Kind.DISPUTE_FOLLOWUP, at("2026-07-11 00:00"), True, DISPUTE),
    case("long-wait-before", Kind.LONG_WAIT, at("2026-07-20 23:59:59"), False),
    case("long-wait-at", Kind.LONG_WAIT, at("2026-07-21 00:00"), True),
    case("long-wait-after", Kind.LONG_WAIT, at("2026-07-22 00:00"), True),
    case("failing-before", Kind.SOURCE_FAILING, utc("2026-06-11 05:59:59"), False, T, FAILING),
    case("failing-at", Kind.SOURCE_FAILING, utc("2026-06-11 06:00"), True, T, FAILING),
    case("failing-after", Kind.SOURCE_FAILING, utc("2026-06-12 06:00"), True, T, FAILING),
    case("refund-before", Kind.REFUND_WINDOW_ENDING, at("2026-07-12 23:59:59"), False, REFUND),
    case("refund-at", Kind.REFUND_WINDOW_ENDING, at("2026-07-13 00:00"), True, REFUND),
    case("refund-last-second", Kind.REFUND_WINDOW_ENDING, at("2026-07-15 23:59:59"), True, REFUND),
    case("refund-closed", Kind.REFUND_WINDOW_ENDING, at("2026-07-16 00:00"), False, REFUND),
    case("refund-no-window", Kind.REFUND_WINDOW_ENDING, at("2026-07-14 00:00"), False, order(delivered_on="2026-07-01")),
    case("pickup-not-yet", Kind.PICKUP_WAITING, PICKUP_AT, False, T, hist(*PICKUP_HIST.events[:1])),
    case("pickup-at", Kind.PICKUP_WAITING, PICKUP_AT, True, T, PICKUP_HIST),
    case("pickup-after-hold", Kind.PICKUP_WAITING, PICKUP_AT + timedelta(days=30), True, T, PICKUP_HIST),
]


@pytest.mark.parametrize(("kind", "o", "h", "now", "fires"), BOUNDARIES)
def test_boundary(kind: Kind, o: Order, h: History, now: datetime, fires: bool) -> None:
    """Each kind is silent just before its instant and fires at it and after."""
    assert (kind in kinds(run(o, h, now))) is fires


# ---------------------------------------------------------------- buyer protection steps

STEPS = [  # protection_ends 2026-07-20 in Paris; steps 7d, 3d, 1d at local midnight
    ("2026-07-12 23:59:59", None, None, ""),
    ("2026-07-13 00:00", "7d", Severity.WARNING, "ends in 7 days"),
    ("2026-07-16 23:59:59", "7d", Severity.WARNING, "ends in 4 days"),
    ("2026-07-17 00:00", "3d", Severity.URGENT, "ends in 3 days"),
    ("2026-07-18 23:59:59", "3d", Severity.URGENT, "ends in 2 days"),
    ("2026-07-19 00:00", "1d", Severity.URGENT, "ends in 1 day"),
    ("2026-07-19 23:00", "1d", Severity.URGENT, "ends in 1 hour"),
    ("2026-07-20 00:00", "ended", Severity.URGENT, "has ended"),
    ("2026-08-20 00:00", "ended", Severity.URGENT, "has ended"),
]


@pytest.mark.parametrize(("local", "step", "severity", "title"), STEPS)
def test_protection_only_latest_step_fires(local: str, step: str | None, severity: Severity | None, title: str) -> None:
    """One protection finding at a time: the latest step reached, urgent within 3 days, then 'ended'."""
    found = [f for f in run(PROT, History(), at(local)) if f.kind in (Kind.PROTECTION_ENDING, Kind.PROTECTION_ENDED)]
    if step is None:
        assert found == []
        return
    (f,) = found
    assert f.kind is (Kind.PROTECTION_ENDED if step == "ended" else Kind.PROTECTION_ENDING)
    assert step == "ended" or f.key.endswith(f":{step}")
    assert (f.severity, f.due) == (severity, at("2026-07-20 00:00"))
    assert title in f.title and "20 Jul 2026" in f.message
    assert "Warned" not in f.message  # no holiday in July: no explanation


def test_protection_late_order_gets_one_alert() -> None:
    """An order added two days before the deadline gets the 3-day alert only, not three at once."""
    (f,) = of(run(PROT, History(), at("2026-07-18 09:00")), Kind.PROTECTION_ENDING)
    assert f.key.endswith(":3d")


# ---------------------------------------------------------------- exceptions

CUSTOMS = ev(utc("2026-06-10 08:00"), EventKind.CUSTOMS_HELD, "Held by customs", "Roissy")
MOVED = ev(utc("2026-06-11 08:00"), EventKind.IN_TRANSIT, "Released by customs")
EXC = [
    ("not-yet-scanned", (ev(utc("2026-06-09 08:00")),), utc("2026-06-10 07:59:59"), 0),
    ("at-event", (CUSTOMS,), CUSTOMS.time, 1),
    ("last-event-stays", (CUSTOMS,), CUSTOMS.time + timedelta(days=30), 1),
    ("superseded-recent", (CUSTOMS, MOVED), CUSTOMS.time + timedelta(days=7), 1),
    ("superseded-old", (CUSTOMS, MOVED), CUSTOMS.time + timedelta(days=7) + SEC, 0),
    ("one-per-event", (CUSTOMS, ev(utc("2026-06-10 09:00"), EventKind.ADDRESS_PROBLEM, "Bad address")),
     utc("2026-06-10 10:00"), 2),
]


@pytest.mark.parametrize(("events", "now", "count"), [pytest.param(e, n, c, id=i) for i, e, n, c in EXC])
def test_exception_events(events: tuple[TrackingEvent, ...], now: datetime, count: int) -> None:
    """One urgent finding per unusual event; an old customs hold the parcel has moved past is dropped."""
    found = of(run(T, hist(*events), now), Kind.EXCEPTION)
    assert len(found) == count and len({f.key for f in found}) == count
    assert all(f.severity is Severity.URGENT for f in found)


def test_each_exception_tells_its_own_event() -> None:
    """Texts are rendered when first read, after the rules ran: each finding still names its own event."""
    address = ev(utc("2026-06-10 09:00"), EventKind.ADDRESS_PROBLEM, "Bad address", "Lyon")
    customs, problem = of(run(T, hist(CUSTOMS, address), utc("2026-06-10 12:00")), Kind.EXCEPTION)
    assert "held in customs" in customs.title and "Held by customs" in customs.message and "Roissy" in customs.message
    assert "address problem" in problem.title and "Bad address" in problem.message and "Lyon" in problem.message
    assert customs.as_json()["message"] == customs.message  # read twice, rendered once, the same text


@pytest.mark.parametrize(
    ("kind", "stays"),
    [(EventKind.RETURNED, True), (EventKind.RETURNING, True), (EventKind.CANCELLED, True), (EventKind.LOST, True),
     (EventKind.DAMAGED, True), (EventKind.CUSTOMS_HELD, False), (EventKind.DELIVERY_FAILED, False),
     (EventKind.ADDRESS_PROBLEM, False), (EventKind.EXCEPTION, False)],
)
def test_exception_stickiness(kind: EventKind, stays: bool) -> None:
    """Returned/cancelled/lost/damaged stay relevant a month later; transient ones followed by news do not."""
    events = (ev(utc("2026-06-10 08:00"), kind, "Something happened"), ev(utc("2026-06-12 08:00")))
    assert bool(of(run(T, hist(*events), utc("2026-07-10 08:00")), Kind.EXCEPTION)) is stays


@pytest.mark.parametrize(
    ("kind", "before_delivery", "reported"),
    [(EventKind.DELIVERY_FAILED, True, False), (EventKind.CUSTOMS_HELD, True, False),
     (EventKind.DAMAGED, True, True), (EventKind.DAMAGED, False, True), (EventKind.DELIVERY_FAILED, False, True)],
)
def test_exception_and_delivery(kind: EventKind, before_delivery: bool, reported: bool) -> None:
    """A failed attempt before delivery is no news; a 'damaged' scan stays relevant once the parcel is in hand."""
    delivered = ev(utc("2026-07-02 10:00"), EventKind.DELIVERED, "Delivered")
    hitch = ev(delivered.time + timedelta(hours=-26 if before_delivery else 2), kind, "Hitch")
    events = (hitch, delivered) if before_delivery else (delivered, hitch)
    found = of(run(T, hist(*events, status=Status.DELIVERED), utc("2026-07-02 13:00")), Kind.EXCEPTION)
    assert bool(found) is reported


# ---------------------------------------------------------------- delivered

DELIVERED_EV = ev(utc("2026-07-01 09:30"), EventKind.DELIVERED, "Delivered to mailbox", "Lyon")
OUT_EV = ev(utc("2026-07-01 06:00"), EventKind.OUT_FOR_DELIVERY, "Out for delivery")
DELIVERY = [
    ("event-before", T, hist(OUT_EV), DELIVERED_EV.time - SEC, False),
    ("event-at", T, hist(OUT_EV, DELIVERED_EV, status=Status.DELIVERED), DELIVERED_EV.time, True),
    ("event-status-lags", T, hist(OUT_EV, DELIVERED_EV), DELIVERED_EV.time + timedelta(hours=1), True),
    ("status-only", T, hist(OUT_EV, status=Status.DELIVERED), DELIVERED_EV.time, True),
    ("event-14d", T, hist(OUT_EV, DELIVERED_EV), DELIVERED_EV.time + timedelta(days=14), True),
    ("event-long-past", T, hist(OUT_EV, DELIVERED_EV), DELIVERED_EV.time + timedelta(days=14) + SEC, False),
    ("date-at", order(delivered_on="2026-07-01"), History(), at("2026-07-01 00:00"), True),
    ("date-day-after", order(delivered_on="2026-07-01"), History(), at("2026-07-02 00:00"), True),
    ("date-14d", order(delivered_on="2026-07-01"), History(), at("2026-07-15 00:00"), True),
    ("date-long-past", order(delivered_on="2026-07-01"), History(), at("2026-07-15 00:00:01"), False),
    ("window-keeps-it", REFUND, History(), at("2026-07-16 00:00"), True),
    ("window-over", REFUND, History(), at("2026-07-16 00:00:01"), False),
]


@pytest.mark.parametrize(("o", "h", "now", "fires"), [pytest.param(*r[1:], id=r[0]) for r in DELIVERY])
def test_delivered(o: Order, h: History, now: datetime, fires: bool) -> None:
    """Delivery (from delivered_on or a DELIVERED scan) says 'inspect it' until it is long past."""
    found = of(run(o, h, now), Kind.DELIVERED)
    assert len(found) == int(fires)
    if fires:
        assert found[0].severity is Severity.INFO and "1 Jul 2026" in found[0].message


def test_delivered_mentions_refund_deadline() -> None:
    """With a refund window the delivered message gives the last day for a refund."""
    (f,) = of(run(REFUND, History(), at("2026-07-02 10:00")), Kind.DELIVERED)
    assert "16 Jul 2026" in f.message and f.due == at("2026-07-16 00:00")


NOT_RECEIVED = {Kind.TRACKING_MISSING, Kind.TRACKING_UNKNOWN, Kind.STALLED, Kind.DARK_AFTER_EXPORT,
                Kind.PROMISED_PASSED, Kind.PROTECTION_ENDING, Kind.PROTECTION_ENDED, Kind.LONG_WAIT,
                Kind.DISPUTE_FOLLOWUP, Kind.SOURCE_FAILING}
OVERDUE = {"ordered_on": "2026-01-05", "promised_by": "2026-02-01", "protection_ends": "2026-03-01",
           "dispute": {"opened_on": "2026-02-20", "wait_until": "2026-02-25"}}
OLD_EXPORT = ev(utc("2026-01-20 08:00"), EventKind.EXPORTED, "Departed")
OLD_FAILING = {"failing_since": utc("2026-02-01 00:00"), "last_error": "timeout"}


@pytest.mark.parametrize(("now", "not_now"), [(at("2026-02-25 12:00"), Kind.PROTECTION_ENDED),
                                              (at("2026-03-01 12:00"), Kind.PROTECTION_ENDING)])
@pytest.mark.parametrize(
    ("fields", "scans"),
    [
        pytest.param({}, (), id="open"),
        pytest.param({"delivered_on": "2026-02-20"}, (), id="date"),
        pytest.param({}, (ev(utc("2026-02-20 10:00"), EventKind.DELIVERED, "Delivered"),), id="scan"),
    ],
)
def test_delivered_silences_not_received(
    fields: dict[str, Any], scans: tuple[TrackingEvent, ...], now: datetime, not_now: Kind
) -> None:
    """Once received, no 'not received' alert fires even when every one of their triggers holds."""
    with_number = Order.model_validate({"id": "B2", "tracking": TRACKING, **OVERDUE, **fields})
    found = kinds(run(with_number, hist(OLD_EXPORT, *scans, **OLD_FAILING), now))
    if not scans:  # a parcel with no number at all can only be marked delivered by hand
        found |= kinds(run(Order.model_validate({"id": "B3", **OVERDUE, **fields}), History(), now))
    if fields or scans:
        assert found & NOT_RECEIVED == set() and Kind.DELIVERED in found
    else:  # the control: the same order, not delivered, gets all of them
        assert found >= NOT_RECEIVED - {Kind.TRACKING_UNKNOWN, not_now}


@pytest.mark.parametrize(
    ("status", "last", "stalls"),
    [(Status.DELIVERED, EventKind.DELIVERED, False), (Status.RETURNED, EventKind.RETURNED, False),
     (Status.RETURNED, EventKind.IN_TRANSIT, False), (Status.EXCEPTION, EventKind.IN_TRANSIT, True),
     (Status.EXPIRED, EventKind.IN_TRANSIT, True), (Status.IN_TRANSIT, EventKind.ARRIVED, True)],
)
def test_final_shipments_never_stall(status: Status, last: EventKind, stalls: bool) -> None:
    """Delivered or returned parcels do not 'stall', however old their last scan."""
    h = hist(ev(utc("2026-06-05 08:00"), last, "Last scan"), status=status)
    assert (Kind.STALLED in kinds(run(T, h, utc("2026-07-05 08:00")))) is stalls


# ---------------------------------------------------------------- time zones and DST


@pytest.mark.parametrize(
    ("o", "now", "zone", "kind", "fires"),
    [
        (PROT, utc("2026-07-19 22:30"), "Europe/Paris", Kind.PROTECTION_ENDED, True),
        (PROT, utc("2026-07-19 22:30"), "Asia/Shanghai", Kind.PROTECTION_ENDED, True),
        (PROT, utc("2026-07-19 22:30"), "UTC", Kind.PROTECTION_ENDED, False),
        (PROT, utc("2026-07-19 22:30"), "America/New_York", Kind.PROTECTION_ENDED, False),
        (PROT, utc("2026-07-19 22:30"), "America/New_York", Kind.PROTECTION_ENDING, True),
        (PROMISED, utc("2026-06-21 22:30"), "Europe/Paris", Kind.PROMISED_PASSED, True),
        (PROMISED, utc("2026-06-21 22:30"), "America/New_York", Kind.PROMISED_PASSED, False),
        (order(), utc("2026-06-07 16:30"), "Asia/Shanghai", Kind.TRACKING_MISSING, True),
        (order(), utc("2026-06-07 16:30"), "Europe/Paris", Kind.TRACKING_MISSING, False),
        (DISPUTE, utc("2026-07-09 22:30"), "Europe/Paris", Kind.DISPUTE_FOLLOWUP, True),
        (DISPUTE, utc("2026-07-09 22:30"), "Europe/London", Kind.DISPUTE_FOLLOWUP, False),
    ],
)
def test_zone_decides_dates(o: Order, now: datetime, zone: str, kind: Kind, fires: bool) -> None:
    """The same instant is already 'the day' in one [monitor].timezone and not yet in another."""
    assert (kind in kinds(run(o, History(), now, ZoneInfo(zone)))) is fires


DST = [  # (protection_ends, UTC instant, expected protection key suffix or "ended")
    ("2026-10-26", "2026-10-18 21:59:59", None),
    ("2026-10-26", "2026-10-18 22:00", "7d"),  # 19 Oct 00:00 CEST
    ("2026-10-26", "2026-10-22 21:59:59", "7d"),
    ("2026-10-26", "2026-10-22 22:00", "3d"),  # 23 Oct 00:00 CEST
    ("2026-10-26", "2026-10-24 21:59:59", "3d"),
    ("2026-10-26", "2026-10-24 22:00", "1d"),  # 25 Oct 00:00 CEST, the DST day itself
    ("2026-10-26", "2026-10-25 22:59:59", "1d"),
    ("2026-10-26", "2026-10-25 23:00", "ended"),  # 26 Oct 00:00 CET
    ("2027-03-29", "2027-03-21 22:59:59", None),
    ("2027-03-29", "2027-03-21 23:00", "7d"),  # 22 Mar 00:00 CET
    ("2027-03-29", "2027-03-25 22:59:59", "7d"),
    ("2027-03-29", "2027-03-25 23:00", "3d"),  # 26 Mar 00:00 CET
    ("2027-03-29", "2027-03-27 22:59:59", "3d"),
    ("2027-03-29", "2027-03-27 23:00", "1d"),  # 28 Mar 00:00 CET, the DST day itself
    ("2027-03-29", "2027-03-28 21:59:59", "1d"),
    ("2027-03-29", "2027-03-28 22:00", "ended"),  # 29 Mar 00:00 CEST
]


@pytest.mark.parametrize(("ends", "instant", "step"), DST)
def test_dst_steps_at_local_midnight(ends: str, instant: str, step: str | None) -> None:
    """Across a DST change every step still fires at local midnight in Paris, not an hour off."""
    found = [f for f in run(order(protection_ends=ends), History(), utc(instant))
             if f.kind in (Kind.PROTECTION_ENDING, Kind.PROTECTION_ENDED)]
    assert [("ended" if f.kind is Kind.PROTECTION_ENDED else f.key.rsplit(":", 1)[1]) for f in found] == (
        [step] if step else [])


@pytest.mark.parametrize(("ends", "instant"), [("2026-10-26", "2026-10-22 22:00"), ("2027-03-29", "2027-03-25 23:00")])
def test_dst_three_day_step_is_urgent(ends: str, instant: str) -> None:
    """The '3 days left' alert is urgent even when the clocks change inside those 3 days."""
    (f,) = of(run(order(protection_ends=ends), History(), utc(instant)), Kind.PROTECTION_ENDING)
    assert "ends in 3 days" in f.title
    assert f.severity is Severity.URGENT


def test_dst_promised_grace() -> None:
    """Promised 24 Oct 2026 + 1 day grace: late from 26 Oct 00:00 CET, after the clocks went back."""
    o = order(promised_by="2026-10-24")
    assert Kind.PROMISED_PASSED not in kinds(run(o, History(), utc("2026-10-25 22:59:59")))
    assert Kind.PROMISED_PASSED in kinds(run(o, History(), utc("2026-10-25 23:00")))


# ---------------------------------------------------------------- Chinese holidays

GOLDEN = order(protection_ends="2026-10-05")  # inside National Day golden week, 1-7 Oct 2026
HOLIDAY_STEPS = [  # step, local instant it fires at (deadline - step - holiday days in [warn, deadline)), days moved
    ("7d", "2026-09-24 00:00", "previous", 4),
    ("3d", "2026-09-29 00:00", "7d", 3),
    ("1d", "2026-10-03 00:00", "3d", 1),
]
HOLIDAY_TEXT = {
    "en": "Warned {n} day{s} early: National Day (1 Oct 2026 to 7 Oct 2026)",
    "fr": "Alerte avancée de {n} jour{s} : fête nationale (semaine dorée) (du 1 oct. 2026 au 7 oct. 2026)",
}


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize(("step", "local", "before", "shift"), HOLIDAY_STEPS)
def test_holiday_moves_steps_earlier(step: str, local: str, before: str, shift: int, lang: str) -> None:
    """A deadline in golden week warns earlier by the holiday days, and says why in the buyer's language."""
    just_before = of(run(GOLDEN, History(), at(local) - SEC, lang=lang), Kind.PROTECTION_ENDING)
    assert [f.key.rsplit(":", 1)[1] for f in just_before] == ([] if before == "previous" else [before])
    (f,) = of(run(GOLDEN, History(), at(local), lang=lang), Kind.PROTECTION_ENDING)
    assert f.key.endswith(f":{step}")
    assert HOLIDAY_TEXT[lang].format(n=shift, s="" if shift == 1 else "s") in f.message


def test_holiday_note_names_every_holiday_counted() -> None:
    """When two holidays move a warning (Mid-Autumn 25 Sep and golden week), the note names both."""
    (f,) = of(run(order(protection_ends="2026-10-02"), History(), at("2026-09-23 00:00")), Kind.PROTECTION_ENDING)
    assert f.key.endswith(":7d") and "Warned 2 days early" in f.message
    assert "Mid-Autumn Festival" in f.message and "National Day" in f.message


def test_holiday_shift_can_be_turned_off() -> None:
    """With holiday_shift = false the 7-day step fires at exactly 7 days and explains nothing."""
    o = order(protection_ends="2026-10-05", holiday_shift=False)
    assert of(run(o, History(), at("2026-09-27 23:59:59")), Kind.PROTECTION_ENDING) == []
    (f,) = of(run(o, History(), at("2026-09-28 00:00")), Kind.PROTECTION_ENDING)
    assert f.key.endswith(":7d") and "Warned" not in f.message


def test_holiday_moves_refund_warning() -> None:
    """A refund window closing on 5 Oct 2026 warns 3 holiday days earlier than the plain 3 days."""
    o = order(delivered_on="2026-09-20", refund_window="15d")
    assert Kind.REFUND_WINDOW_ENDING not in kinds(run(o, History(), at("2026-09-28 23:59:59")))
    (f,) = of(run(o, History(), at("2026-09-29 00:00")), Kind.REFUND_WINDOW_ENDING)
    assert "Warned 3 days early: National Day" in f.message


# ---------------------------------------------------------------- per-order overrides


@pytest.mark.parametrize(
    ("override", "h", "fires_at", "kind"),
    [
        ({"stalled_after": "3d"}, hist(ev(EVENT_AT)), EVENT_AT + timedelta(days=3), Kind.STALLED),
        ({"tracking_missing_after": "2d"}, History(), at("2026-06-03 00:00"), Kind.TRACKING_MISSING),
        ({"long_wait_after": "30d"}, History(), at("2026-07-01 00:00"), Kind.LONG_WAIT),
        ({"promised_grace": "0d", "promised_by": "2026-06-20"}, History(), at("2026-06-21 00:00"),
         Kind.PROMISED_PASSED),
        ({"protection_warn": ["10d"], "protection_ends": "2026-07-20"}, History(), at("2026-07-10 00:00"),
         Kind.PROTECTION_ENDING),
        ({"source_failing_after": "6h"}, FAILING, utc("2026-06-10 12:00"), Kind.SOURCE_FAILING),
    ],
)
def test_order_overrides(override: dict[str, Any], h: History, fires_at: datetime, kind: Kind) -> None:
    """An order's own rule replaces [rules] for that order only; other orders keep the defaults."""
    o = order(tracking=TRACKING if h.events or h.failing_since else None, **override)
    assert kind not in kinds(run(o, h, fires_at - SEC))
    assert kind in kinds(run(o, h, fires_at))
    plain = order(**{k: v for k, v in override.items() if k in ("promised_by", "protection_ends")},
                  tracking=o.tracking)
    assert kind not in kinds(run(plain, h, fires_at))


def test_base_rules_apply_without_override() -> None:
    """[rules] from the watchlist reach every order that does not override them."""
    assert Kind.STALLED in kinds(run(T, hist(ev(EVENT_AT)), EVENT_AT + timedelta(days=2), stalled_after="2d"))
    o = order(tracking=TRACKING, stalled_after="9d")
    assert Kind.STALLED not in kinds(run(o, hist(ev(EVENT_AT)), EVENT_AT + timedelta(days=2), stalled_after="2d"))


def test_order_policies_share_the_base_and_apply_overrides() -> None:
    """Worked out once per load: orders with no override share one Policy; an override gets its own rules."""
    base = Rules(stalled_after="2d", long_wait_after="40d")
    (_, plain), (_, other), (_, own) = order_policies(
        [order(id="P"), order(id="Q"), order(id="R", stalled_after="9d")], base, PARIS, "fr")
    assert plain is other and plain == Policy(base, PARIS, "fr", rows=())
    assert own.rules.stalled_after == timedelta(days=9) and own.rules.long_wait_after == timedelta(days=40)
    assert (own.zone, own.language) == (PARIS, "fr")


# ---------------------------------------------------------------- every kind: texts and dedupe keys

SCENARIOS: dict[Kind, tuple[Order, History, datetime, datetime, Severity]] = {
    Kind.TRACKING_MISSING: (order(), History(), at("2026-06-10 09:00"), at("2026-06-20 09:00"), Severity.WARNING),
    Kind.TRACKING_UNKNOWN: (T, UNKNOWN_HIST, at("2026-06-10 09:00"), at("2026-06-20 09:00"), Severity.WARNING),
    Kind.STALLED: (T, hist(ev(EVENT_AT, where="Lyon")), at("2026-06-15 09:00"), at("2026-06-20 09:00"),
                   Severity.WARNING),
    Kind.DARK_AFTER_EXPORT: (order(tracking=TRACKING, promised_by="2026-06-30", protection_ends="2026-07-20"),
                             EXPORT_HIST, at("2026-06-09 09:00"), at("2026-06-12 09:00"), Severity.INFO),
    Kind.PROMISED_PASSED: (order(promised_by="2026-06-20", protection_ends="2026-07-20"), History(),
                           at("2026-06-25 09:00"), at("2026-06-30 09:00"), Severity.WARNING),
    Kind.PROTECTION_ENDING: (GOLDEN, History(), at("2026-09-24 12:00"), at("2026-09-26 12:00"), Severity.WARNING),
    Kind.PROTECTION_ENDED: (PROT, History(), at("2026-07-21 09:00"), at("2026-08-01 09:00"), Severity.URGENT),
    Kind.EXCEPTION: (T, hist(CUSTOMS), utc("2026-06-10 12:00"), utc("2026-06-12 12:00"), Severity.URGENT),
    Kind.DELIVERED: (REFUND, History(), at("2026-07-02 09:00"), at("2026-07-05 09:00"), Severity.INFO),
    Kind.REFUND_WINDOW_ENDING: (REFUND, History(), at("2026-07-13 09:00"), at("2026-07-15 09:00"), Severity.WARNING),
    Kind.DISPUTE_FOLLOWUP: (DISPUTE, History(), at("2026-07-10 08:00"), at("2026-07-10 20:00"), Severity.URGENT),
    Kind.LONG_WAIT: (order(), History(), at("2026-07-25 09:00"), at("2026-08-10 09:00"), Severity.WARNING),
    Kind.SOURCE_FAILING: (T, FAILING, utc("2026-06-12 09:00"), utc("2026-06-15 09:00"), Severity.WARNING),
    Kind.PICKUP_WAITING: (T, PICKUP_HIST, utc("2026-06-11 09:00"), utc("2026-06-14 09:00"), Severity.WARNING),
}
PLACEHOLDER = re.compile(r"\{\w*\}")


def test_scenarios_cover_every_kind() -> None:
    """The render and dedupe tables below cover every finding kind there is."""
    assert set(SCENARIOS) == set(ORDER_KINDS)


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_every_kind_renders(kind: Kind, lang: str) -> None:
    """Title, message and action are filled in, in English and French, with no '{placeholder}' left."""
    o, h, now, _, severity = SCENARIOS[kind]
    (f,) = of(run(o, h, now, lang=lang), kind)
    assert f.severity is severity and f.order_id == "A1"
    for text in (f.title, f.message, f.action):
        assert text.strip() and not PLACEHOLDER.search(text), text
    assert "(Shop · Lamp)" in f.title
    (en,) = of(run(o, h, now, lang="en"), kind)
    assert lang == "en" or (f.title, f.action) != (en.title, en.action)


@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_same_episode_same_key(kind: Kind) -> None:
    """Two evaluations of one episode at different times give the same key, so it is sent once."""
    o, h, now, later, _ = SCENARIOS[kind]
    first, second = of(run(o, h, now), kind), of(run(o, h, later), kind)
    assert [f.key for f in first] == [f.key for f in second] and first
    assert first[0].key.startswith(f"A1:{kind.value}")


def test_new_event_new_stalled_key() -> None:
    """A fresh scan ends the stall episode: the next stall has a new key."""
    later = ev(utc("2026-06-14 08:00"), text="Arrived at hub")
    (a,) = of(run(T, hist(ev(EVENT_AT)), utc("2026-06-13 08:00")), Kind.STALLED)
    assert of(run(T, hist(ev(EVENT_AT), later), utc("2026-06-14 09:00")), Kind.STALLED) == []
    (b,) = of(run(T, hist(ev(EVENT_AT), later), utc("2026-06-21 08:00")), Kind.STALLED)
    assert a.key != b.key


def test_exception_key_survives_later_events() -> None:
    """A customs hold keeps its key when newer scans arrive, so it is not sent again."""
    (a,) = of(run(T, hist(CUSTOMS), utc("2026-06-10 12:00")), Kind.EXCEPTION)
    (b,) = of(run(T, hist(CUSTOMS, MOVED), utc("2026-06-12 12:00")), Kind.EXCEPTION)
    assert a.key == b.key


@pytest.mark.parametrize(
    ("now", "kind"),
    [(at("2026-07-13 09:00"), Kind.PROTECTION_ENDING), (at("2026-07-19 09:00"), Kind.PROTECTION_ENDING),
     (at("2026-07-21 09:00"), Kind.PROTECTION_ENDED)],
)
def test_extended_protection_new_keys(now: datetime, kind: Kind) -> None:
    """When the seller extends protection, the steps for the new date are new alerts."""
    extended = order(protection_ends="2026-07-30")
    (old,) = of(run(PROT, History(), now), kind)
    later = now + (extended.protection_ends - PROT.protection_ends)
    (new,) = of(run(extended, History(), later), kind)
    assert old.key != new.key and old.key.split(":")[-1] == new.key.split(":")[-1]
    assert old.key not in {f.key for f in run(extended, History(), now)}  # the new date is used at once


def test_each_step_its_own_key() -> None:
    """The 7-, 3- and 1-day warnings are three different alerts."""
    keys = {f.key for t in ("2026-07-13", "2026-07-17", "2026-07-19")
            for f in of(run(PROT, History(), at(f"{t} 09:00")), Kind.PROTECTION_ENDING)}
    assert len(keys) == 3


# ---------------------------------------------------------------- a parcel waiting at a pickup point

HOLD_END = PICKUP_AT + timedelta(days=7)
COLLECTED = ev(PICKUP_AT + timedelta(days=3), EventKind.DELIVERED, "Collected by the addressee", "Relais Lyon 3")
GOING_BACK = ev(HOLD_END + timedelta(hours=2), EventKind.RETURNING, "Not collected: returned to sender", "Lyon")
# (case, history, now, pickup_waiting's severity and stage or None, another kind that must be there or absent)
PICKUP_CASES = [
    ("first-scan", PICKUP_HIST, PICKUP_AT, (Severity.WARNING, "waiting"), None),
    ("before-last-days", PICKUP_HIST, HOLD_END - timedelta(days=2) - SEC, (Severity.WARNING, "waiting"), None),
    ("last-days", PICKUP_HIST, HOLD_END - timedelta(days=2), (Severity.URGENT, "last_days"), None),
    ("last-second", PICKUP_HIST, HOLD_END - SEC, (Severity.URGENT, "last_days"), None),
    ("hold-end", PICKUP_HIST, HOLD_END, (Severity.URGENT, "ended"), None),
    ("collected", hist(PICKUP, COLLECTED, status=Status.DELIVERED), PICKUP_AT + timedelta(days=4), None,
     (Kind.DELIVERED, True)),
    ("returned", hist(PICKUP, GOING_BACK, status=Status.EXCEPTION), HOLD_END + timedelta(days=1), None,
     (Kind.EXCEPTION, True)),
    ("returned-status", hist(PICKUP, status=Status.RETURNED), HOLD_END, None, None),
    # 17TRACK's Exception_Other next to "available for pick-up": the scan is a pickup, never an exception.
    ("pickup-under-exception-status", hist(PICKUP, status=Status.EXCEPTION), PICKUP_AT + timedelta(hours=1),
     (Severity.WARNING, "waiting"), (Kind.EXCEPTION, False)),
    ("waiting-is-no-stall", PICKUP_HIST, HOLD_END - SEC, (Severity.URGENT, "last_days"), (Kind.STALLED, False)),
    ("second-scan-keeps-the-first-hold", hist(PICKUP, ev(PICKUP_AT + timedelta(days=6), EventKind.AVAILABLE_FOR_PICKUP,
                                                         "Reminder: awaiting collection")),
     HOLD_END, (Severity.URGENT, "ended"), None),
]


@pytest.mark.parametrize(("h", "now", "expected", "other"), [c[1:] for c in PICKUP_CASES],
                         ids=[c[0] for c in PICKUP_CASES])
def test_pickup_waiting(h: History, now: datetime, expected: tuple[Severity, str] | None,
                        other: tuple[Kind, bool] | None) -> None:
    """From the first pickup scan: warning, urgent in the last 2 days and once the hold is over; silent once the
    parcel is collected (delivered) or goes back (exception)."""
    found = run(T, h, now)
    waiting = of(found, Kind.PICKUP_WAITING)
    if expected is None:
        assert waiting == []
    else:
        (f,) = waiting
        assert (f.severity, f.key.rsplit(":", 1)[1]) == expected and f.due == HOLD_END
    if other is not None:
        assert (other[0] in kinds(found)) is other[1]


@pytest.mark.parametrize(
    ("source", "base", "override", "days_held"),
    [("laposte", {}, {}, 14), ("usps", {}, {}, 15), ("ups", {}, {}, 7), ("dhl", {}, {}, 7), ("fedex", {}, {}, 5),
     ("17track", {}, {}, 7), ("laposte", {"pickup_hold": "10d"}, {}, 10), ("laposte", {"pickup_hold": "10d"},
                                                                         {"pickup_hold": "3d"}, 3)],
)
def test_pickup_hold_per_carrier_and_overrides(source: str, base: dict[str, str], override: dict[str, str],
                                               days_held: int) -> None:
    """The carrier that reported the scan sets the hold (a published figure, else 7 days); [rules] pickup_hold
    overrides it and an order's pickup_hold overrides both."""
    scan = TrackingEvent(PICKUP_AT, EventKind.AVAILABLE_FOR_PICKUP, "Ready for pickup", "Counter", "AG1", source)
    (f,) = of(run(order(tracking=TRACKING, **override), History(source, Status.AVAILABLE_FOR_PICKUP, (scan,)),
                  PICKUP_AT, **base), Kind.PICKUP_WAITING)
    assert f.due == PICKUP_AT + timedelta(days=days_held)


def test_pickup_hold_of_the_local_carrier_behind_an_aggregator() -> None:
    """17TRACK reports the scan, the handover names La Poste: La Poste's hold, and the local number is shown."""
    from carriers.model import Handover

    scan = TrackingEvent(PICKUP_AT, EventKind.AVAILABLE_FOR_PICKUP, "Disponible", "Lyon", "", "17track")
    h = History("17track", Status.AVAILABLE_FOR_PICKUP, (scan,), handover=Handover("6A12345678901", "laposte"))
    (f,) = of(run(T, h, PICKUP_AT), Kind.PICKUP_WAITING)
    assert f.due == PICKUP_AT + timedelta(days=14) and "6A12345678901" in f.action


@pytest.mark.parametrize(
    ("lang", "now", "words"),
    [("en", PICKUP_AT, ["collect it by 17 Jun 2026 at 10:00", "at Relais Lyon 3", "an estimate of 7 days",
                        "Collect it before 17 Jun 2026 at 10:00", TRACKING]),
     ("en", HOLD_END - timedelta(days=1), ["keeps it 1 day more", "It is kept until 17 Jun 2026 at 10:00"]),
     ("en", HOLD_END, ["Pickup hold over", "It was kept until", "Call the pickup point"]),
     ("fr", PICKUP_AT, ["à retirer avant le 17 juin 2026 à 10:00", "à Relais Lyon 3", "estimation de 7 jours",
                        "Retirez-le avant le 17 juin 2026 à 10:00", TRACKING]),
     ("fr", HOLD_END - timedelta(days=1), ["le garde encore 1 jour", "Il y est gardé jusqu'au 17 juin 2026"]),
     ("fr", HOLD_END, ["Délai de retrait dépassé", "Il y était gardé jusqu'au", "Appelez aujourd'hui"])],
)
def test_pickup_waiting_says_where_and_by_when(lang: str, now: datetime, words: list[str]) -> None:
    """The alert names the pickup point, the last moment to collect (in the buyer's zone) and the numbers."""
    (f,) = of(run(T, PICKUP_HIST, now, lang=lang), Kind.PICKUP_WAITING)
    text = " ".join((f.title, f.message, f.action))
    assert all(w in text for w in words), text
