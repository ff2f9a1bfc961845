"""17TRACK Tracking API v2.2 (api.17track.net; one key covers ~2,100 carriers; header `17token`).

A number must be registered once (`/register` spends one unit of a monthly quota: 100 on the free tier) before
`/gettrackinfo` (free) answers for it; the adapter remembers every registration in `self.memory`, which the
monitor keeps across restarts, so a number is never registered twice.

Wire facts confirmed against the public documentation (asset.17track.net/api/document/v2.2_en, the help centre
articles "Error Codes and Troubleshooting", "Understanding Tracking Status", "Quota Deduction Standards and
Rules") and public clients' real answers: the `{code, data: {accepted, rejected}}` envelope, 40 numbers per
call, the status and sub-status names, the error codes below, `time_iso` with an offset and `time_utc`, events
newest first with `stage` often null, `milestone[]` key stages, the free quota resetting on the 1st of each
month. Unconfirmed: the zone of the quota resets (UTC assumed) and whether -18019907 (daily limit) concerns
registrations only.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from carriers.base import FetchResult
from carriers.errors import (
    MAX_IMPOSED_WAIT,
    AuthError,
    BadPayloadError,
    CarrierError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from carriers.http import HttpCarrier, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, aware, handover, read_estimate, read_time, says_pickup

ID = "17track"
MAX_NUMBERS = 40  # documented per call for every endpoint (-18010014 beyond)

# latest_status.sub_status -> (the kind of the event that caused it, the shipment's status).
SUB_STATUS: dict[str, tuple[K, Status]] = {
    "InfoReceived": (K.INFO_RECEIVED, Status.INFO_RECEIVED),
    "InTransit_PickedUp": (K.PICKED_UP, Status.IN_TRANSIT),
    "InTransit_Other": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "InTransit_Departure": (K.EXPORTED, Status.IN_TRANSIT),  # left the port of the origin country
    "InTransit_Arrival": (K.ARRIVED, Status.IN_TRANSIT),  # reached the port of the destination country
    "InTransit_CustomsProcessing": (K.CUSTOMS, Status.IN_TRANSIT),
    "InTransit_CustomsReleased": (K.CUSTOMS, Status.IN_TRANSIT),
    "InTransit_CustomsRequiringInformation": (K.CUSTOMS_HELD, Status.EXCEPTION),  # customs wait for the buyer
    "Expired_Other": (K.IN_TRANSIT, Status.EXPIRED),  # no news for a long time: says nothing of the last scan
    "AvailableForPickup_Other": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),
    "OutForDelivery_Other": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),
    "DeliveryFailure_Other": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),
    "DeliveryFailure_NoBody": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),
    "DeliveryFailure_Security": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # security, customs or fees
    "DeliveryFailure_Rejected": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),
    "DeliveryFailure_InvalidAddress": (K.ADDRESS_PROBLEM, Status.DELIVERY_FAILED),
    "Delivered_Other": (K.DELIVERED, Status.DELIVERED),
    "Exception_Other": (K.EXCEPTION, Status.EXCEPTION),
    "Exception_Returning": (K.RETURNING, Status.EXCEPTION),
    "Exception_Returned": (K.RETURNED, Status.RETURNED),
    "Exception_NoBody": (K.ADDRESS_PROBLEM, Status.EXCEPTION),  # recipient details wrong, found before delivery
    "Exception_Security": (K.CUSTOMS_HELD, Status.EXCEPTION),  # security, customs or fees, before delivery
    "Exception_Damage": (K.DAMAGED, Status.EXCEPTION),
    "Exception_Rejected": (K.DELIVERY_FAILED, Status.EXCEPTION),  # refused before delivery
    "Exception_Delayed": (K.IN_TRANSIT, Status.IN_TRANSIT),  # a delay is news, not an incident to act on
    "Exception_Lost": (K.LOST, Status.EXCEPTION),
    "Exception_Destroyed": (K.LOST, Status.EXCEPTION),  # destroyed as undeliverable: it will never arrive
    "Exception_Cancel": (K.CANCELLED, Status.EXCEPTION),
}
# latest_status.status, when the sub-status is one we do not know.
STATUS: dict[str, Status] = {
    "InfoReceived": Status.INFO_RECEIVED, "InTransit": Status.IN_TRANSIT, "Expired": Status.EXPIRED,
    "AvailableForPickup": Status.AVAILABLE_FOR_PICKUP, "OutForDelivery": Status.OUT_FOR_DELIVERY,
    "DeliveryFailure": Status.DELIVERY_FAILED, "Delivered": Status.DELIVERED, "Exception": Status.EXCEPTION,
}
# An event's `stage` (and milestone key_stage): set on the scans that reached a key stage, null on the others.
STAGE: dict[str, K] = {
    "InfoReceived": K.INFO_RECEIVED, "PickedUp": K.PICKED_UP, "Departure": K.EXPORTED, "Arrival": K.ARRIVED,
    "AvailableForPickup": K.AVAILABLE_FOR_PICKUP, "OutForDelivery": K.OUT_FOR_DELIVERY, "Delivered": K.DELIVERED,
    "Returning": K.RETURNING, "Returned": K.RETURNED, "Exception": K.EXCEPTION,
}

AUTH_CODES = {-18010001: "the server's IP is not in the key's whitelist", -18010002: "invalid key",
              -18010004: "account disabled", -18010005: "unauthorized access"}
INTERNAL = -18010003  # "internal service error, try again later"
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
CARRIER_UNKNOWN = -18019903
DAILY_LIMIT = -18019907  # "exceeded the daily limit"
QUOTA_SPENT = -18019908  # "the quota is used up"
NO_INFO = -18019909  # "no tracking information at this time"
WRONG_CARRIER = -18019910  # "the carrier code is wrong" (API document v2.2)
# Per-number refusals the user must act on, with what to tell them; no quota is spent on either.
CARRIER_PROBLEMS = {
    CARRIER_UNKNOWN: "17TRACK cannot tell which carrier this number belongs to (no quota spent): check the number, "
                     "or name its carrier in the order if it has an adapter of its own",
    WRONG_CARRIER: "17TRACK says the carrier code given for this number is wrong (-18019910): check the number "
                   "and the carrier named in the order, or name a carrier that has an adapter of its own",
}
BAD_NUMBER = (-18010012, -18010013, -18010015)  # the number's format or value is invalid


class NotRegisteredError(UnavailableError):
    """17TRACK no longer tracks a number we registered (deleted, or another key): register it again."""


def quota_reset(code: int, now: datetime) -> datetime:
    """When a spent quota comes back: tomorrow 00:00 UTC (daily limit), else the 1st of next month."""
    today = now.astimezone(UTC).date()
    if code == DAILY_LIMIT:
        day = today + timedelta(days=1)
    else:
        day = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return datetime.combine(day, datetime.min.time(), UTC)


def item_error(error: Any, number: str, now: datetime) -> CarrierError:
    """A rejected item's `error` as the right typed error for that number."""
    try:
        code = int(error.get("code", 0)) if isinstance(error, dict) else 0
    except (TypeError, ValueError, OverflowError):  # "x", null or 1e999 (inf): no code we know
        code = 0
    text = str(error.get("message") or "") if isinstance(error, dict) else ""
    if code in AUTH_CODES:
        return AuthError(f"{AUTH_CODES[code]} ({code}): check [carriers.17track]", carrier=ID, number=number)
    if code in CARRIER_PROBLEMS:
        return NotFoundError(CARRIER_PROBLEMS[code], carrier=ID, number=number)
    if code == NO_INFO or code in BAD_NUMBER:
        return NotFoundError(text or f"error {code}", carrier=ID, number=number)
    if code in (DAILY_LIMIT, QUOTA_SPENT):
        wait = (quota_reset(code, now) - now).total_seconds()
        # Clamped to MAX_IMPOSED_WAIT by the error: new numbers try again once a day until the reset.
        return RateLimitedError(f"registration quota spent ({code}): new numbers wait for the reset", carrier=ID,
                                number=number, retry_after=wait)
    if code == NOT_REGISTERED:
        return NotRegisteredError("17TRACK no longer tracks this number; it is registered again at the next poll",
                                  carrier=ID, number=number)
    if code == INTERNAL:
        return UnavailableError(f"17TRACK internal error ({code})", carrier=ID, number=number)
    return BadPayloadError(f"rejected ({code}): {text}"[:200], carrier=ID, number=number)


