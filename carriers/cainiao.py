"""Cainiao (AliExpress Standard Shipping and most China-origin parcels) through its public tracking page's JSON.

UNOFFICIAL: global.cainiao.com/global/detail.json is what Cainiao's own tracking page calls; it has no
documentation, no key and no promise. It may change shape, start answering a bot check, or block the
address asking. So this adapter is off unless `[carriers.cainiao] enabled = true`, asks about one number at
most every 12 hours, and makes any surprise a clear error for that poll rather than a crash.

Wire facts, all from public hobby clients (none official):
- GET /global/detail.json?mailNos=A,B&lang=en-US → `{"success": true, "module": [{mailNo, mailNoSource, status,
  statusDesc, originCountry, destCountry, globalEtaInfo{deliveryMaxTime}, detailList[]}]}`; detailList is newest
  first, each `{time (epoch ms), timeStr, timeZone ("GMT+8"), desc, standerdDesc, descTitle, actionCode}`
  (redacted real payloads in a Home Assistant integration's tests; shlee322/delivery-tracker's zod schema).
- Several numbers per call, comma-separated (the aliexpress_package_tracker Home Assistant integration asks for
  all its numbers at once); no documented maximum, so batches stay small.
- An unknown number is a success: `{"mailNo": N, "mailNoSource": "EXTERNAL", "detailList": []}`.
- A bot check answers `{"ret": ["FAIL_SYS_USER_VALIDATE", …]}` or an HTML page instead of the JSON.
- actionCode meanings from the same clients; return codes were never seen in a public payload (see RULES).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from carriers.base import FetchResult
from carriers.errors import AuthError, BadPayloadError, CarrierError, NotFoundError, UnavailableError
from carriers.http import HttpCarrier, HttpSettings, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, handover, read_estimate, read_time

# actionCode -> what it means for the buyer (meanings from the standerdDesc seen beside each code).
ACTIONS: dict[str, tuple[K, Status]] = {
    "GWMS_ACCEPT": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # shipment information received by the warehouse
    "GWMS_PACKAGE": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # packed, ready for shipping from the warehouse
    "WMS_CONFIRMED": (K.INFO_RECEIVED, Status.INFO_RECEIVED),
    "GWMS_OUTBOUND": (K.PICKED_UP, Status.IN_TRANSIT),  # shipped out from the warehouse
    "PU_PICKUP_SUCCESS": (K.PICKED_UP, Status.IN_TRANSIT),  # received by the logistics company
    "SC_INBOUND_SUCCESS": (K.PICKED_UP, Status.IN_TRANSIT),  # processing at the sorting center
    "SC_OUTBOUND_SUCCESS": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "CW_OUTBOUND": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "TD_TRANSWH_OUTBOUND": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "LH_HO_IN_SUCCESS": (K.IN_TRANSIT, Status.IN_TRANSIT),  # arrived at the departure transport hub
    "LH_HO_AIRLINE": (K.EXPORTED, Status.IN_TRANSIT),  # leaving the departure country/region
    "LH_DEPART": (K.EXPORTED, Status.IN_TRANSIT),  # departed from the departure country/region
    "LH_ARRIVE": (K.ARRIVED, Status.IN_TRANSIT),  # arrived at the linehaul office (destination)
    "LH_POST_COLLECTION": (K.IN_TRANSIT, Status.IN_TRANSIT),  # accepted by the destination's postal service
    "TRANSIT_PORT_REROUTE_CALLBACK": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "COMMON_INTRANSIT": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "CUSTOMS_ARRIVED_IN_AREA_CALLBACK": (K.CUSTOMS, Status.IN_TRANSIT),
    "GTMS_ACCEPT": (K.IN_TRANSIT, Status.IN_TRANSIT),  # the last-mile carrier has it
    "GTMS_OE_DEPART": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "GTMS_SC_ARRIVE": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "GTMS_SC_DEPART": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "GTMS_DO_ARRIVE": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "GTMS_STATION_OUT": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "GTMS_DO_DEPART": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),
    "GTMS_STA_SIGNED": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),  # a pickup point signed, not the buyer
    "GTMS_DEL_FAILURE": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),
    "GTMS_SIGNED": (K.DELIVERED, Status.DELIVERED),
}
# Codes not in the table, by family (checked in order): returns and failures were never seen in a public
# payload, so they are recognised by the words Cainiao's codes are made of.
RULES: tuple[tuple[re.Pattern[str], tuple[K, Status]], ...] = (
    (re.compile(r"RETURN.*SIGN|SIGN.*RETURN"), (K.RETURNED, Status.RETURNED)),
    (re.compile(r"RETURN"), (K.RETURNING, Status.EXCEPTION)),
    (re.compile(r"^CC_.*(FAIL|HOLD|DETAIN)"), (K.CUSTOMS_HELD, Status.EXCEPTION)),
    (re.compile(r"^CC_"), (K.CUSTOMS, Status.IN_TRANSIT)),  # CC_EX_* export, CC_HO_* handover, CC_IM_* import
    (re.compile(r"FAIL|EXCEPTION"), (K.EXCEPTION, Status.EXCEPTION)),
)
# module.status, for a parcel whose latest code is unknown (DELIVERED and CLEAR_CUSTOMS seen in real payloads).
# DELIVERING is seen at 62% progress in recorded answers: "on its way", not out for delivery (a last-mile
# GTMS_DO_DEPART event says that).
MODULE_STATUS = {
    "WAIT_ACCEPT": Status.INFO_RECEIVED, "ACCEPTED": Status.INFO_RECEIVED, "TRANSPORT": Status.IN_TRANSIT,
    "TRANSITING": Status.IN_TRANSIT, "CLEAR_CUSTOMS": Status.IN_TRANSIT, "DELIVERING": Status.IN_TRANSIT,
    "PICKUP": Status.AVAILABLE_FOR_PICKUP, "FAILED": Status.DELIVERY_FAILED, "RETURN": Status.EXCEPTION,
    "DELIVERED": Status.DELIVERED, "SIGN": Status.DELIVERED,
}
UNKNOWN = (K.UNKNOWN, Status.UNKNOWN)
PLACE = re.compile(r"^\[([^\]]+)\]\s*")  # "[Shatian Town] Departed from sorting center"
MAX_NUMBERS = 10  # per call: not documented; small enough to look like a person checking a few orders
BOT_CHECK = "FAIL_SYS_USER_VALIDATE"


def meaning(code: str) -> tuple[K, Status]:
    """What an actionCode means, with an unknown fallback."""
    if code in ACTIONS:
        return ACTIONS[code]
    return next((found for pattern, found in RULES if pattern.search(code)), UNKNOWN)


def epoch_ms(raw: Any) -> datetime:
    """Cainiao's epoch milliseconds as a UTC instant."""
    return datetime.fromtimestamp(int(raw) / 1000, UTC)


