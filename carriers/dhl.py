"""DHL through Shipment Tracking – Unified (developer.dhl.com; free key, DHL-API-Key header).

Wire facts confirmed from public sources:
- GET https://api-eu.dhl.com/track/shipments?trackingNumber=N[&service=..&language=..], header DHL-API-Key;
  one number per call; answer `{"shipments": [{id, service, status, estimatedTimeOfDelivery, events[]}]}`,
  events newest first, each `{timestamp, location.address{addressLocality, countryCode}, statusCode, status,
  description, remark}`; a 404 body `{"title": "No result found", "detail": .., "status": 404}`
  (karrio's dhl_universal connector, tests/dhl_universal/test_tracking.py and SPECS.md; superfaceai/station maps).
- statusCode is one of pre-transit, transit, delivered, failure, unknown (karrio SPECS.md); the words saying
  *what* happened are only in the free text, so kinds below are read from the English `description`.
- Parcel services (parcel-de, parcel-pl, parcel-nl) send timestamps without an offset; Express sends offsets
  (public hobby clients' recorded payloads).
- Initial quota 250 calls a day and 1 call a second; over it, HTTP 429 "until the next day"; the day resets at
  00:00 GMT (support-developer.dhl.com knowledge base, "Shipment Tracking Unified API"; wesupplylabs.com setup guide).
"""
from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field

from carriers.base import FetchResult, seconds_to_utc_midnight
from carriers.errors import BadPayloadError, CarrierError, NotFoundError, RateLimitedError
from carriers.http import ApiKeySettings, HttpCarrier, guard
from carriers.model import EXCEPTION_KINDS, Shipment, Status, TrackingEvent, read_estimate, read_time
from carriers.model import EventKind as K

# What the wording of an event says, checked in order (English texts: the adapter asks for language=en).
# The first match wins, so the more specific phrases come first.
WORDING: tuple[tuple[re.Pattern[str], K], ...] = tuple((re.compile(p, re.I), k) for p, k in (
    (r"return(ed|ing)? to (the )?(sender|shipper|origin)|back to the sender|being returned|will be returned", K.RETURNING),
    (r"customs.*\b(held|hold|detained|seized|refused)\b|\b(held|detained|seized)\b.*customs", K.CUSTOMS_HELD),
    (r"customs|clearance", K.CUSTOMS),
    (r"(incorrect|incomplete|insufficient|unknown|wrong) address|address (is )?(incorrect|incomplete|insufficient|unknown|wrong)",
     K.ADDRESS_PROBLEM),
    (r"damaged", K.DAMAGED),
    (r"\blost\b", K.LOST),
    (r"could not be delivered|not delivered|delivery attempt|attempted delivery|refused|not accepted"
     r"|recipient (was )?not (at home|available)", K.DELIVERY_FAILED),
    (r"posted by the sender|dropped off|picked up|accepted|received by dhl|processed in the parcel cent(er|re) of origin",
     K.PICKED_UP),
    (r"ready for pick-?up|available for pick-?up|ready for collection|awaiting collection|packstation|parcel locker"
     r"|retail outlet|service point", K.AVAILABLE_FOR_PICKUP),
    (r"out for delivery|with courier for delivery|loaded onto the delivery vehicle|on (its|the) way to the recipient",
     K.OUT_FOR_DELIVERY),
    (r"arrived in the destination country|arrival in (the )?destination country", K.ARRIVED),
    (r"left the (country|origin)|departed (from )?(the )?(origin|country)|on its way to the destination country"
     r"|handed over to (the )?airline|export", K.EXPORTED),
))
# statusCode alone, when the wording says nothing more.
CODES: dict[str, K] = {"pre-transit": K.INFO_RECEIVED, "transit": K.IN_TRANSIT, "delivered": K.DELIVERED,
                       "failure": K.EXCEPTION, "unknown": K.UNKNOWN}