def call_error(payload: Any, now: datetime) -> CarrierError | None:
    """The error a whole answer carries (HTTP 200 with a non-zero top-level `code`), or None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict | None):
        return BadPayloadError("answer is not a 17TRACK envelope", carrier=ID)
    code = payload.get("code")
    if code == 0:
        return None
    errors = (payload.get("data") or {}).get("errors") or [{"code": code}]
    return item_error(errors[0], "", now)


def _time(ev: dict[str, Any], number: str) -> datetime | None:
    """An event's time: time_iso keeps the local offset; time_utc when it is missing; None when unusable."""
    return read_time(ID, number, ev.get("time_iso") or ev["time_utc"], aware)


def parse_item(item: Any, number: str) -> Shipment | CarrierError:
    """One accepted gettrackinfo item as a Shipment, or NotFoundError while 17TRACK has nothing yet."""
    info = item.get("track_info") or {}
    latest = info.get("latest_status") or {}
    sub, main = str(latest.get("sub_status") or ""), str(latest.get("status") or "")
    if main == "NotFound" or sub.startswith("NotFound"):
        why = "the number is invalid" if sub == "NotFound_InvalidCode" else "no tracking information yet"
        return NotFoundError(f"17TRACK: {why}", carrier=ID, number=number)
    sub_kind, status = SUB_STATUS.get(sub, (None, STATUS.get(main, Status.UNKNOWN)))
    milestones = {m.get("time_utc"): m.get("key_stage") for m in info.get("milestone") or () if m.get("time_utc")}
    raw = [ev for p in (info.get("tracking") or {}).get("providers") or () for ev in p.get("events") or ()]
    dated = [(when, ev) for ev in raw if (when := _time(ev, number)) is not None]
    newest = max((when for when, _ in dated), default=None)
    events: dict[tuple[datetime, str], TrackingEvent] = {}
    for when, ev in dated:
        code = str(ev.get("stage") or ev.get("sub_status") or "")  # the event's own: stable from poll to poll
        own = SUB_STATUS.get(str(ev.get("sub_status") or ""))
        if own is not None:
            kind = own[0]
        elif when == newest and sub_kind not in (None, K.IN_TRANSIT):
            kind = sub_kind  # the latest status says what the newest scan meant (lost, returning, customs...)
        else:  # a key stage on the event, or a milestone reached at that very time; else an ordinary scan
            kind = STAGE.get(code or str(milestones.get(ev.get("time_utc")) or ""), K.IN_TRANSIT)
        text = str(ev.get("description") or "")
        if kind is K.EXCEPTION and (STAGE.get(code) is K.AVAILABLE_FOR_PICKUP or says_pickup(text)):
            kind = K.AVAILABLE_FOR_PICKUP  # Exception_Other beside "available for pick-up": waiting, not lost
        # Origin and destination carriers may both report the hand-over: keep one copy.
        events.setdefault((when, text), TrackingEvent(when, kind, text, str(ev.get("location") or ""), code, ID))
    eta = ((info.get("time_metrics") or {}).get("estimated_delivery_date") or {})
    providers = ", ".join(str((p.get("provider") or {}).get("name") or "")
                          for p in (info.get("tracking") or {}).get("providers") or ())
    extra = {k: v for k, v in {"carrier_code": str(item.get("carrier") or ""), "providers": providers}.items() if v}
    latest_kind = max(events.values(), key=lambda e: e.time).kind if events else None
    if status is Status.EXCEPTION and sub_kind is K.EXCEPTION and latest_kind is K.AVAILABLE_FOR_PICKUP:
        status = Status.AVAILABLE_FOR_PICKUP
    misc = info.get("misc_info") or {}  # local_number / local_provider: the last-mile carrier's number and name
    return Shipment(number, ID, status, tuple(events.values()), sub or main,
                    read_estimate(ID, number, eta.get("to") or eta.get("from")), extra,
                    handover(number, misc.get("local_number"), misc.get("local_provider")))


