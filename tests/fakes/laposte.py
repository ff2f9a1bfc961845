"""Fake La Poste Suivi v2: GET /idships/{ids} with X-Okapi-Key; one id answers an object, several an array."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from tests.fakes.server import FakeApi, Request, Response, Stage, iso

CODES = {
    Stage.INFO_RECEIVED: "DR1", Stage.PICKED_UP: "PC1", Stage.EXPORTED: "ET2", Stage.ARRIVED: "ET3",
    Stage.IN_TRANSIT: "ET1", Stage.CUSTOMS: "DO1", Stage.CUSTOMS_HELD: "DO3", Stage.OUT_FOR_DELIVERY: "MD2",
    Stage.AVAILABLE_FOR_PICKUP: "AG1", Stage.DELIVERY_FAILED: "ND1", Stage.DELIVERED: "DI1",
    Stage.RETURNING: "RE1", Stage.RETURNED: "DI2", Stage.EXCEPTION: "PB1",
}
PARIS = ZoneInfo("Europe/Paris")
MAX_IDS = 10


class LaPosteApi(FakeApi):
    """The fake."""

    id = "laposte"

    def handle(self, req: Request) -> Response:
        """Answer like api.laposte.fr/suivi/v2."""
        if req.headers.get("x-okapi-key") != self.key:
            return Response(401, {"code": "UNAUTHORIZED", "message": "Invalid apikey"})
        if not req.path.startswith("/idships/"):
            return Response(404, {"code": "NOT_FOUND", "message": "no such resource"})
        ids = [i for i in req.path.removeprefix("/idships/").split(",") if i]
        if len(ids) > MAX_IDS:
            return Response(400, {"returnCode": 400, "returnMessage": f"at most {MAX_IDS} ids per call"})
        items = [self.item(i) for i in ids]
        if len(items) == 1:
            return Response(items[0]["returnCode"], items[0])
        return Response(207 if any(i["returnCode"] != 200 for i in items) else 200, items)

    def item(self, number: str) -> dict:
        """One id's answer."""
        steps = self.world.visible(number)
        if steps is None:
            return {"returnCode": 404, "returnMessage": "Numéro de suivi inconnu", "idShip": number, "lang": "en_US"}
        events = [{"code": CODES[s.stage], "label": s.text, "date": iso(s.at.astimezone(PARIS))} for s in steps]
        last = CODES[steps[-1].stage]
        return {
            "lang": "en_US", "scope": "open", "returnCode": 200,
            "shipment": {
                "idShip": number, "holder": 4, "product": "Colissimo", "isFinal": last in ("DI1", "DI2"),
                "entryDate": iso(steps[0].at.astimezone(PARIS)), "url": f"https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
                "event": list(reversed(events)),
                "timeline": [{"shortLabel": s.text, "status": True} for s in steps],
            },
        }

