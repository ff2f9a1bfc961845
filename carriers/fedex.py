"""FedEx through the Track API v1 (developer.fedex.com; OAuth client credentials in a form).

Wire format confirmed against developer.fedex.com (Track API: "up to 30 tracking numbers" per request;
Quotas & rate limits guide) and real answers in karrio's FedEx tracking tests:
`POST /track/v1/trackingnumbers {"includeDetailedScans": true, "trackingInfo": [{"trackingNumberInfo":
{"trackingNumber": ..}}]}` answers `output.completeTrackResults[] {trackingNumber, trackResults[]}`; a result
has `latestStatusDetail{code, derivedCode, description}`, `scanEvents[]` newest first with `date` (ISO, with
offset), `eventType`, `eventDescription`, `exceptionDescription`, `derivedStatusCode`, `scanLocation{city,
stateOrProvinceCode, countryCode}`, or `error{code: TRACKING.TRACKINGNUMBER.NOTFOUND, message}`. Whole-call
errors are `{"transactionId", "errors": [{"code", "message"}]}`. An event's derived code is coarser than its
own type (an OD "On FedEx vehicle for delivery" scan is derived IT), so the type is read first.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from carriers.base import FetchResult
from carriers.errors import BadPayloadError, CarrierError, NotFoundError
from carriers.http import UNREADABLE, OAuthCarrier, guard
from carriers.model import EventKind as K
from carriers.model import Shipment, Status, TrackingEvent, aware, read_estimate, read_time

MAX_NUMBERS = 30
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Scan event types and derived status codes share one vocabulary (FedEx Track status codes).
CODES: dict[str, tuple[K, Status]] = {
    "IN": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # derived: initiated, label created
    "OC": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # shipment information sent to FedEx
    "AP": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # at pickup
    "EP": (K.INFO_RECEIVED, Status.INFO_RECEIVED),  # enroute to pickup
    "PU": (K.PICKED_UP, Status.IN_TRANSIT),
    "PX": (K.PICKED_UP, Status.IN_TRANSIT),
    "AA": (K.IN_TRANSIT, Status.IN_TRANSIT),  # at airport
    "AF": (K.IN_TRANSIT, Status.IN_TRANSIT),  # at local FedEx facility
    "AO": (K.IN_TRANSIT, Status.IN_TRANSIT),  # shipment arriving on time
    "AE": (K.IN_TRANSIT, Status.IN_TRANSIT),  # shipment arriving early
    "AR": (K.IN_TRANSIT, Status.IN_TRANSIT),  # arrived at FedEx location
    "AX": (K.IN_TRANSIT, Status.IN_TRANSIT),  # at USPS facility
    "DP": (K.IN_TRANSIT, Status.IN_TRANSIT),  # departed
    "EA": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "ED": (K.IN_TRANSIT, Status.IN_TRANSIT),  # enroute to delivery
    "EO": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "FD": (K.IN_TRANSIT, Status.IN_TRANSIT),  # at FedEx destination
    "IT": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "IX": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "LO": (K.IN_TRANSIT, Status.IN_TRANSIT),  # left origin
    "OF": (K.IN_TRANSIT, Status.IN_TRANSIT),  # at FedEx origin facility
    "OX": (K.IN_TRANSIT, Status.IN_TRANSIT),  # handed to USPS for the last mile
    "PF": (K.EXPORTED, Status.IN_TRANSIT),  # plane in flight
    "PL": (K.IN_TRANSIT, Status.IN_TRANSIT),  # plane landed
    "PM": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "SF": (K.IN_TRANSIT, Status.IN_TRANSIT),  # at sort facility
    "TR": (K.IN_TRANSIT, Status.IN_TRANSIT),
    "CH": (K.IN_TRANSIT, Status.IN_TRANSIT),  # location changed
    "SP": (K.IN_TRANSIT, Status.IN_TRANSIT),  # split status
    "DD": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delivery delay: news, not yet an incident
    "DY": (K.IN_TRANSIT, Status.IN_TRANSIT),  # delay
    "PD": (K.IN_TRANSIT, Status.IN_TRANSIT),  # pickup delay
    "RL": (K.IN_TRANSIT, Status.IN_TRANSIT),  # derived: running late
    "BR": (K.CUSTOMS, Status.IN_TRANSIT),  # with the customs broker
    "CC": (K.CUSTOMS, Status.IN_TRANSIT),  # cleared customs
    "CP": (K.CUSTOMS, Status.IN_TRANSIT),  # clearance in progress
    "CU": (K.CUSTOMS, Status.IN_TRANSIT),
    "CD": (K.CUSTOMS_HELD, Status.EXCEPTION),  # clearance delay
    "AD": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),  # at delivery
    "OD": (K.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY),
    "HL": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),  # hold at location
    "HP": (K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),  # ready for recipient pickup
    "DL": (K.DELIVERED, Status.DELIVERED),
    "DE": (K.DELIVERY_FAILED, Status.DELIVERY_FAILED),  # delivery exception
    "SE": (K.EXCEPTION, Status.EXCEPTION),  # shipment exception
    "RS": (K.RETURNING, Status.EXCEPTION),  # return to shipper
    "CA": (K.CANCELLED, Status.EXCEPTION),
}
UNKNOWN = (K.UNKNOWN, Status.UNKNOWN)
# A DE or SE scan's exceptionDescription says which incident it is.
WORDS: tuple[tuple[str, K], ...] = (("address", K.ADDRESS_PROBLEM), ("damage", K.DAMAGED), ("return", K.RETURNING))


def meaning(scan: dict[str, Any]) -> tuple[K, Status]:
    """What one scan means: its event type, else its derived code, refined by the exception text."""
    found = CODES.get(str(scan.get("eventType") or ""), CODES.get(str(scan.get("derivedStatusCode") or ""), UNKNOWN))
    if found[0] in (K.DELIVERY_FAILED, K.EXCEPTION):
        text = str(scan.get("exceptionDescription") or "").lower()
        found = next(((kind, found[1]) for word, kind in WORDS if word in text), found)
    return found


def estimated(result: dict[str, Any], number: str) -> date | None:
    """The end (else start) of the estimated delivery window, else an ESTIMATED_DELIVERY date."""
    window = (result.get("estimatedDeliveryTimeWindow") or {}).get("window") or {}
    stamps = [window.get("ends"), window.get("begins")]
    stamps += [d.get("dateTime") for d in result.get("dateAndTimes") or () if d.get("type") == "ESTIMATED_DELIVERY"]
    return read_estimate("fedex", number, next((s for s in stamps if s), None))


def error_of(err: dict[str, Any], number: str) -> CarrierError:
    """A FedEx error object as NotFoundError (unknown or invalid number) or BadPayloadError."""
    code, text = str(err.get("code") or ""), str(err.get("message") or "")
    if code.endswith((".NOTFOUND", ".INVALID")):
        return NotFoundError(text[:200] or code, carrier="fedex", number=number)
    return BadPayloadError(f"{code}: {text}"[:200], carrier="fedex", number=number)


def parse_result(result: dict[str, Any], number: str) -> Shipment | CarrierError:
    """One trackResults item as a Shipment, or that number's error."""
    if result.get("error"):
        return error_of(result["error"], number)
    events = []
    for s in result.get("scanEvents") or ():
        at = read_time("fedex", number, s["date"], aware)
        if at is None:
            continue
        loc = s.get("scanLocation") or {}
        place = ", ".join(str(loc[k]) for k in ("city", "stateOrProvinceCode", "countryCode") if loc.get(k))
        text = " - ".join(str(s[k]) for k in ("eventDescription", "exceptionDescription") if s.get(k))
        events.append(TrackingEvent(at, meaning(s)[0], text, place,
                                    str(s.get("eventType") or s.get("derivedStatusCode") or ""), "fedex"))
    latest = result.get("latestStatusDetail") or {}
    found = CODES.get(str(latest.get("code") or ""), CODES.get(str(latest.get("derivedCode") or ""), UNKNOWN))
    status = found[1]
    if status is Status.UNKNOWN and events:
        status = CODES.get(max(events, key=lambda e: e.time).code, UNKNOWN)[1]  # no latestStatusDetail
    if status is Status.DELIVERED and any(e.kind is K.RETURNING for e in events):
        status = Status.RETURNED  # delivered after a return-to-shipper scan: back with the seller
    service = (result.get("serviceDetail") or {}).get("description")
    return Shipment(number, "fedex", status, tuple(events), str(latest.get("code") or latest.get("derivedCode") or ""),
                    estimated(result, number), {"service": str(service)} if service else {})