def parse(payload: Any, numbers: Sequence[str], now: datetime) -> FetchResult:
    """A gettrackinfo answer as results for the numbers asked; rejected ones become their error."""
    data = payload.get("data") or {}
    out: FetchResult = {}
    for item in data.get("accepted") or ():
        number = str(item.get("number") or "").upper()
        if number in numbers:
            out[number] = guard(ID, number, parse_item, item, number)
    for item in data.get("rejected") or ():
        number = str(item.get("number") or "").upper()
        if number in numbers:
            out[number] = item_error(item.get("error"), number, now)
    return out


def parse_register(payload: Any, numbers: Sequence[str], now: datetime) -> tuple[list[str], FetchResult]:
    """A register answer: the numbers now registered (accepted or already), and the others' errors."""
    data = payload.get("data") or {}
    done = [str(i.get("number") or "").upper() for i in data.get("accepted") or ()]
    errors: FetchResult = {}
    for item in data.get("rejected") or ():
        number = str(item.get("number") or "").upper()
        if (item.get("error") or {}).get("code") == ALREADY_REGISTERED:
            done.append(number)
        elif number in numbers:
            errors[number] = item_error(item.get("error"), number, now)
    return [n for n in done if n in numbers], errors


def registered_key(number: str) -> str:
    """The memory key recording that a number was registered (so it is never registered, and paid, twice)."""
    return f"registered:{number}"


