"""Fake DHL Shipment Tracking – Unified: GET /shipments?trackingNumber=N with DHL-API-Key, one number a call."""
from __future__ import annotations

from collections import Counter
from datetime import UTC
from zoneinfo import ZoneInfo

from tests.fakes.server import FakeApi, Request, Response, Stage, Step, World, iso

# What DHL says for each stage: its statusCode and its own English wording (the parcel-de texts).
STAGES = {
    Stage.INFO_RECEIVED: ("pre-transit",
                          "The instruction data for this shipment have been provided by the sender to DHL electronically"),
    Stage.PICKED_UP: ("transit", "The shipment has been posted by the sender at the retail outlet"),
    Stage.EXPORTED: ("transit", "The shipment has left the country of origin"),
    Stage.ARRIVED: ("transit", "The shipment has arrived in the destination country"),
    Stage.IN_TRANSIT: ("transit", "The shipment has been processed in the parcel center"),
    Stage.CUSTOMS: ("transit", "Customs clearance status updated"),
    Stage.CUSTOMS_HELD: ("failure", "The shipment is held by customs"),
    Stage.OUT_FOR_DELIVERY: ("transit", "The shipment has been loaded onto the delivery vehicle"),
    Stage.AVAILABLE_FOR_PICKUP: ("transit", "The shipment is ready for pick-up at the retail outlet"),
    Stage.DELIVERY_FAILED: ("failure", "The shipment could not be delivered, and the recipient has been notified"),
    Stage.DELIVERED: ("delivered", "The shipment has been delivered"),
    Stage.RETURNING: ("failure", "The shipment could not be delivered and will be returned to the sender"),
    Stage.RETURNED: ("delivered", "The shipment has been delivered back to the sender"),
    Stage.EXCEPTION: ("failure", "The shipment is on hold"),
}
ZONES = {  # the countries tests script parcels in
    "DE": "Europe/Berlin", "FR": "Europe/Paris", "NL": "Europe/Amsterdam", "CN": "Asia/Shanghai"}
UNAUTHORIZED = {"title": "Unauthorized", "detail": "Unauthorized for given resource.", "status": 401}
TOO_MANY = {"title": "Too many requests", "detail": "Too many requests within defined time period.", "status": 429}


class DhlApi(FakeApi):
    """The fake; `daily_quota` makes it answer 429 once that many calls were made in a UTC day (of world.now)."""

    id = "dhl"

    def __init__(self, world: World, key: str = "test-key", service: str = "parcel-de",
                 daily_quota: int | None = None) -> None:
        super().__init__(world, key)
        self.service = service  # parcel services send naive local times, express sends offsets
        self.daily_quota = daily_quota
        self.calls: Counter[str] = Counter()  # UTC day -> calls answered

    def handle(self, req: Request) -> Response:
        """Answer like api-eu.dhl.com/track."""
        if req.headers.get("dhl-api-key") != self.key:
            return Response(401, UNAUTHORIZED)
        if req.path != "/shipments":
            return Response(404, {"title": "Not Found", "status": 404, "detail": "no such resource"})
        numbers = req.query.get("trackingNumber", [])
        if len(numbers) != 1 or "," in numbers[0]:
            return Response(400, {"title": "Bad request", "status": 400,
                                  "detail": "exactly one trackingNumber is expected"})
        day = self.world.now().astimezone(UTC).date().isoformat()
        if self.daily_quota is not None and self.calls[day] >= self.daily_quota:
            return Response(429, TOO_MANY)
        self.calls[day] += 1
        number = numbers[0]
        steps = self.world.visible(number)
        if steps is None:
            return Response(404, {"title": "No result found", "status": 404,
                                  "detail": "No shipment with given tracking number found.",
                                  "instance": f"/shipments?trackingNumber={number}"})
        events = [self.event(s) for s in reversed(steps)]  # newest first, as DHL sends them
        return Response(200, {"shipments": [{
            "id": number, "service": self.service, "status": events[0],
            "origin": {"address": {"countryCode": steps[0].country}}, "events": events,
        }]})

    def event(self, step: Step) -> dict:
        """One step as a DHL event."""
        code, text = STAGES[step.stage]
        if self.service == "express":
            stamp = iso(step.at)
        else:  # a parcel service: local time where it happened (else in the service's country), no offset
            zone = ZONES.get(step.country or self.service.rpartition("-")[2].upper(), "UTC")
            stamp = iso(step.at.astimezone(ZoneInfo(zone)), offset=False)
        address = {k: v for k, v in (("addressLocality", step.city), ("countryCode", step.country)) if v}
        return {"timestamp": stamp, "location": {"address": address}, "statusCode": code, "status": text,
                "description": text}