def newest(results: list[Shipment | CarrierError]) -> Shipment | CarrierError:
    """Of several results for one number (FedEx reuses numbers), the one with the most recent scan."""
    found = [s for s in results if isinstance(s, Shipment)]
    if not found:
        return results[0]
    return max(found, key=lambda s: s.events[-1].time if s.events else EPOCH)


def parse(payload: Any, numbers: Sequence[str]) -> FetchResult:
    """A whole Track API answer as results for the numbers asked."""
    out: FetchResult = {}
    for item in payload["output"]["completeTrackResults"]:
        number = str(item.get("trackingNumber") or "").strip().upper()
        if number not in numbers:
            continue
        results = [guard("fedex", number, parse_result, r, number) for r in item.get("trackResults") or ()]
        out[number] = newest(results) if results else BadPayloadError("no trackResults", carrier="fedex",
                                                                      number=number)
    return out


class FedexCarrier(OAuthCarrier):
    """FedEx Track API v1."""

    id = "fedex"
    label = "FedEx"
    max_batch = MAX_NUMBERS
    BASE_URL = "https://apis.fedex.com"
    TOKEN_PATH = "/oauth/token"
    # Quotas & rate limits guide: 1,400 requests per 10 s per project; tracking 100,000 requests a day
    # per project (reset at 00:00 GMT). Stay well below the burst limit.
    DEFAULT_RATE = 10.0
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = 100_000

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """POST /track/v1/trackingnumbers with up to 30 numbers."""
        body = {"includeDetailedScans": True,
                "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers]}
        resp = await self.request("POST", "/track/v1/trackingnumbers", json=body, ok=(400, 404))
        payload = self.json_object(resp)
        if payload.get("errors") or resp.status_code != 200:
            err = (payload.get("errors") or [{}])[0]
            results = {n: error_of(err, n) for n in numbers}
            if all(isinstance(r, NotFoundError) for r in results.values()):
                return results
            raise BadPayloadError(f"{err.get('code', resp.status_code)}: {err.get('message', '')}"[:200],
                                  carrier=self.id)
        try:
            return parse(payload, numbers)
        except UNREADABLE as exc:
            raise BadPayloadError(f"unreadable answer ({type(exc).__name__})", carrier=self.id) from None
