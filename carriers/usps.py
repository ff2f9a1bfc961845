"""USPS through the USPS APIs v3 Tracking API (developers.usps.com; OAuth client credentials, scope "tracking").

Wire format confirmed against the USPS "Package Tracking and Notification" OpenAPI 3.2.4 (vendored by karrio,
modules/connectors/usps/.../vendor/usps-tracking.yaml) and a real answer in karrio's USPS tracking tests:
`GET /tracking/v3/tracking/{n}?expand=DETAIL` answers one TrackingDetails object (`status`, `statusCategory`,
`trackingEvents` newest first, each with `eventCode`, `eventType`, a naive local `eventTimestamp`, `GMTTimestamp`
ending in Z and `GMTOffset`); errors are `{"apiVersion", "error": {"code", "message", "errors": [...]}}` with
HTTP 400/404; 429 and 503 carry Retry-After. The token answer's `expires_in` is a string.
USPS also serves `POST /tracking/v3r2/tracking` with a list of numbers (public clients batch up to 35), but its
per-number error shape is not published, so this adapter keeps to the documented one-number GET.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from carriers.base import FetchResult
from carriers.errors import BadPayloadError, CarrierError, NotFoundError
from carriers.http import OAuthCarrier, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, aware, read_estimate, read_time, utc_offset

# eventTimestamp is the scan's local wall time, even when it ends in "Z" (recorded answers; carriers.md, November
# 2026): only GMTTimestamp is UTC. Without GMTTimestamp and GMTOffset the zone comes from eventState; a state a
# time zone splits gets the zone of most of its people (TX, FL, TN, KY, ND, SD, NE, KS, OR, ID: at most one hour
# off at the edges). A place not in the table (abroad, APO/FPO) falls back to US Eastern, the zone of most scans.
US_EASTERN = ZoneInfo("America/New_York")
STATE_ZONES: dict[str, ZoneInfo] = {
    state: ZoneInfo(zone)
    for zone, states in {
        "America/New_York": "CT DC DE FL GA KY MA MD ME NC NH NJ NY OH PA RI SC VA VT WV",
        "America/Detroit": "MI",
        "America/Indiana/Indianapolis": "IN",
        "America/Chicago": "AL AR IA IL KS LA MN MO MS ND NE OK SD TN TX WI",
        "America/Denver": "CO MT NM UT WY",
        "America/Boise": "ID",
        "America/Phoenix": "AZ",
        "America/Los_Angeles": "CA NV OR WA",
        "America/Anchorage": "AK",
        "Pacific/Honolulu": "HI",
        "America/Puerto_Rico": "PR",
        "America/St_Thomas": "VI",
        "Pacific/Guam": "GU",
        "Pacific/Saipan": "MP",
        "Pacific/Pago_Pago": "AS",
    }.items()
    for state in states.split()
}

# Event codes: USPS Pub 199 Appendix G-4 (domestic scan events), as listed by public Web Tools clients
# (USPS::WebTools::Tracking::Codes) and seen in real answers (A1, T1, TL, GX in karrio's fixture).
EVENTS: dict[str, tuple[K, Status]] = {
    "GX": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # shipping label created, USPS awaiting item
    "MA": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # manifest acknowledgement
    "03": (K.PICKED_UP, Status.IN_TRANSIT),  # accepted or picked up by the carrier
    "TM": (K.PICKED_UP, Status.IN_TRANSIT),  # truck manifest: shipment acceptance
    "PA": (K.PICKED_UP, Status.IN_TRANSIT),  # passive acceptance
    "80": (K.PICKED_UP, Status.IN_TRANSIT),  # picked up by shipping partner
    "10": (K.IN_TRANSIT, Status.IN_TRANSIT),  # processed / arrived at origin facility
    "PC": (K.IN_TRANSIT, Status.IN_TRANSIT),  # sorting / processing complete
    "A1": (K.IN_TRANSIT, Status.IN_TRANSIT),  # arrived at USPS regional facility
    "T1": (K.IN_TRANSIT, Status.IN_TRANSIT),  # departed USPS regional facility
    "TL": (K.IN_TRANSIT, Status.IN_TRANSIT),  # in transit to next facility
    "EF": (K.IN_TRANSIT, Status.IN_TRANSIT),  # departed sort facility
    "SF": (K.IN_TRANSIT, Status.IN_TRANSIT),  # departed post office
    "19": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "41": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "42": (K.IN_TRANSIT, Status.IN_TRANSIT),  # USPS handoff to shipping partner
    "81": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "82": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "06": (K.IN_TRANSIT, Status.IN_TRANSIT),  # forwarded
    "08": (K.IN_TRANSIT, Status.IN_TRANSIT),  # missent: rerouted, news rather than an incident
    "15": (K.IN_TRANSIT, Status.IN_TRANSIT),  # mis-shipped
    "71": (K.IN_TRANSIT, Status.IN_TRANSIT),  # rescheduled to next delivery day
    "DX": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delivery status not updated
    "07": (K.ARRIVED, Status.IN_TRANSIT),  # arrival at the delivery unit
    "OF": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),
    "14": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),  # arrival at pickup point
    "16": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),
    "01": (K.DELIVERED, Status.DELIVERED),
    "17": (K.DELIVERED, Status.DELIVERED),  # picked up by agent
    "43": (K.DELIVERED, Status.DELIVERED),  # picked up at the post office
    "02": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # attempted, notice left
    "30": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # no access to delivery location
    "51": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # business closed
    "52": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),
    "53": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # receptacle blocked
    "54": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # receptacle full / item oversized
    "55": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # no secure location
    "56": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # no authorized recipient
    "04": (K.RETURNING, Status.EXCEPTION),  # refused
    "05": (K.ADDRESS_PROBLEM, Status.EXCEPTION),  # undeliverable as addressed
    "09": (K.RETURNING, Status.EXCEPTION),  # return to sender
    "21": (K.ADDRESS_PROBLEM, Status.EXCEPTION),  # no such number
    "22": (K.ADDRESS_PROBLEM, Status.EXCEPTION),  # insufficient address
    "23": (K.RETURNING, Status.EXCEPTION),  # moved, left no address
    "24": (K.RETURNING, Status.EXCEPTION),  # forward expired
    "25": (K.RETURNING, Status.EXCEPTION),  # addressee unknown
    "26": (K.RETURNING, Status.EXCEPTION),  # vacant
    "27": (K.RETURNING, Status.EXCEPTION),  # unclaimed
    "28": (K.RETURNING, Status.EXCEPTION),  # deceased
    "29": (K.RETURNING, Status.EXCEPTION),  # returned, other reason
    "31": (K.RETURNING, Status.EXCEPTION),  # not picked up
    "11": (K.LOST, Status.EXCEPTION),  # dead letter
    "44": (K.CANCELLED, Status.EXCEPTION),  # customer recall
}
UNKNOWN = (K.UNKNOWN, Status.UNKNOWN)

# International scans (Pub 199 G-5) use codes the table does not cover; their wording still says what happened.
WORDS: tuple[tuple[str, tuple[K, Status]], ...] = (
    ("held in customs", (K.CUSTOMS_HELD, Status.EXCEPTION)),
    ("customs", (K.CUSTOMS, Status.IN_TRANSIT)),
    ("return to sender", (K.RETURNING, Status.EXCEPTION)),
    ("out for delivery", (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY)),
    ("notice left", (K.DELIVERY_FAILED, Status.DELIVERY_FAILED)),
    ("delivery attempt", (K.DELIVERY_FAILED, Status.DELIVERY_FAILED)),
    ("available for pickup", (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP)),
    ("delivered", (K.DELIVERED, Status.DELIVERED)),
)

# statusCategory (Pub 199 G-4/G-5), used when the newest event's code says nothing we know.
CATEGORIES: dict[str, Status] = {
    "pre-shipment": Status.INFO_RECEIVED,
    "label created": Status.INFO_RECEIVED,
    "accepted": Status.IN_TRANSIT,
    "in transit": Status.IN_TRANSIT,
    "in-transit": Status.IN_TRANSIT,
    "out for delivery": Status.OUT_FOR_DELIVERY,
    "available for pickup": Status.AVAILABLE_FOR_PICKUP,
    "delivery attempt": Status.DELIVERY_FAILED,
    "delivered": Status.DELIVERED,
    "alert": Status.EXCEPTION,
    "return to sender": Status.EXCEPTION,
}


def meaning(code: str, text: str) -> tuple[K, Status]:
    """What one scan means: its Pub 199 code, else its wording, else unknown."""
    if code in EVENTS:
        return EVENTS[code]
    low = text.lower()
    return next((m for words, m in WORDS if words in low), UNKNOWN)


def event_time(e: dict[str, Any]) -> datetime:
    """The scan's instant: GMTTimestamp, else the local time with GMTOffset, else in its state's zone (STATE_ZONES)."""
    if e.get("GMTTimestamp"):
        return aware(str(e["GMTTimestamp"]), UTC)
    local = str(e["eventTimestamp"]).strip()
    # A trailing Z here is no UTC marker: the wall time is local to the scan.
    value = datetime.fromisoformat(local.removesuffix("Z").removesuffix("z"))
    if value.tzinfo:
        return value  # a real offset ("-05:00") says what it means
    # GMTOffset: the OpenAPI example writes "-7:00", real answers "-05:00"
    zone = utc_offset(e.get("GMTOffset")) or STATE_ZONES.get(str(e.get("eventState") or "").strip().upper())
    return value.replace(tzinfo=zone or US_EASTERN)


TIME_FIELDS = ("GMTTimestamp", "eventTimestamp", "GMTOffset", "eventState")  # a scan's time, in its raw fields


def estimated(details: dict[str, Any], number: str) -> date | None:
    """The expected (else predicted) delivery date."""
    for key in ("expectedDeliveryTimeStamp", "predictedDeliveryDate", "expectedDeliveryDate"):
        if details.get(key):
            return read_estimate("usps", number, details[key])
    return None


def error_of(payload: Any, number: str, http: int) -> CarrierError:
    """A USPS error body as NotFoundError (unknown or malformed number) or BadPayloadError."""
    err = payload.get("error") if isinstance(payload, dict) else None
    err = err if isinstance(err, dict) else {"message": str(err or "")}
    text = str(err.get("message") or "")
    if http in (400, 404) or "not found" in text.lower():
        return NotFoundError(text[:200] or "unknown number", carrier="usps", number=number)
    return BadPayloadError(f"error {err.get('code', http)}: {text}"[:200], carrier="usps", number=number)


def parse(payload: Any, number: str) -> Shipment | CarrierError:
    """One TrackingDetails answer as a Shipment, or that number's error."""
    if "error" in payload:
        return error_of(payload, number, 200)
    events = []
    for e in payload.get("trackingEvents") or ():
        at = read_time("usps", number, {k: e[k] for k in TIME_FIELDS if k in e}, event_time)
        if at is None:
            continue
        code, text = str(e.get("eventCode") or ""), str(e.get("eventType") or "")
        place = ", ".join(str(e[k]) for k in ("eventCity", "eventState", "eventCountry") if e.get(k))
        events.append(TrackingEvent(at, meaning(code, text)[0], text, place, code or text, "usps"))
    latest = max(events, key=lambda e: e.time) if events else None
    status = meaning(latest.code, latest.description)[1] if latest else Status.UNKNOWN
    if status is Status.UNKNOWN:
        status = CATEGORIES.get(str(payload.get("statusCategory") or "").strip().lower(), Status.UNKNOWN)
    if status is Status.DELIVERED and any(e.kind is K.RETURNING for e in events):
        status = Status.RETURNED  # delivered after a return-to-sender scan: back with the seller
    extra = {k: str(payload[v]) for k, v in (("mail_class", "mailClass"), ("summary", "statusSummary"))
             if payload.get(v) not in (None, "")}
    return Shipment(number, "usps", status, tuple(events), str(payload.get("statusCategory") or ""),
                    estimated(payload, number), extra)