def parse_event(d: dict[str, Any], number: str) -> TrackingEvent | None:
    """One detailList entry, None when its time is unusable; `time` is epoch milliseconds (timeZone is ignored)."""
    at = read_time("cainiao", number, d["time"], epoch_ms)
    if at is None:
        return None
    code = str(d.get("actionCode") or "")
    standard, raw = str(d.get("standerdDesc") or "").strip(), str(d.get("desc") or "").strip()
    place = PLACE.match(standard)
    standard = standard[place.end():] if place else standard
    # standerdDesc is Cainiao's normalized wording, desc the carrier's; keep both when they differ.
    text = " — ".join(dict.fromkeys(t for t in (standard, raw) if t))
    return TrackingEvent(at, meaning(code)[0], text, place.group(1) if place else "", code, "cainiao")


def parse_item(item: dict[str, Any], number: str) -> Shipment | CarrierError:
    """One module entry as a Shipment, or NotFoundError for a number Cainiao has no events for."""
    details = item.get("detailList") or []
    if not details:
        return NotFoundError("no tracking events yet", carrier="cainiao", number=number)
    events = tuple(e for d in details if (e := parse_event(d, number)) is not None)
    latest = max(events, key=lambda e: e.time, default=None)
    status = meaning(latest.code)[1] if latest else Status.UNKNOWN
    if status is Status.UNKNOWN:
        status = MODULE_STATUS.get(str(item.get("status") or "").upper(), Status.UNKNOWN)
    eta = read_estimate("cainiao", number, (item.get("globalEtaInfo") or {}).get("deliveryMaxTime"),
                        lambda ms: epoch_ms(ms).date())
    extra = {k: str(item[f]) for k, f in (("origin", "originCountry"), ("destination", "destCountry")) if item.get(f)}
    # copyRealMailNo: the destination carrier's number (public clients read it; realMailNo is the same in prose).
    return Shipment(number, "cainiao", status, events, latest.code if latest else "", eta, extra,
                    handover(number, item.get("copyRealMailNo")))


