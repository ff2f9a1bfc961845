"""La Poste / Colissimo / Chronopost through the Suivi v2 API (developer.laposte.fr; free key, X-Okapi-Key header).

One GET asks about several numbers (`/idships/A,B,C`): one number answers an object, several an array.
Every item carries its own `returnCode`; anything but 20x is that number's error.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from carriers.base import FetchResult
from carriers.errors import AuthError, BadPayloadError, CarrierError, NotFoundError, RateLimitedError
from carriers.http import HttpCarrier, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, aware, read_time

PARIS = ZoneInfo("Europe/Paris")  # La Poste's timestamps carry an offset; a bare one is French time

# Event codes (developer.laposte.fr, Suivi v2 "codes événements") -> what they mean for the buyer.
EVENTS: dict[str, tuple[K, Status]] = {
    "DR1": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # declared by the sender, not yet handed over
    "PC1": (K.PICKED_UP, Status.IN_TRANSIT),
    "PC2": (K.PICKED_UP, Status.IN_TRANSIT),  # taken in charge in the country of origin
    "ET1": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "ET2": (K.IN_TRANSIT, Status.IN_TRANSIT),  # being processed in the country of origin
    "ET3": (K.ARRIVED, Status.IN_TRANSIT),  # being processed in the destination country
    "ET4": (K.IN_TRANSIT, Status.IN_TRANSIT),  # being processed in a transit country
    "EP1": (K.IN_TRANSIT, Status.IN_TRANSIT),  # waiting to be presented
    "DO1": (K.CUSTOMS, Status.IN_TRANSIT),  # entered customs
    "DO2": (K.CUSTOMS, Status.IN_TRANSIT),  # left customs
    "DO3": (K.CUSTOMS_HELD, Status.EXCEPTION),  # held by customs
    "PB1": (K.EXCEPTION, Status.EXCEPTION),  # a problem is being handled
    "PB2": (K.IN_TRANSIT, Status.IN_TRANSIT),  # problem solved
    "MD2": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),
    "ND1": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # could not be delivered
    "AG1": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),  # waiting at the post office counter
    "RE1": (K.RETURNING, Status.EXCEPTION),  # on its way back to the sender
    "DI0": (K.DELIVERED, Status.DELIVERED),
    "DI1": (K.DELIVERED, Status.DELIVERED),
    "DI2": (K.RETURNED, Status.RETURNED),  # delivered back to the sender
    "DI3": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delivery delayed: news, not an incident to act on
}
MAX_IDS = 10  # ids per call (carriers.md, unconfirmed (?)): small enough to be safe either way


def parse_item(item: Any, number: str) -> Shipment | CarrierError:
    """One item of a Suivi v2 answer as a Shipment, or that number's error."""
    code = int(item.get("returnCode", 0))
    if code == 404 or (code == 400 and "shipment" not in item):
        # 400 "bad id" and 404 "unknown id" both mean: the carrier has nothing for this number.
        return NotFoundError(str(item.get("returnMessage") or "unknown number"), carrier="laposte", number=number)
    if code == 401:
        return AuthError("X-Okapi-Key rejected", carrier="laposte", number=number)
    if not 200 <= code < 300:
        return BadPayloadError(f"returnCode {code}: {item.get('returnMessage', '')}"[:200], carrier="laposte",
                               number=number)
    ship = item["shipment"]
    events = tuple(
        TrackingEvent(at, EVENTS.get(e["code"], (K.UNKNOWN, Status.UNKNOWN))[0],
                      str(e.get("label") or ""), "", str(e["code"]), "laposte")
        for e in ship.get("event") or ()
        if (at := read_time("laposte", number, e["date"], lambda t: aware(t, PARIS))) is not None
    )
    latest = max(events, key=lambda e: e.time) if events else None
    status = EVENTS.get(latest.code, (K.UNKNOWN, Status.UNKNOWN))[1] if latest else Status.INFO_RECEIVED
    if ship.get("isFinal") and status not in (Status.DELIVERED, Status.RETURNED):
        status = Status.RETURNED if latest is not None and latest.kind is K.RETURNING else Status.DELIVERED
    extra = {k: str(ship[k]) for k in ("product", "holder", "url") if ship.get(k) not in (None, "")}
    return Shipment(number, "laposte", status, events, latest.code if latest else "", None, extra)


def parse(payload: Any, numbers: Sequence[str]) -> FetchResult:
    """A whole Suivi v2 answer (object or array) as results for the numbers asked."""
    items = payload if isinstance(payload, list) else [payload]
    by_id: FetchResult = {}
    for item in items:
        if not isinstance(item, dict):
            continue  # no id to pin it on: the number it stood for is reported as unanswered, the others stand
        ident = str(item.get("idShip") or (item.get("shipment") or {}).get("idShip") or "").upper()
        if not ident and len(numbers) == 1:
            ident = numbers[0]  # an error for a single id may not repeat the id
        if ident in numbers:
            by_id[ident] = guard("laposte", ident, parse_item, item, ident)
    return by_id


class LaPosteCarrier(HttpCarrier):
    """La Poste Suivi v2."""

    id = "laposte"
    label = "La Poste / Colissimo / Chronopost"
    max_batch = MAX_IDS
    BASE_URL = "https://api.laposte.fr/suivi/v2"
    DEFAULT_RATE = 10.0  # documented ceiling is 100 calls/s per key; stay far below it
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = None  # no documented daily quota

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """GET /idships/{ids}; per-number returnCodes become per-number errors."""
        resp = await self.request("GET", f"/idships/{','.join(numbers)}", params={"lang": "en_US"},
                                  headers={"X-Okapi-Key": self.secret("api_key")}, ok=(400, 404))
        payload = self.json(resp)
        if isinstance(payload, dict) and payload.get("code") == "TOO_MANY_REQUESTS":
            raise RateLimitedError(str(payload.get("message", "quota reached")), carrier=self.id, retry_after=1.0)
        if not isinstance(payload, dict | list):
            raise BadPayloadError("answer is neither an object nor an array", carrier=self.id)
        return parse(payload, numbers)
