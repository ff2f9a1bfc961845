"""Fake FedEx Track API v1: POST /oauth/token (form), POST /track/v1/trackingnumbers with up to 30 numbers."""
from __future__ import annotations

from tests.fakes.oauth import OAuthApi
from tests.fakes.server import Request, Response, Stage, Step, iso

MAX_NUMBERS = 30
# Stage -> (eventType, derivedStatusCode, eventDescription), FedEx wording; derived codes are coarser.
CODES = {
    Stage.INFO_RECEIVED: ("OC", "IN", "Shipment information sent to FedEx"),
    Stage.PICKED_UP: ("PU", "PU", "Picked up"),
    Stage.EXPORTED: ("DP", "IT", "Left FedEx origin facility"),
    Stage.ARRIVED: ("AR", "IT", "Arrived at FedEx location"),
    Stage.IN_TRANSIT: ("IT", "IT", "In transit"),
    Stage.CUSTOMS: ("CC", "IT", "International shipment release - Import"),
    Stage.CUSTOMS_HELD: ("CD", "CD", "Clearance delay - Import"),
    Stage.OUT_FOR_DELIVERY: ("OD", "IT", "On FedEx vehicle for delivery"),
    Stage.AVAILABLE_FOR_PICKUP: ("HP", "IT", "Ready for recipient pickup"),
    Stage.DELIVERY_FAILED: ("DE", "DE", "Delivery exception"),
    Stage.DELIVERED: ("DL", "DL", "Delivered"),
    Stage.RETURNING: ("RS", "RS", "Return to shipper"),
    Stage.RETURNED: ("DL", "DL", "Delivered"),
    Stage.EXCEPTION: ("SE", "SE", "Shipment exception"),
}
NOT_FOUND = {"code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
             "message": "Tracking number cannot be found. Please correct the tracking number and try again."}


class FedexApi(OAuthApi):
    """The fake."""

    id = "fedex"
    TOKEN_PATH = "/oauth/token"

    def token_answer(self, token: str) -> dict:
        """FedEx sends expires_in as a number."""
        return {"access_token": token, "token_type": "bearer", "expires_in": self.TTL, "scope": "CXS"}

    def token_refused(self, status: int) -> Response:
        """FedEx error envelope."""
        return Response(status, self.errors("NOT.AUTHORIZED.ERROR", "The given client credentials were not valid. "
                                                                    "Please modify your request and try again."))

    def unauthorized(self) -> Response:
        """FedEx error envelope."""
        return Response(401, self.errors("NOT.AUTHORIZED.ERROR", "Access token expired. Please modify your request "
                                                                 "and try again."))

    @staticmethod
    def errors(code: str, message: str) -> dict:
        """A whole-call error answer."""
        return {"transactionId": "fake-transaction", "errors": [{"code": code, "message": message}]}

    def track(self, req: Request) -> Response:
        """Answer like apis.fedex.com/track/v1/trackingnumbers."""
        body = req.json()
        if req.path != "/track/v1/trackingnumbers" or req.method != "POST" or not isinstance(body, dict):
            return Response(400, self.errors("BAD.REQUEST.ERROR", "The given JSON is invalid."))
        numbers = [str(i["trackingNumberInfo"]["trackingNumber"]) for i in body.get("trackingInfo") or ()]
        if not numbers:
            return Response(400, self.errors("TRACKING.TRACKINGNUMBER.EMPTY", "Please provide tracking number."))
        if len(numbers) > MAX_NUMBERS:
            return Response(400, self.errors("TRACKING.TRACKINGINFO.LIMIT.EXCEEDED",
                                             f"At most {MAX_NUMBERS} tracking numbers per request."))
        return Response(200, {"transactionId": "fake-transaction", "output": {
            "completeTrackResults": [{"trackingNumber": n, "trackResults": [self.result(n)]} for n in numbers]}})

    def result(self, number: str) -> dict:
        """One number's trackResults item."""
        info = {"trackingNumber": number, "carrierCode": "FDXE"}
        steps = self.world.visible(number)
        if steps is None:
            return {"trackingNumberInfo": info, "error": NOT_FOUND}
        code, derived, text = CODES[steps[-1].stage]
        return {"trackingNumberInfo": info,
                "latestStatusDetail": {"code": code, "derivedCode": derived, "description": text},
                "serviceDetail": {"type": "INTERNATIONAL_PRIORITY", "description": "FedEx International Priority"},
                "scanEvents": [self.scan(s) for s in reversed(steps)]}

    @staticmethod
    def scan(step: Step) -> dict:
        """One scan, newest first in the answer."""
        code, derived, text = CODES[step.stage]
        return {"date": iso(step.at), "eventType": code, "eventDescription": text, "exceptionCode": "",
                "exceptionDescription": step.text if code in ("DE", "SE") else "",
                "scanLocation": {"city": step.city.upper(), "countryCode": step.country, "residential": False},
                "derivedStatusCode": derived}