def parse(payload: Any, numbers: Sequence[str]) -> FetchResult:
    """A whole answer as results for the numbers asked; a bot check or success=false fails the whole call."""
    if not isinstance(payload, dict):
        raise BadPayloadError("answer is not an object", carrier="cainiao")
    if any(BOT_CHECK in str(r) for r in payload.get("ret") or ()):
        raise UnavailableError("Cainiao asked for a bot check (FAIL_SYS_USER_VALIDATE): the unofficial endpoint is "
                               "refusing automated requests for now", carrier="cainiao")
    if payload.get("success") is not True:
        raise BadPayloadError(f"success={payload.get('success')!r}: the unofficial endpoint refused the query",
                              carrier="cainiao")
    out: FetchResult = {}
    for item in payload.get("module") or ():
        number = str(item.get("mailNo") or "").upper()
        if number in numbers:
            out[number] = guard("cainiao", number, parse_item, item, number)
    return out


class CainiaoSettings(HttpSettings):
    """`[carriers.cainiao]`: no key; off unless enabled."""

    enabled: bool = False  # unofficial endpoint: the user opts in
    rate: float | None = Field(default=None, gt=0, le=1)  # never more than one request a second
    concurrency: int = Field(default=1, ge=1, le=2)


class CainiaoCarrier(HttpCarrier):
    """Cainiao's public tracking JSON (unofficial)."""

    id = "cainiao"
    label = "Cainiao / AliExpress Standard Shipping (unofficial)"
    max_batch = MAX_NUMBERS
    needs_credentials = False
    BASE_URL = "https://global.cainiao.com"
    DEFAULT_RATE = 0.2  # one request every 5 s at most
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = 100  # a few hundred parcels twice a day; enough for a household
    MIN_INTERVAL = timedelta(hours=12)  # Cainiao updates a few times a day; asking more often only risks a block
    Settings = CainiaoSettings
    settings: CainiaoSettings

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """GET /global/detail.json?mailNos=A,B,…; a web page or bot check instead of JSON is UnavailableError."""
        try:
            resp = await self.request("GET", "/global/detail.json",
                                      params={"mailNos": ",".join(numbers), "lang": "en-US"})
        except AuthError:
            # There is no key to be wrong: a 401/403 here means the endpoint is refusing this address.
            raise UnavailableError("Cainiao refused the request (HTTP 401/403): the unofficial endpoint may be "
                                   "blocking this address", carrier=self.id) from None
        if resp.content.lstrip()[:1] == b"<" or "html" in resp.headers.get("content-type", ""):
            raise UnavailableError("Cainiao answered a web page instead of JSON (probably a bot check): the "
                                   "unofficial endpoint may be blocking automated requests", carrier=self.id)
        return parse(self.json(resp), numbers)
