"""The one normalized tracking vocabulary every carrier maps onto."""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

log = logging.getLogger("tracking_monitor.carriers")

# The only times a carrier can truthfully report (UTC, both ends included): tracking APIs post-date 2000, and a
# time outside is a placeholder (0001-01-01, 9999-12-31) or garbage. Such an event is dropped, never stored:
# far enough from datetime's limits that converting one to any zone cannot overflow.
EVENT_TIME_MIN = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_TIME_MAX = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
# What reading a carrier's time value raises on garbage: not a time, year 0 or 10000, an epoch past time_t.
# A missing time field (KeyError) is not among them: that answer is not of the documented shape (a renamed
# field must show as a failing source, not as histories silently emptied), so it stays that number's error.
TIME_ERRORS = (ValueError, TypeError, AttributeError, OverflowError, OSError)


class Status(StrEnum):
    """Where a shipment stands as a whole; `unknown` is the fallback for anything unmapped."""

    NOT_FOUND = "not_found"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    EXCEPTION = "exception"
    RETURNED = "returned"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """True when no further carrier news is expected, so polling can stop."""
        return self in (Status.DELIVERED, Status.RETURNED)


class EventKind(StrEnum):
    """What one tracking event means; the rules read these, never carrier codes."""

    INFO_RECEIVED = "info_received"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    EXPORTED = "exported"  # left the origin country or handed to an airline
    ARRIVED = "arrived"  # arrived in the destination country
    CUSTOMS = "customs"
    CUSTOMS_HELD = "customs_held"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    ADDRESS_PROBLEM = "address_problem"
    RETURNING = "returning"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    LOST = "lost"
    DAMAGED = "damaged"
    EXCEPTION = "exception"
    UNKNOWN = "unknown"


# Events the buyer must act on at once (domain.md: "unusual tracking event").
EXCEPTION_KINDS = frozenset(
    {
        EventKind.CUSTOMS_HELD,
        EventKind.DELIVERY_FAILED,
        EventKind.ADDRESS_PROBLEM,
        EventKind.RETURNING,
        EventKind.RETURNED,
        EventKind.CANCELLED,
        EventKind.LOST,
        EventKind.DAMAGED,
        EventKind.EXCEPTION,
    }
)


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One carrier scan, with its raw code and text kept as evidence."""

    time: datetime  # always timezone-aware
    kind: EventKind
    description: str
    location: str = ""
    code: str = ""  # the carrier's own code, kept verbatim
    source: str = ""  # carrier id that reported it
    # The key as the state stored it: a history read back from the state need not hash its events again.
    stored_key: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("TrackingEvent.time must be timezone-aware")

    @property
    def key(self) -> str:
        """Stable identity of the event, so a re-poll never stores it twice."""
        return self.stored_key or event_key(self.time, self.code, self.description, self.location)


def event_key(time: datetime, code: str, description: str, location: str) -> str:
    """TrackingEvent.key of an event with these fields."""
    raw = "\x1f".join((time.isoformat(), code, description, location))
    return hashlib.blake2s(raw.encode(), digest_size=10).hexdigest()


# What carriers write on the scan that puts a parcel at a pickup point (a counter, a relay shop, a locker), in the
# languages of the texts this project reads (en, fr, de). Used where the carrier's code alone does not say it: a
# pickup event is the buyer's cue to go and collect, never an exception.
PICKUP_TEXT = re.compile(
    r"(available|ready|waiting|held) for (pick-?up|collection)|awaiting (pick-?up|collection)"
    r"|(arrived|delivered) (at|to) (the |a )?(pick-?up|collection|access|service) point|ups access point"
    r"|parcel locker|packstation|disponible (en|au|dans|pour)|en attente de retrait|mis en instance"
    r"|zur abholung bereit|abholbereit",
    re.IGNORECASE,
)


def says_pickup(text: str) -> bool:
    """True when an event's text says the parcel waits at a pickup point for the buyer to collect."""
    return PICKUP_TEXT.search(text) is not None


@dataclass(frozen=True, slots=True)
class Handover:
    """The destination (last-mile) carrier's own number for a parcel, as a source reported it."""

    number: str
    carrier: str = ""  # that carrier as the source names it (an adapter id, a slug, a name); "" when not given


