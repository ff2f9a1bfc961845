"""Fake UPS Track API v1: POST /security/v1/oauth/token (Basic), GET /api/track/v1/details/{n} with transId."""
from __future__ import annotations

from datetime import UTC

from tests.fakes.oauth import OAuthApi
from tests.fakes.server import Request, Response, Stage, Step

# Stage -> (status.type, status.code, status.description), UPS wording.
CODES = {
    Stage.INFO_RECEIVED: ("M", "MP", "Shipper created a label, UPS has not received the package yet."),
    Stage.PICKED_UP: ("P", "PU", "Pickup Scan"),
    Stage.EXPORTED: ("I", "DP", "Departed from Facility"),
    Stage.ARRIVED: ("I", "AR", "Arrived at Facility"),
    Stage.IN_TRANSIT: ("I", "DP", "Departed from Facility"),
    Stage.CUSTOMS: ("I", "IP", "Import Scan"),
    Stage.CUSTOMS_HELD: ("X", "SC", "Your package is being held for clearance by the customs agency."),
    Stage.OUT_FOR_DELIVERY: ("I", "OT", "Out For Delivery Today"),
    Stage.AVAILABLE_FOR_PICKUP: ("I", "ZP", "Delivered to UPS Access Point - awaiting customer pickup"),
    Stage.DELIVERY_FAILED: ("X", "48", "The receiver was not available for delivery. We'll make a second attempt "
                                       "the next business day."),
    Stage.DELIVERED: ("D", "KB", "DELIVERED"),
    Stage.RETURNING: ("X", "RU", "This package is being returned to the sender."),
    Stage.RETURNED: ("RS", "RS", "Returned to shipper"),
    Stage.EXCEPTION: ("X", "XE", "An exception occurred; UPS is working to resolve it."),
}


class UpsApi(OAuthApi):
    """The fake."""

    id = "ups"
    TOKEN_PATH = "/security/v1/oauth/token"
    TTL = 14399

    def credentials(self, req: Request) -> tuple[str, str]:
        """UPS reads client credentials from HTTP Basic only."""
        return self.basic(req)

    def token_answer(self, token: str) -> dict:
        """UPS sends expires_in as a string."""
        return {"token_type": "Bearer", "issued_at": "1795780800000", "client_id": self.client_id,
                "access_token": token, "scope": "", "expires_in": str(self.TTL), "refresh_count": "0",
                "status": "approved"}

    def token_refused(self, status: int) -> Response:
        """UPS error envelope."""
        return Response(status, {"response": {"errors": [{"code": "10401", "message": "ClientId is Invalid"}]}})

    def unauthorized(self) -> Response:
        """UPS error envelope."""
        return Response(401, {"response": {"errors": [{"code": "250002",
                                                       "message": "Invalid Authentication Information."}]}})

    def track(self, req: Request) -> Response:
        """Answer like onlinetools.ups.com/api/track/v1."""
        if not req.headers.get("transid") or not req.headers.get("transactionsrc"):
            return Response(400, {"response": {"errors": [{"code": "TV1001", "message": "Missing transId"}]}})
        number = req.path.removeprefix("/api/track/v1/details/")
        if number == req.path or not number or "," in number:
            return Response(400, {"response": {"errors": [{"code": "TV1002", "message": "Invalid inquiry number"}]}})
        steps = self.world.visible(number)
        if steps is None:
            return Response(404, {"response": {"errors": [{"code": "TW0001",
                                                           "message": "Tracking Information Not Found"}]}})
        kind, code, text = CODES[steps[-1].stage]
        package = {"trackingNumber": number, "activity": [self.activity(s) for s in reversed(steps)],
                   "currentStatus": {"type": kind, "code": code, "description": text}, "packageCount": 1,
                   "service": {"code": "007", "description": "UPS Worldwide Express"}}
        return Response(200, {"trackResponse": {"shipment": [{"inquiryNumber": number, "package": [package]}]}})

    def activity(self, step: Step) -> dict:
        """One activity, newest first in the answer."""
        kind, code, text = CODES[step.stage]
        at = step.at.astimezone(UTC)
        return {"location": {"address": {"city": step.city, "countryCode": step.country, "country": step.country}},
                "status": {"type": kind, "code": code, "description": text},
                "date": at.strftime("%Y%m%d"), "time": at.strftime("%H%M%S"),
                "gmtDate": at.strftime("%Y%m%d"), "gmtTime": str(int(at.strftime("%H%M%S"))), "gmtOffset": "+00:00"}
