"""Fake USPS Tracking v3: POST /oauth2/v3/token (form), GET /tracking/v3/tracking/{n}?expand=DETAIL, one number."""
from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from tests.fakes.oauth import OAuthApi
from tests.fakes.server import Request, Response, Stage, Step

# Stage -> (eventCode, eventType, statusCategory), USPS wording (Pub 199); customs scans carry no domestic code.
CODES = {
    Stage.INFO_RECEIVED: ("GX", "Shipping Label Created, USPS Awaiting Item", "Pre-Shipment"),
    Stage.PICKED_UP: ("03", "USPS in possession of item", "Accepted"),
    Stage.EXPORTED: ("T1", "Departed USPS Regional Facility", "In Transit"),
    Stage.ARRIVED: ("07", "Arrived at Post Office", "In Transit"),
    Stage.IN_TRANSIT: ("TL", "In Transit to Next Facility", "In Transit"),
    Stage.CUSTOMS: ("", "Customs Clearance", "In Transit"),
    Stage.CUSTOMS_HELD: ("", "Held in Customs", "Alert"),
    Stage.OUT_FOR_DELIVERY: ("OF", "Out for Delivery", "Out for Delivery"),
    Stage.AVAILABLE_FOR_PICKUP: ("16", "Available for Pickup", "Available for Pickup"),
    Stage.DELIVERY_FAILED: ("02", "Notice Left", "Delivery Attempt"),
    Stage.DELIVERED: ("01", "Delivered, In/At Mailbox", "Delivered"),
    Stage.RETURNING: ("09", "Return to Sender", "Alert"),
    Stage.RETURNED: ("01", "Delivered, To Original Sender", "Delivered"),
    Stage.EXCEPTION: ("", "Alert", "Alert"),
}
LOCAL = ZoneInfo("America/Chicago")


class UspsApi(OAuthApi):
    """The fake."""

    id = "usps"
    TOKEN_PATH = "/oauth2/v3/token"
    TTL = 28799

    def token_answer(self, token: str) -> dict:
        """USPS sends expires_in as a string."""
        return {"access_token": token, "token_type": "Bearer", "expires_in": str(self.TTL), "status": "approved",
                "scope": "tracking", "issuer": "api.usps.com", "client_id": self.client_id}

    def token_refused(self, status: int) -> Response:
        """RFC 6749 error body."""
        return Response(status, {"error": "invalid_client", "error_description": "Client authentication failed."})

    def unauthorized(self) -> Response:
        """USPS error envelope."""
        return Response(401, {"apiVersion": "/tracking/v3", "error": {"code": "401", "message": "Unauthorized"}},
                        {"WWW-Authenticate": 'Bearer realm="https://api.usps.com"'})

    def track(self, req: Request) -> Response:
        """Answer like apis.usps.com/tracking/v3."""
        number = req.path.removeprefix("/tracking/v3/tracking/")
        if number == req.path or not number or "," in number:
            return Response(400, {"apiVersion": "/tracking/v3", "error": {"code": "400", "message": "Bad Request"}})
        steps = self.world.visible(number)
        if steps is None:
            return Response(404, {"apiVersion": "/tracking/v3", "error": {
                "code": "404", "message": "Tracking number not found.",
                "errors": [{"status": "404", "title": "Tracking number not found."}]}})
        last = CODES[steps[-1].stage]
        return Response(200, {"trackingNumber": number, "status": last[1], "statusCategory": last[2],
                              "mailClass": "Priority Mail International<SUP>&#174;</SUP>",
                              "trackingEvents": [self.event(s) for s in reversed(steps)]})

    def event(self, step: Step) -> dict:
        """One scan, newest first in the answer."""
        code, text, _ = CODES[step.stage]
        local = step.at.astimezone(LOCAL)
        return {"eventType": text, "eventTimestamp": local.replace(tzinfo=None).isoformat(timespec="seconds"),
                "GMTTimestamp": step.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "GMTOffset": local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:],
                "eventCountry": step.country or None, "eventCity": step.city.upper() or None, "eventState": None,
                "eventZIP": None, "firm": None, "name": None, "authorizedAgent": "false", "eventCode": code}
