"""UPS through the Track API v1 (developer.ups.com; OAuth client credentials with HTTP Basic).

Wire format confirmed against UPS's own OpenAPI files (github.com/UPS-API/api-documentation: Tracking.yaml,
OAuthClientCredentials.yaml) and karrio's UPS tracking tests: `GET /api/track/v1/details/{n}` with headers
`transId` (unique per request) and `transactionSrc`; `trackResponse.shipment[].package[].activity[]` newest
first, each `{date "YYYYMMDD", time "HHMMSS", gmtDate, gmtTime, gmtOffset "-05:00", location.address{city, stateProvince, countryCode}, status{type, code, description}}`. An unknown
number answers 404 or 200 with a `TW0001 Tracking Information Not Found` warning; a malformed one 400 with
`TV1002 Invalid inquiry number`; errors are `{"response": {"errors": [{"code", "message"}]}}`. Times of day
come in three forms (see CLOCK).
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from carriers.base import FetchResult
from carriers.errors import BadPayloadError, CarrierError, NotFoundError
from carriers.http import OAuthCarrier, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, read_estimate, read_time, utc_offset

TRANSACTION_SRC = "tracking-monitor"
NOT_FOUND_CODES = {"TW0001", "TV1002", "TW0002"}  # not found, invalid inquiry number, no information yet

# status.type (UPS Track API: activity status types).
TYPES: dict[str, tuple[K, Status]] = {
    "M": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # manifest: billing information received
    "MV": (K.CANCELLED, Status.EXCEPTION),  # billing information voided
    "P": (K.PICKED_UP, Status.IN_TRANSIT),
    "I": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "W": (K.IN_TRANSIT, Status.IN_TRANSIT),  # in a warehouse (freight)
    "DO": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delivered to the origin freight station
    "DD": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delivered to the destination freight station
    "O": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),
    "D": (K.DELIVERED, Status.DELIVERED),
    "RS": (K.RETURNED, Status.RETURNED),  # returned to shipper
    "X": (K.EXCEPTION, Status.EXCEPTION),  # refined below from the description
}
CODES: dict[str, tuple[K, Status]] = {
    "OT": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),  # "Out For Delivery Today" (type I)
    "MP": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # label created, package not yet handed over
}
# Type X and I say little by themselves; UPS's wording is stable enough to tell the buyer what happened.
WORDS: tuple[tuple[tuple[str, ...], tuple[K, Status]], ...] = (
    (("out for delivery",), (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY)),
    (("returned to the sender", "returning", "return to sender", "returned to shipper"),
     (K.RETURNING, Status.EXCEPTION)),
    (("released by the customs", "cleared customs", "import scan"), (K.CUSTOMS, Status.IN_TRANSIT)),
    (("customs", "clearance", "brokerage"), (K.CUSTOMS_HELD, Status.EXCEPTION)),
    (("address",), (K.ADDRESS_PROBLEM, Status.EXCEPTION)),
    (("damage",), (K.DAMAGED, Status.EXCEPTION)),
    (("cannot be located", "lost"), (K.LOST, Status.EXCEPTION)),
    (("not available", "no one", "closed", "attempt", "refused"), (K.DELIVERY_FAILED, Status.DELIVERY_FAILED)),
    (("access point", "ready for pickup", "available for pickup"),
     (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP)),
)
UNKNOWN = (K.UNKNOWN, Status.UNKNOWN)


def meaning(status: dict[str, Any]) -> tuple[K, Status]:
    """What one activity means: its code, else its type (X and I refined by wording), else unknown."""
    kind, code = str(status.get("type") or ""), str(status.get("code") or "")
    if code in CODES:
        return CODES[code]
    found = TYPES.get(kind, UNKNOWN)
    if kind in ("X", "I"):
        text = str(status.get("description") or "").lower()
        found = next((m for words, m in WORDS if any(w in text for w in words)), found)
    return found


TIME_FIELDS = ("date", "time", "gmtDate", "gmtTime", "gmtOffset")  # an activity's time, in its raw fields


# gmtTime and time: "HHMMSS" as Tracking.yaml documents, "HMMSS" with the leading zero dropped (Tracking.yaml's
# own example "74700", also in karrio's tests), or "HH:MM:SS" (recorded real answers).
CLOCK = re.compile(r"(\d{1,2}):?(\d{2}):?(\d{2})")


def clock(text: Any) -> time:
    """A UPS time of day, in any of CLOCK's forms."""
    m = CLOCK.fullmatch(str(text).strip())
    if m is None:
        raise ValueError(f"not a UPS time of day: {str(text)[:20]!r}")
    return time(int(m[1]), int(m[2]), int(m[3]))


def day(text: Any) -> date:
    """A UPS date, "YYYYMMDD"."""
    return datetime.strptime(str(text), "%Y%m%d").date()