STATUS: dict[K, Status] = {
    K.INFO_RECEIVED: Status.INFO_RECEIVED, K.PICKED_UP: Status.IN_TRANSIT, K.IN_TRANSIT: Status.IN_TRANSIT,
    K.EXPORTED: Status.IN_TRANSIT, K.ARRIVED: Status.IN_TRANSIT, K.CUSTOMS: Status.IN_TRANSIT,
    K.AVAILABLE_FOR_PICKUP: Status.AVAILABLE_FOR_PICKUP, K.OUT_FOR_DELIVERY: Status.OUT_FOR_DELIVERY,
    K.DELIVERED: Status.DELIVERED, K.DELIVERY_FAILED: Status.DELIVERY_FAILED, K.RETURNED: Status.RETURNED,
    K.UNKNOWN: Status.UNKNOWN,
}  # every other kind (held in customs, returning, lost, …) is an exception the buyer must act on

# Naive timestamps are local time where the event happened (DHL gives no zone). A country with one UTC offset
# is read in its zone; these countries have several but nearly every parcel is handled in the main one.
MAIN_ZONE = {"CN": "Asia/Shanghai", "ES": "Europe/Madrid", "PT": "Europe/Lisbon"}
SERVICE_COUNTRY = {"uk": "GB"}  # parcel-uk is the only service suffix that is not an ISO country code
TAGS = re.compile(r"<[^>]+>")  # some parcel descriptions embed links


def kind_of(code: str, text: str) -> K:
    """What an event (or the shipment's latest status) means, from its statusCode and wording."""
    code = code.lower()
    if code == "pre-transit":
        return K.INFO_RECEIVED
    if code == "delivered":
        return K.RETURNED if WORDING[0][0].search(text) else K.DELIVERED
    kind = next((k for pattern, k in WORDING if pattern.search(text)), CODES.get(code, K.UNKNOWN))
    if code == "failure" and kind not in EXCEPTION_KINDS:
        # A failure worded like a normal step ("customs clearance", "processed at …") is still a failure.
        kind = K.CUSTOMS_HELD if kind is K.CUSTOMS else K.EXCEPTION
    return kind


@cache
def _zones_by_country() -> dict[str, tuple[str, ...]]:
    zones: dict[str, list[str]] = defaultdict(list)
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, name, *_ = line.split("\t")
            zones[country].append(name)
    return {c: tuple(names) for c, names in zones.items()}


def local_zone(country: str, naive: datetime) -> tzinfo:
    """The zone a naive timestamp from `country` is read in: its main zone if unambiguous, else UTC."""
    if country in MAIN_ZONE:
        return ZoneInfo(MAIN_ZONE[country])
    zones = [ZoneInfo(name) for name in _zones_by_country().get(country, ())]
    if zones and len({naive.replace(tzinfo=z).utcoffset() for z in zones}) == 1:
        return zones[0]
    return UTC  # unknown country, or one spanning several offsets (US, RU, BR…): a few hours off at worst


def when(text: str, country: str) -> datetime:
    """An event timestamp as an aware datetime; a naive one is local time in `country`."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=local_zone(country, value))


def _plain(text: Any) -> str:
    return " ".join(html.unescape(TAGS.sub("", str(text or ""))).split())


def parse_event(e: dict[str, Any], home: str, number: str) -> TrackingEvent | None:
    """One DHL event, None when its time is unusable; `home` is the service's country (parcel-de → DE)."""
    address = (e.get("location") or {}).get("address") or {}
    country = str(address.get("countryCode") or "").upper()
    at = read_time("dhl", number, e["timestamp"], lambda t: when(str(t), country or home))
    if at is None:
        return None
    locality = _plain(address.get("addressLocality"))
    where = f"{locality}, {country}" if locality and country and country not in locality else locality or country
    code = str(e.get("statusCode") or "")
    text = _plain(e.get("description")) or _plain(e.get("status"))
    return TrackingEvent(at, kind_of(code, f"{e.get('status') or ''} {text}"),
                         text, where, code, "dhl")


