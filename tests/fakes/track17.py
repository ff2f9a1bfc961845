"""Fake 17TRACK v2.2: POST /register and /gettrackinfo with the `17token` header, 40 numbers per call.

As the real API: errors come as HTTP 200 with a non-zero `code`; gettrackinfo rejects a number never registered
(-18019902); registering twice is rejected as -18019901 and spends no quota; a number no carrier recognises is
rejected as -18019903; each accepted registration spends one unit of `quota` (-18019908 once it is spent).
"""
from __future__ import annotations

from datetime import UTC
from typing import Any

from tests.fakes.server import FakeApi, Request, Response, Stage, Step, World, iso

# Stage -> (event `stage`, latest_status.sub_status): key stages carry a stage, ordinary scans null.
CODES: dict[Stage, tuple[str | None, str]] = {
    Stage.INFO_RECEIVED: ("InfoReceived", "InfoReceived"),
    Stage.PICKED_UP: ("PickedUp", "InTransit_PickedUp"),
    Stage.EXPORTED: ("Departure", "InTransit_Departure"),
    Stage.ARRIVED: ("Arrival", "InTransit_Arrival"),
    Stage.IN_TRANSIT: (None, "InTransit_Other"),
    Stage.CUSTOMS: (None, "InTransit_CustomsProcessing"),
    Stage.CUSTOMS_HELD: (None, "InTransit_CustomsRequiringInformation"),
    Stage.OUT_FOR_DELIVERY: ("OutForDelivery", "OutForDelivery_Other"),
    Stage.AVAILABLE_FOR_PICKUP: ("AvailableForPickup", "AvailableForPickup_Other"),
    Stage.DELIVERY_FAILED: (None, "DeliveryFailure_Other"),
    Stage.DELIVERED: ("Delivered", "Delivered_Other"),
    Stage.RETURNING: ("Returning", "Exception_Returning"),
    Stage.RETURNED: ("Returned", "Exception_Returned"),
    Stage.EXCEPTION: (None, "Exception_Other"),
}
KEY_STAGES = ("InfoReceived", "PickedUp", "Departure", "Arrival", "AvailableForPickup", "OutForDelivery", "Delivered",
              "Returning", "Returned")
MAX_NUMBERS = 40
CHINA_POST = 3011


def _error(code: int, message: str) -> Response:
    return Response(200, {"code": code, "data": {"errors": [{"code": code, "message": message}]}})


def _rejected(number: str, code: int, message: str) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}


class Track17Api(FakeApi):
    """The fake; `registrations` lists every number whose registration spent quota."""

    id = "17track"

    def __init__(self, world: World, key: str = "test-key", quota: int = 100) -> None:
        super().__init__(world, key)
        self.quota = quota
        self.registered: set[str] = set()
        self.registrations: list[str] = []

    def handle(self, req: Request) -> Response:
        """Answer like api.17track.net/track/v2.2."""
        if req.headers.get("17token") != self.key:
            return _error(-18010002, "Invalid security key.")
        body = req.json()
        if not isinstance(body, list) or not all(isinstance(i, dict) and i.get("number") for i in body):
            return _error(-18010013, "Invalid submitted data.")
        if len(body) > MAX_NUMBERS:
            return _error(-18010014, f"Tracking numbers exceed the {MAX_NUMBERS} limit.")
        numbers = [str(i["number"]).upper() for i in body]
        if req.path == "/register":
            return self.register(numbers)
        if req.path == "/gettrackinfo":
            return self.gettrackinfo(numbers)
        return Response(404, {"code": 404, "message": "not found"})

    def register(self, numbers: list[str]) -> Response:
        """Accept unknown numbers a carrier recognises, while quota lasts."""
        accepted, rejected = [], []
        for n in numbers:
            if n in self.registered:
                rejected.append(_rejected(n, -18019901, f"Tracking number {n} is already registered."))
            elif n not in self.world.parcels:
                rejected.append(_rejected(n, -18019903, "Carrier cannot be detected."))
            elif self.quota <= 0:
                rejected.append(_rejected(n, -18019908, "The quota is used up."))
            else:
                self.quota -= 1
                self.registered.add(n)
                self.registrations.append(n)
                accepted.append({"origin": 1, "number": n, "carrier": CHINA_POST})
        return Response(200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}})

    def gettrackinfo(self, numbers: list[str]) -> Response:
        """Registered numbers answer their track_info; the others are rejected as not registered."""
        accepted, rejected = [], []
        for n in numbers:
            if n in self.registered:
                accepted.append({"number": n, "carrier": CHINA_POST, "param": None, "tag": None,
                                 "track_info": self.track_info(self.world.visible(n))})
            else:
                rejected.append(_rejected(n, -18019902, f"Tracking number {n} is not registered yet. Register first."))
        return Response(200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}})

    def track_info(self, steps: list[Step] | None) -> dict[str, Any]:
        """A track_info object; no visible step yet answers the NotFound status."""
        events = [self.event(s) for s in reversed(steps or [])]  # newest first, as 17TRACK sends them
        reached = {CODES[s.stage][0]: s for s in steps or [] if CODES[s.stage][0]}
        sub = CODES[steps[-1].stage][1] if steps else "NotFound_Other"
        return {
            "latest_status": {"status": sub.split("_")[0], "sub_status": sub, "sub_status_descr": None},
            "latest_event": events[0] if events else None,
            "time_metrics": {"days_after_order": 0, "days_of_transit": 0, "days_of_transit_done": 0,
                             "days_after_last_update": 0,
                             "estimated_delivery_date": {"source": None, "from": None, "to": None}},
            "milestone": [{"key_stage": k, "time_iso": iso(reached[k].at) if k in reached else None,
                           "time_utc": iso(reached[k].at.astimezone(UTC)).replace("+00:00", "Z")
                           if k in reached else None} for k in KEY_STAGES],
            "tracking": {"providers_hash": 0, "providers": [{
                "provider": {"key": CHINA_POST, "name": "China Post", "alias": "China Post", "tel": None,
                             "homepage": "http://www.chinapost.com.cn/", "country": "CN"},
                "service_type": None, "latest_sync_status": "Success", "latest_sync_time": None,
                "events_hash": 0, "events": events}] if steps else []},
        }

    @staticmethod
    def event(step: Step) -> dict[str, Any]:
        """One event: time_iso in the scan's own offset, time_utc in Z."""
        place = ", ".join(p for p in (step.city, step.country) if p)
        return {"time_iso": iso(step.at), "time_utc": iso(step.at.astimezone(UTC)).replace("+00:00", "Z"),
                "description": step.text, "location": place, "stage": CODES[step.stage][0],
                "address": {"country": step.country or None, "state": None, "city": step.city or None,
                            "street": None, "postal_code": None, "coordinates": {"longitude": None, "latitude": None}}}