def activity_time(a: dict[str, Any]) -> datetime:
    """gmtDate/gmtTime as UTC; else the local date/time with gmtOffset; else the local time read as UTC."""
    if a.get("gmtDate") and a.get("gmtTime"):
        return datetime.combine(day(a["gmtDate"]), clock(a["gmtTime"]), UTC)
    local = clock(a["time"]) if a.get("time") else time()
    # UPS documents no zone without gmtOffset; UTC is wrong by at most the local offset
    return datetime.combine(day(a["date"]), local, utc_offset(a.get("gmtOffset")) or UTC)


def estimated(package: dict[str, Any], number: str) -> date | None:
    """The rescheduled, else scheduled, delivery date."""
    dates = {str(d.get("type")): str(d.get("date") or "") for d in package.get("deliveryDate") or ()}
    found = dates.get("RDD") or dates.get("SDD")
    return read_estimate("ups", number, found, day)


def error_of(payload: Any, number: str, http: int) -> CarrierError:
    """A UPS error body (`response.errors` or `warnings`) as NotFoundError or BadPayloadError."""
    errors = ((payload.get("response") or {}).get("errors") if isinstance(payload, dict) else None) or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code, text = str(first.get("code") or ""), str(first.get("message") or "")
    if http == 404 or code in NOT_FOUND_CODES:
        return NotFoundError(text or "Tracking Information Not Found", carrier="ups", number=number)
    return BadPayloadError(f"error {code or http}: {text}"[:200], carrier="ups", number=number)


def parse(payload: Any, number: str) -> Shipment | CarrierError:
    """One Track API answer as a Shipment, or that number's error."""
    if "trackResponse" not in payload:
        return error_of(payload, number, 200)
    shipment = payload["trackResponse"]["shipment"][0]
    packages = shipment.get("package") or []
    if not packages:
        warning = (shipment.get("warnings") or [{}])[0]
        if str(warning.get("code")) in NOT_FOUND_CODES or "not found" in str(warning.get("message", "")).lower():
            return NotFoundError(str(warning.get("message") or "not found"), carrier="ups", number=number)
        return BadPayloadError("answer has neither package nor known warning", carrier="ups", number=number)
    package = packages[0]
    scans: list[tuple[TrackingEvent, Status]] = []
    for a in package.get("activity") or ():
        at = read_time("ups", number, {k: a[k] for k in TIME_FIELDS if k in a}, activity_time)
        if at is None:
            continue
        st = a.get("status") or {}
        addr = (a.get("location") or {}).get("address") or {}
        place = ", ".join(str(addr[k]) for k in ("city", "stateProvince", "countryCode") if addr.get(k))
        kind, standing = meaning(st)
        scans.append((TrackingEvent(at, kind, str(st.get("description") or ""), place,
                                    str(st.get("code") or st.get("type") or ""), "ups"), standing))
    scans.sort(key=lambda s: s[0].time)
    events = [e for e, _ in scans]
    current = package.get("currentStatus") or {}
    status = scans[-1][1] if scans else meaning(current)[1] if current else Status.INFO_RECEIVED
    if status is Status.DELIVERED and any(e.kind is K.RETURNING for e in events):
        status = Status.RETURNED  # delivered after a return scan: back with the seller
    service = (package.get("service") or {}).get("description")
    raw = str(current.get("code") or (events[-1].code if events else ""))
    return Shipment(number, "ups", status, tuple(events), raw, estimated(package, number),
                    {"service": str(service)} if service else {})


class UpsCarrier(OAuthCarrier):
    """UPS Track API v1."""

    id = "ups"
    label = "UPS"
    max_batch = 1  # the Track API answers one inquiry number per GET
    BASE_URL = "https://onlinetools.ups.com"
    TOKEN_PATH = "/security/v1/oauth/token"
    # UPS publishes no numeric limit (429 "10429 Too Many Requests" when exceeded); stay gentle.
    DEFAULT_RATE = 1.0
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = None

    def token_request(self) -> dict[str, Any]:
        """client_id:client_secret as HTTP Basic, grant_type in the form (OAuthClientCredentials.yaml)."""
        return {"auth": (self.secret("client_id"), self.secret("client_secret")),
                "data": {"grant_type": "client_credentials"}}

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """GET /api/track/v1/details/{n} for each number."""
        out: FetchResult = {}
        for number in numbers:
            headers = {"transId": uuid.uuid4().hex, "transactionSrc": TRANSACTION_SRC}
            resp = await self.request("GET", f"/api/track/v1/details/{number}", params={"locale": "en_US"},
                                      headers=headers, ok=(400, 404))
            payload = self.json_object(resp)
            out[number] = (error_of(payload, number, resp.status_code) if resp.status_code != 200
                           else guard(self.id, number, parse, payload, number))
        return out