class UspsCarrier(OAuthCarrier):
    """USPS Tracking v3."""

    id = "usps"
    label = "USPS"
    max_batch = 1
    BASE_URL = "https://apis.usps.com"
    TOKEN_PATH = "/oauth2/v3/token"
    # developers.usps.com/getting-started: a new app's default quota is 60 calls per hour per API product.
    # The daily budget holds the average; a burst past the hourly quota gets a 429 with Retry-After, whose
    # wait is stored. Pacing requests a minute apart instead would hold a cycle for minutes.
    DEFAULT_RATE = 1.0
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = 24 * 60

    def token_request(self) -> dict[str, Any]:
        """The documented form plus scope=tracking (the scope the Tracking API's OpenAPI names)."""
        form = super().token_request()
        form["data"]["scope"] = "tracking"
        return form

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """GET /tracking/v3/tracking/{n}?expand=DETAIL for each number (one per call)."""
        out: FetchResult = {}
        for number in numbers:
            resp = await self.request("GET", f"/tracking/v3/tracking/{number}", params={"expand": "DETAIL"},
                                      ok=(400, 404))
            payload = self.json_object(resp)
            out[number] = (error_of(payload, number, resp.status_code) if resp.status_code != 200
                           else guard(self.id, number, parse, payload, number))
        return out