QUOTA_KEY = "quota_until"  # while set and in the future, no registration is attempted


class Track17Carrier(HttpCarrier):
    """17TRACK Tracking API v2.2."""

    id = ID
    label = "17TRACK (aggregator)"
    max_batch = MAX_NUMBERS
    BASE_URL = "https://api.17track.net/track/v2.2"
    DEFAULT_RATE = 3.0  # documented: 3 requests per second per key, HTTP 429 beyond
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = None  # registrations are the scarce thing, counted by 17TRACK

    async def post(self, path: str, numbers: Sequence[str]) -> Any:
        """POST a batch of numbers; an error code for the whole call is raised."""
        resp = await self.request("POST", path, json=[{"number": n} for n in numbers],
                                  headers={"17token": self.secret("api_key")})
        payload = self.json(resp)
        if (err := call_error(payload, self.clock())) is not None:
            raise err
        return payload

    async def register(self, numbers: Sequence[str]) -> FetchResult:
        """Register the numbers 17TRACK does not know yet; return the errors of those it refused."""
        now = self.clock()
        try:
            wait = (datetime.fromisoformat(self.memory.get(QUOTA_KEY) or "") - now).total_seconds()
        except (ValueError, TypeError):  # nothing stored, or a value this code never wrote
            wait = 0.0
        # A stored wait past MAX_IMPOSED_WAIT was not written by this code (an older state, or corruption): one
        # refused registration costs nothing and stores a fresh wait, so it cannot block new numbers forever.
        if 0 < wait <= MAX_IMPOSED_WAIT:
            return {n: RateLimitedError("registration quota spent: waiting for the reset", carrier=ID, number=n,
                                        retry_after=wait) for n in numbers}
        done, errors = parse_register(await self.post("/register", numbers), numbers, now)
        self.memory.update({registered_key(n): now.isoformat() for n in done})  # one write for the batch
        for err in errors.values():
            if isinstance(err, RateLimitedError) and err.retry_after:  # no call is spent on it for a day
                self.memory[QUOTA_KEY] = (now + timedelta(seconds=err.retry_after)).isoformat()
        return errors

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """Register the numbers never registered, then ask gettrackinfo about every registered one."""
        new = [n for n in numbers if registered_key(n) not in self.memory]
        results = await self.register(new) if new else {}
        ask = [n for n in numbers if n not in results]
        if not ask:
            return results
        found = parse(await self.post("/gettrackinfo", ask), ask, self.clock())
        for n, res in found.items():
            if isinstance(res, NotRegisteredError):
                self.memory.pop(registered_key(n), None)
        return {**results, **found}
