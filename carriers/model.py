"""The one normalized tracking vocabulary every carrier maps onto."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(sorted(self.events, key=lambda e: e.time)))


def aware(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 timestamp from a carrier as an aware datetime; a naive one is in the carrier's documented zone."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=zone)


_OFFSET = re.compile(r"([+-]?)(\d{1,2}):?(\d{2})?")


def utc_offset(text: object) -> timezone | None:
    """A carrier's UTC offset field ("-05:00", "-7:00", "+0800", "8") as a zone, or None when absent or unreadable."""
    m = _OFFSET.fullmatch(str(text or "").strip())
    if m is None:
        return None
    sign = -1 if m[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(m[2]), minutes=int(m[3] or 0)))
