"""La Poste / Colissimo / Chronopost through the Suivi v2 API (developer.laposte.fr; free key, X-Okapi-Key header).

One GET asks about several numbers (`/idships/A,B,C`): one number answers an object, several an array.
Every item carries its own `returnCode` (RETURN_CODES); an unlisted one that is not 20x is that number's error.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from carriers.base import FetchResult
from carriers.errors import (
    AuthError,
    BadPayloadError,
    CarrierError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from carriers.http import HttpCarrier, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, aware, read_time

PARIS = ZoneInfo("Europe/Paris")  # La Poste's timestamps carry an offset; a bare one is French time

# Event codes (developer.laposte.fr, Suivi v2 "codes événements") -> what they mean for the buyer.
EVENTS: dict[str, tuple[K, Status]] = {
    "DR1": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # declared by the sender, not yet handed over
    # DR2 "problème lors de la préparation" and ID0 "informations douane": listed by carriers.md (Nov 2026) and
    # labelled so in a public client's code list, not in La Poste's own table we could read. Mapped
    # conservatively: DR2 is a problem on the sender's side before hand-over (one exception alert: ask the seller;
    # the parcel is still "declared"), ID0 is customs news that does not say the parcel is held.
    "DR2": (K.EXCEPTION, Status.INFO_RECEIVED),
    "ID0": (K.CUSTOMS, Status.IN_TRANSIT),
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
MAX_IDS = 10  # ids per call: the OpenAPI's tag says "one to 10 trackings"
LANG = "en_GB"  # the documented `lang` values are fr_FR, en_GB, de_DE, es_ES, it_IT, nl_NL (en_US is not one)

# Item `returnCode` values listed by the Suivi v2 OpenAPI -> (meaning, outcome); outcome None is a shipment.
# 104 comes with HTTP 404 and means "votre suivi n'est pas encore disponible": not found *yet*, which the
# monitor's tracking_unknown rule handles, never a failing source. Meanings marked (?) are not spelled out in the
# published spec; their outcome is the one that costs least if the guess is wrong (a number, never the source).
RETURN_CODES: dict[int, tuple[str, type[CarrierError] | None]] = {
    101: ("not a valid tracking number (?)", NotFoundError),
    104: ("tracking not available yet", NotFoundError),
    105: ("unknown tracking number (?)", NotFoundError),
    109: ("no tracking for this number (?)", NotFoundError),
    200: ("shipment found", None),
    201: ("shipment found, partial answer (?)", None),
    208: ("shipment found, already reported (?)", None),
    504: ("La Poste's tracking back-end did not answer in time", UnavailableError),
}


def parse_item(item: Any, number: str) -> Shipment | CarrierError:
    """One item of a Suivi v2 answer as a Shipment, or that number's error."""
    code = int(item.get("returnCode", 0))
    meaning, outcome = RETURN_CODES.get(code, ("", None))
    if outcome is not None:
        message = f"returnCode {code}: {meaning}"
        return outcome(message, carrier="laposte", number=number)
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
        resp = await self.request("GET", f"/idships/{','.join(numbers)}", params={"lang": LANG},
                                  headers={"X-Okapi-Key": self.secret("api_key")}, ok=(400, 404))
        try:
            payload = self.json(resp)
        except BadPayloadError:
            if resp.status_code != 404:
                raise
            return await self._not_json_404(numbers)
        if isinstance(payload, dict) and payload.get("code") == "TOO_MANY_REQUESTS":
            raise RateLimitedError(str(payload.get("message", "quota reached")), carrier=self.id, retry_after=1.0)
        if not isinstance(payload, dict | list):
            raise BadPayloadError("answer is neither an object nor an array", carrier=self.id)
        return parse(payload, numbers)

    async def _not_json_404(self, numbers: Sequence[str]) -> FetchResult:
        """A 404 whose body is not JSON (seen in the wild): unknown for one number; a batch is asked number by number."""
        if len(numbers) == 1:
            return {numbers[0]: NotFoundError("HTTP 404 without a JSON body: no tracking for this number (yet)",
                                              carrier=self.id, number=numbers[0])}
        # The answer names no number: asking each alone keeps "not found" on the unknown one only.
        results: FetchResult = {}
        for number in numbers:
            results.update(await self.fetch([number]))
        return results