def parse_shipment(ship: dict[str, Any], number: str) -> Shipment:
    """One element of `shipments` as a Shipment."""
    service = str(ship.get("service") or "")
    suffix = service.rpartition("-")[2] if "-" in service else ""
    home = SERVICE_COUNTRY.get(suffix, suffix.upper()) if len(suffix) == 2 else ""
    events = tuple(ev for e in ship.get("events") or () if (ev := parse_event(e, home, number)) is not None)
    latest = ship.get("status") or {}
    if latest.get("statusCode"):  # DHL's own summary of where the shipment stands
        kind = kind_of(str(latest["statusCode"]), f"{latest.get('status') or ''} {_plain(latest.get('description'))}")
        raw = str(latest["statusCode"])
    elif events:
        newest = max(events, key=lambda e: e.time)
        kind, raw = newest.kind, newest.code
    else:
        kind, raw = K.INFO_RECEIVED, ""
    extra = {k: v for k, v in {
        "service": service,
        "product": str(((ship.get("details") or {}).get("product") or {}).get("productName") or ""),
        "destination": str(((ship.get("destination") or {}).get("address") or {}).get("countryCode") or ""),
    }.items() if v}
    return Shipment(number, "dhl", STATUS.get(kind, Status.EXCEPTION), events, raw,
                    read_estimate("dhl", number, ship.get("estimatedTimeOfDelivery")), extra)


def parse(payload: Any, number: str, http_status: int = 200) -> Shipment | CarrierError:
    """A whole answer for one number: the Shipment, or NotFoundError for DHL's 404 problem body."""
    if http_status == 404 or (isinstance(payload, dict) and payload.get("status") == 404):
        detail = (payload.get("detail") or payload.get("title")) if isinstance(payload, dict) else None
        return NotFoundError(str(detail or "No result found"), carrier="dhl", number=number)
    shipments = payload["shipments"]
    if not shipments:
        return NotFoundError("no shipment in the answer", carrier="dhl", number=number)
    # Without `service`, DHL may list several shipments; the one whose id is the number asked is the one wanted.
    ship = next((s for s in shipments if str(s.get("id", "")).upper() == number), shipments[0])
    return parse_shipment(ship, number)


class DhlSettings(ApiKeySettings):
    """`[carriers.dhl]`: the usual keys plus DHL's optional query parameters."""

    # Restrict the lookup to one DHL business (express, parcel-de, ecommerce, freight…): without it DHL may
    # answer with another business's shipment that shares the number.
    service: str | None = Field(default=None, pattern=r"^[a-z][a-z-]*$")
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")  # event kinds are read from the English wording
    # At 1 call a second, one request at a time loses nothing; and a wrong key is then asked once, not 4 times.
    concurrency: int = Field(default=1, ge=1, le=64)


class DhlCarrier(HttpCarrier):
    """DHL Shipment Tracking – Unified."""

    id = "dhl"
    label = "DHL (Express, Paket, eCommerce…)"
    max_batch = 1  # the API takes one trackingNumber per call
    BASE_URL = "https://api-eu.dhl.com/track"
    DEFAULT_RATE = 1.0  # documented: 1 call per second on the initial service level
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = 250  # documented: 250 calls a day, reset at 00:00 GMT
    Settings = DhlSettings
    settings: DhlSettings

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """GET /shipments once per number (the cycle sends one at a time)."""
        return {n: await self._one(n) for n in numbers}

    async def _one(self, number: str) -> Shipment | CarrierError:
        params = {"trackingNumber": number, "language": self.settings.language}
        if self.settings.service:
            params["service"] = self.settings.service
        try:
            resp = await self.request("GET", "/shipments", params=params,
                                      headers={"DHL-API-Key": self.secret("api_key")}, ok=(404,))
        except RateLimitedError as exc:
            if exc.retry_after is not None:
                raise
            # Still 429 after the retries: per-second bursts are over by now, so it is the daily quota,
            # which DHL keeps closed "until the next day" (00:00 GMT). Asking again before that wastes nothing
            # but the log, so wait for it.
            raise RateLimitedError("daily quota spent (HTTP 429); DHL resets it at 00:00 UTC", carrier=self.id,
                                   retry_after=seconds_to_utc_midnight(self.clock())) from None
        payload = self.json(resp)
        if not isinstance(payload, dict):
            raise BadPayloadError("answer is not an object", carrier=self.id, number=number)
        return guard(self.id, number, parse, payload, number, resp.status_code)
