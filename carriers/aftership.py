"""AfterShip Tracking API, version 2026-07 (api.aftership.com; one key covers ~1,100 carriers; header `as-api-key`).

A number must be created once (`POST /trackings`) before AfterShip tracks it; the adapter remembers each creation
in `self.memory` (kept across restarts by the monitor) and then reads up to 50 numbers per call with
`GET /trackings?tracking_numbers=A,B`, which needs no tracking id. The list only holds trackings created since
`created_at_min`, whose default is 30 days ago (SDK docs), so the adapter always sends it (LIST_WINDOW back), and
a tracking the list still misses is read by its id (`GET /trackings/{id}`, remembered at creation, also from a
4003 "already exists" answer) before the adapter concludes AfterShip no longer tracks it.

Confirmed against aftership.com/docs/tracking (quickstart: versioning, rate limit, request errors; enum: delivery
statuses and sub-statuses, the 2026-07 page included; migration guides 2025-04 → 2025-07 → 2026-01) and the
official Python SDK (AfterShip/tracking-sdk-python: paths, `tracking_numbers` "supports up to 50", `limit` max
200, `cursor`; the checkpoint model): the `{meta, data}` envelope, meta codes 4003/4004/4005/4012, per-endpoint
limits (POST /trackings 20/s, GET /trackings 6/s, GET /trackings/:id 5/s) and `X-RateLimit-Reset`, tags and
subtags. 2026-07 is the newest version published; its migration notes were not found, and the fields read here
are unchanged since 2024-10. Checked again in November 2026 (SDK fixtures): `data.pagination.{next_cursor,
has_next_page}`, 4003 with HTTP 400, `created_at_min` defaulting to 30 days ago. Unconfirmed: what a 4003 answer's
`data` holds (its `id` is used when present), and Exception_006/008/009/010/012 read from the sub-status list only.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, ClassVar

from carriers.base import FetchResult
from carriers.errors import BadPayloadError, CarrierError, NotFoundError, UnavailableError
from carriers.http import HttpCarrier, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, aware, handover, read_estimate, read_time

ID = "aftership"
MAX_NUMBERS = 50  # documented for GET /trackings?tracking_numbers=
# How far back `created_at_min` reaches: its default (30 days) drops an older parcel from the list. 90 days is the
# shortest data retention AfterShip has documented for this filter, so the value is never refused as too old;
# a tracking older than that is still read by its id.
LIST_WINDOW = timedelta(days=90)

# tag -> (the kind of a checkpoint carrying it, the tracking's status).
TAGS: dict[str, tuple[K, Status]] = {
    "Pending": (K.INFO_RECEIVED, Status.INFO_RECEIVED),
    "InfoReceived": (K.INFO_RECEIVED, Status.INFO_RECEIVED),
    "InTransit": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "OutForDelivery": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),
    "AttemptFail": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),
    "Delivered": (K.DELIVERED, Status.DELIVERED),
    "AvailableForPickup": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),
    "Exception": (K.EXCEPTION, Status.EXCEPTION),
    "Expired": (K.IN_TRANSIT, Status.EXPIRED),  # no news for a long time: says nothing of the last scan
}
# subtags that say more than their tag; the others fall back on TAGS.
SUBTAGS: dict[str, tuple[K, Status]] = {
    "InTransit_002": (K.PICKED_UP, Status.IN_TRANSIT),  # acceptance scan
    "InTransit_004": (K.ARRIVED, Status.IN_TRANSIT),  # arrived at the destination country
    "InTransit_005": (K.CUSTOMS, Status.IN_TRANSIT),  # customs clearance completed
    "InTransit_006": (K.CUSTOMS, Status.IN_TRANSIT),  # customs clearance started
    "Exception_002": (K.ADDRESS_PROBLEM, Status.EXCEPTION),  # customer moved
    "Exception_003": (K.DELIVERY_FAILED, Status.EXCEPTION),  # customer refused delivery
    "Exception_004": (K.CUSTOMS_HELD, Status.EXCEPTION),  # delayed in customs clearance
    "Exception_005": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delayed (external factors): news, not an incident
    "Exception_006": (K.CUSTOMS_HELD, Status.EXCEPTION),  # held for payment (duties)
    "Exception_007": (K.ADDRESS_PROBLEM, Status.EXCEPTION),  # incorrect address
    "Exception_008": (K.DELIVERY_FAILED, Status.EXCEPTION),  # pick-up missed
    "Exception_010": (K.RETURNING, Status.EXCEPTION),  # returning to sender
    "Exception_011": (K.RETURNED, Status.RETURNED),  # returned to sender
    "Exception_012": (K.DAMAGED, Status.EXCEPTION),
    "Exception_013": (K.LOST, Status.EXCEPTION),
    "Exception_016": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delayed (processing issue)
    "Exception_017": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delayed (extreme weather)
    "Exception_018": (K.CUSTOMS_HELD, Status.EXCEPTION),  # incorrect or missing documents
}
UNKNOWN = (K.UNKNOWN, Status.UNKNOWN)
EXISTS = 4003  # "Tracking already exists": tracked, which is all we need
NOT_TRACKABLE = {4005: "the number is invalid", 4010: "unknown carrier slug", 4012: "AfterShip cannot tell the "
                 "carrier of this number (or the carrier is not enabled in your account)", 4017: "invalid format"}


def meaning(tag: Any, subtag: Any) -> tuple[K, Status]:
    """What a tag/subtag pair means."""
    return SUBTAGS.get(str(subtag or "")) or TAGS.get(str(tag or ""), UNKNOWN)


def _place(cp: dict[str, Any]) -> str:
    if cp.get("location"):
        return str(cp["location"])
    return ", ".join(str(cp[k]) for k in ("city", "state", "country_region") if cp.get(k))


def _eta(tracking: dict[str, Any], number: str) -> date | None:
    """The carrier's estimated delivery date (the latest bound of a range), else AfterShip's own estimate."""
    for key in ("courier_estimated_delivery_date", "aftership_estimated_delivery_date"):
        value = tracking.get(key)
        if isinstance(value, dict):
            value = value.get("estimated_delivery_date") or value.get("estimated_delivery_date_max")
        if value:
            return read_estimate(ID, number, value)
    return None


def parse_tracking(tracking: Any, number: str) -> Shipment | CarrierError:
    """One tracking object as a Shipment; NotFoundError while AfterShip has no checkpoint yet."""
    checkpoints = tracking.get("checkpoints") or []
    if tracking.get("tag") == "Pending" and not checkpoints:
        return NotFoundError("AfterShip has no tracking information yet", carrier=ID, number=number)
    events = tuple(
        TrackingEvent(at, meaning(cp.get("tag"), cp.get("subtag"))[0],
                      str(cp.get("message") or cp.get("subtag_message") or ""), _place(cp),
                      str(cp.get("subtag") or cp.get("tag") or ""), ID)
        for cp in checkpoints
        # checkpoint_time carries the place's offset; a bare one is assumed UTC.
        if (at := read_time(ID, number, cp["checkpoint_time"], aware)) is not None
    )
    status = meaning(tracking.get("tag"), tracking.get("subtag"))[1]
    extra = {k: str(tracking[k]) for k in ("slug", "id", "subtag_message") if tracking.get(k)}
    last_mile = tracking.get("last_mile") or {}  # {tracking_number, slug, …}: the official SDK's TrackingLastMile
    return Shipment(number, ID, status, events, str(tracking.get("subtag") or tracking.get("tag") or ""),
                    _eta(tracking, number), extra,
                    handover(number, last_mile.get("tracking_number"), last_mile.get("slug")))


def parse(payload: Any, numbers: Sequence[str]) -> FetchResult:
    """A GET /trackings page as results for the numbers it holds (several couriers: the first one listed)."""
    out: FetchResult = {}
    for tracking in (payload.get("data") or {}).get("trackings") or ():
        number = str(tracking.get("tracking_number") or "").upper()
        if number in numbers and number not in out:
            out[number] = guard(ID, number, parse_tracking, tracking, number)
    return out


def created_key(number: str) -> str:
    """The memory key recording that AfterShip tracks a number (its tracking id, when known)."""
    return f"created:{number}"


class AfterShipCarrier(HttpCarrier):
    """AfterShip Tracking API."""

    id = ID
    label = "AfterShip (aggregator)"
    max_batch = MAX_NUMBERS
    BASE_URL = "https://api.aftership.com/tracking/2026-07"
    DEFAULT_RATE = 5.0  # the lowest documented per-endpoint limit (GET /trackings/:id); POST 20/s, GET list 6/s
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = None  # plans count trackings created, not calls

    def headers(self) -> dict[str, str]:
        """The key header."""
        return {"as-api-key": self.secret("api_key")}

    async def create(self, number: str) -> CarrierError | None:
        """Ask AfterShip to track a number; None once it does (created now or before), else the number's error."""
        resp = await self.request("POST", "/trackings", json={"tracking_number": number}, headers=self.headers(),
                                  ok=(400, 404, 422))
        body = self.json(resp)
        if not isinstance(body, dict):
            raise BadPayloadError("answer is not an AfterShip envelope", carrier=ID)
        meta = body.get("meta") or {}
        code = meta.get("code")
        if resp.is_success or code == EXISTS:
            data = body.get("data") or {}
            self.memory[created_key(number)] = str(data.get("id") or (data.get("tracking") or {}).get("id") or "")
            return None
        if code in NOT_TRACKABLE:
            return NotFoundError(f"{NOT_TRACKABLE[code]} ({code})", carrier=ID, number=number)
        return BadPayloadError(f"create refused ({code}): {meta.get('message', '')}"[:200], carrier=ID, number=number)

    async def read(self, numbers: Sequence[str]) -> FetchResult:
        """GET /trackings for these numbers, following the cursor if AfterShip splits the answer."""
        found: FetchResult = {}
        since = (self.clock() - LIST_WINDOW).isoformat(timespec="seconds")
        params: dict[str, Any] = {"tracking_numbers": ",".join(numbers), "limit": 200, "created_at_min": since}
        while True:
            payload = self.json(await self.request("GET", "/trackings", params=params, headers=self.headers()))
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
                raise BadPayloadError("answer is not an AfterShip envelope", carrier=ID)
            found.update({n: r for n, r in parse(payload, numbers).items() if n not in found})
            page = payload["data"].get("pagination") or {}
            if not (page.get("has_next_page") and page.get("next_cursor")):
                return found
            params["cursor"] = page["next_cursor"]

    async def read_one(self, number: str) -> Shipment | CarrierError | None:
        """GET /trackings/{id} for a number the list missed; None when no id is known or AfterShip has no such id."""
        ident = self.memory.get(created_key(number), "")
        if not ident:
            return None
        resp = await self.request("GET", f"/trackings/{ident}", headers=self.headers(), ok=(404,))
        body = self.json(resp)
        data = body.get("data") if isinstance(body, dict) else None
        if resp.status_code == 404 or not isinstance(data, dict):
            return None
        tracking = data.get("tracking") if isinstance(data.get("tracking"), dict) else data
        return guard(ID, number, parse_tracking, tracking, number)

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """Create the numbers never created (one POST each), then read all the tracked ones in one GET."""
        results: FetchResult = {}
        for n in numbers:
            if created_key(n) not in self.memory and (err := await self.create(n)) is not None:
                results[n] = err
        ask = [n for n in numbers if n not in results]
        if ask:
            results.update(await self.read(ask))
        for n in ask:
            if n not in results and (one := await self.read_one(n)) is not None:
                results[n] = one
            if n not in results:  # deleted on AfterShip's side (or expired): create it again
                self.memory.pop(created_key(n), None)
                results[n] = UnavailableError("AfterShip no longer tracks this number; it is created again at the "
                                              "next poll", carrier=ID, number=n)
        return results