@dataclass(frozen=True, slots=True)
class Shipment:
    """A carrier's answer for one tracking number, events oldest first."""

    number: str
    carrier: str
    status: Status
    events: tuple[TrackingEvent, ...] = ()
    raw_status: str = ""
    estimated_delivery: date | None = None
    extra: dict[str, str] = field(default_factory=dict)
    handover: Handover | None = None  # the destination carrier's number, when the source reports one

    def __post_init__(self) -> None:
        # The last line of defence: an adapter drops out-of-window times as it reads them, with the raw value.
        kept = []
        for event in self.events:
            if in_window(event.time):
                kept.append(event)
            else:
                log.warning("%s %s: event dropped: time %s is outside %s..%s", self.carrier, self.number,
                            event.time.isoformat(), EVENT_TIME_MIN.year, EVENT_TIME_MAX.year)
        object.__setattr__(self, "events", tuple(sorted(kept, key=lambda e: e.time)))
        if self.estimated_delivery is not None and not in_window(self.estimated_delivery):
            log.warning("%s %s: estimated delivery dropped: %s is outside %s..%s", self.carrier, self.number,
                        self.estimated_delivery.isoformat(), EVENT_TIME_MIN.year, EVENT_TIME_MAX.year)
            object.__setattr__(self, "estimated_delivery", None)


_NUMBER = re.compile(r"[A-Z0-9-]{5,40}")


def handover(number: str, raw: Any, carrier: Any = "") -> Handover | None:
    """A Handover for a last-mile number the source reported, None when absent or the same as `number`."""
    found = re.sub(r"\s+", "", str(raw or "")).upper()
    if found == number or not _NUMBER.fullmatch(found):  # absent, or prose rather than a number
        return None
    return Handover(found, str(carrier or "").strip()[:80])


def in_window(value: date) -> bool:
    """True for an aware time (or a date) between EVENT_TIME_MIN and EVENT_TIME_MAX."""
    if not isinstance(value, datetime):
        return EVENT_TIME_MIN.date() <= value <= EVENT_TIME_MAX.date()
    try:
        # Aware comparison subtracts offsets as timedeltas: it cannot overflow, unlike astimezone() at year 1.
        return value.utcoffset() is not None and EVENT_TIME_MIN <= value <= EVENT_TIME_MAX
    except (ValueError, TypeError, OverflowError):  # a tzinfo that cannot tell its offset
        return False


Time = TypeVar("Time", bound=date)


def read_time(carrier: str, number: str, raw: Any, read: Callable[[Any], Time],
              what: str = "event") -> Time | None:
    """`read(raw)` when it gives an aware time (or a date) in the window, else None and one log line with `raw`.

    Every adapter reads its event times (and estimates) through this, so a placeholder (0001-01-01,
    9999-12-31, null, ""), an epoch past time_t or text that is no time costs that one event, never the
    number's other events nor the other numbers of the batch.
    """
    try:
        value = None if raw is None or raw == "" else read(raw)
    except TIME_ERRORS:
        value = None
    if value is not None and in_window(value):
        return value
    log.warning("%s %s: %s dropped: time %.60r is unreadable or outside %s..%s", carrier, number, what,
                raw, EVENT_TIME_MIN.year, EVENT_TIME_MAX.year)
    return None


def iso_day(text: object) -> date:
    """The day an ISO 8601 date or timestamp starts with, as written (an estimate's local day)."""
    return date.fromisoformat(str(text)[:10])


def read_estimate(carrier: str, number: str, raw: Any, read: Callable[[Any], date] = iso_day) -> date | None:
    """An estimated delivery date (ISO 8601 unless `read` says otherwise); None when absent, or as `read_time` drops."""
    return None if raw is None or raw == "" else read_time(carrier, number, raw, read, "estimated delivery")


def aware(text: object, zone: tzinfo = UTC) -> datetime:
    """An ISO 8601 timestamp from a carrier as an aware datetime; a naive one is in the carrier's documented zone."""
    value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=zone)


_OFFSET = re.compile(r"([+-]?)(\d{1,2}):?(\d{2})?")


def utc_offset(text: object) -> timezone | None:
    """A carrier's UTC offset field ("-05:00", "-7:00", "+0800", "8") as a zone, or None when absent or unreadable."""
    m = _OFFSET.fullmatch(str(text or "").strip())
    if m is None:
        return None
    sign = -1 if m[1] == "-" else 1
    try:
        return timezone(sign * timedelta(hours=int(m[2]), minutes=int(m[3] or 0)))
    except ValueError:  # "+99:00": not an offset any place on Earth has
        return None
