"""Fake AfterShip Tracking API: POST /trackings, GET /trackings?tracking_numbers=, GET /trackings/{id}.

As the real API: the `as-api-key` header, the `{meta, data}` envelope, 4003 for a number created twice, 4012 for a
number no carrier recognises, 4004 for an unknown id, at most 50 numbers per list call; a number never created
is simply absent from the list.
"""
from __future__ import annotations

import hashlib
from typing import Any

from tests.fakes.server import FakeApi, Request, Response, Stage, Step, World, iso

# Stage -> (tag, subtag) of a checkpoint.
CODES: dict[Stage, tuple[str, str]] = {
    Stage.INFO_RECEIVED: ("InfoReceived", "InfoReceived_001"),
    Stage.PICKED_UP: ("InTransit", "InTransit_002"),
    Stage.EXPORTED: ("InTransit", "InTransit_007"),
    Stage.ARRIVED: ("InTransit", "InTransit_004"),
    Stage.IN_TRANSIT: ("InTransit", "InTransit_001"),
    Stage.CUSTOMS: ("InTransit", "InTransit_006"),
    Stage.CUSTOMS_HELD: ("Exception", "Exception_004"),
    Stage.OUT_FOR_DELIVERY: ("OutForDelivery", "OutForDelivery_001"),
    Stage.AVAILABLE_FOR_PICKUP: ("AvailableForPickup", "AvailableForPickup_001"),
    Stage.DELIVERY_FAILED: ("AttemptFail", "AttemptFail_001"),
    Stage.DELIVERED: ("Delivered", "Delivered_001"),
    Stage.RETURNING: ("Exception", "Exception_010"),
    Stage.RETURNED: ("Exception", "Exception_011"),
    Stage.EXCEPTION: ("Exception", "Exception_001"),
}
MAX_NUMBERS = 50
SLUG = "china-post"


def _meta(status: int, code: int, message: str, kind: str = "BadRequest", data: Any = None) -> Response:
    return Response(status, {"meta": {"code": code, "message": message, "type": kind}, "data": data or {}})


class AfterShipApi(FakeApi):
    """The fake; `created` maps each tracked number to its id."""

    id = "aftership"

    def __init__(self, world: World, key: str = "test-key") -> None:
        super().__init__(world, key)
        self.created: dict[str, str] = {}

    def handle(self, req: Request) -> Response:
        """Answer like api.aftership.com/tracking/2026-07."""
        if req.headers.get("as-api-key") != self.key:
            return _meta(401, 401, "Invalid API key.", "Unauthorized")
        if req.method == "POST" and req.path == "/trackings":
            return self.create(req.json())
        if req.method == "GET" and req.path == "/trackings":
            return self.list(req.query)
        if req.method == "GET" and req.path.startswith("/trackings/"):
            ident = req.path.removeprefix("/trackings/")
            number = next((n for n, i in self.created.items() if i == ident), None)
            if number is None:
                return _meta(404, 4004, "Tracking does not exist.")
            return _meta(200, 200, "", "OK", self.tracking(number))
        return _meta(404, 404, "The URI requested is invalid or the resource requested does not exist.", "NotFound")

    def create(self, body: Any) -> Response:
        """Create a tracking once; a second time is 4003."""
        number = str((body or {}).get("tracking_number") or "").upper()
        if not number:
            return _meta(400, 4007, "tracking_number is required.")
        if number in self.created:
            return _meta(400, 4003, "Tracking already exists.", data={"id": self.created[number],
                                                                      "tracking_number": number, "slug": SLUG})
        if number not in self.world.parcels:
            return _meta(400, 4012, "Unable to import shipment as we don’t recognize the carrier from this "
                                    "tracking number.")
        self.created[number] = hashlib.blake2s(number.encode(), digest_size=16).hexdigest()
        return _meta(201, 201, "", "Created", self.tracking(number))

    def list(self, query: dict[str, list[str]]) -> Response:
        """GET /trackings: the created numbers among those asked."""
        numbers = [n.upper() for n in (query.get("tracking_numbers") or [""])[0].split(",") if n]
        if len(numbers) > MAX_NUMBERS:
            return _meta(400, 4008, "The value of tracking_numbers is invalid.")
        found = [self.tracking(n) for n in numbers if n in self.created]
        return _meta(200, 200, "", "OK", {"pagination": {"total": len(found), "next_cursor": None,
                                                          "has_next_page": False}, "trackings": found})

    def tracking(self, number: str) -> dict[str, Any]:
        """A tracking object; no visible step yet is tag Pending with no checkpoint."""
        steps = self.world.visible(number) or []
        tag, subtag = CODES[steps[-1].stage] if steps else ("Pending", "Pending_001")
        return {
            "id": self.created.get(number, ""), "tracking_number": number, "slug": SLUG, "active": True,
            "tag": tag, "subtag": subtag, "subtag_message": steps[-1].text if steps else "Pending",
            "return_to_sender": tag == "Exception" and subtag in ("Exception_010", "Exception_011"),
            "courier_estimated_delivery_date": {"estimated_delivery_date": None, "estimated_delivery_date_min": None,
                                                "estimated_delivery_date_max": None},
            "checkpoints": [self.checkpoint(s) for s in steps],  # oldest first, as AfterShip sends them
        }

    @staticmethod
    def checkpoint(step: Step) -> dict[str, Any]:
        """One checkpoint."""
        tag, subtag = CODES[step.stage]
        return {"slug": SLUG, "checkpoint_time": iso(step.at), "created_at": iso(step.at), "message": step.text,
                "location": ", ".join(p for p in (step.city, step.country) if p) or None, "city": step.city or None,
                "state": None, "postal_code": None, "country_region": step.country or None,
                "country_region_name": None, "tag": tag, "subtag": subtag, "subtag_message": step.text,
                "raw_tag": subtag, "source": "carrier"}
