"""Fake Cainiao public JSON: GET /global/detail.json?mailNos=A,B&lang=en-US, no key; can play a bot check."""
from __future__ import annotations

from datetime import timedelta, timezone

from tests.fakes.server import FakeApi, Request, Response, Stage, Step

# (actionCode, standerdDesc) per stage. Codes marked (?) were never seen in a public payload.
STAGES = {
    Stage.INFO_RECEIVED: ("GWMS_ACCEPT", "Shipment information received by warehouse electronically"),
    Stage.PICKED_UP: ("PU_PICKUP_SUCCESS", "Received by logistics company"),
    Stage.EXPORTED: ("LH_DEPART", "Departed from departure country/region"),
    Stage.ARRIVED: ("LH_ARRIVE", "Arrived at linehaul office"),
    Stage.IN_TRANSIT: ("SC_OUTBOUND_SUCCESS", "Departed from sorting center"),
    Stage.CUSTOMS: ("CC_IM_SUCCESS", "Import customs clearance complete"),
    Stage.CUSTOMS_HELD: ("CC_IM_FAILURE", "Import customs clearance failed"),  # (?)
    Stage.OUT_FOR_DELIVERY: ("GTMS_DO_DEPART", "Out for delivery"),
    Stage.AVAILABLE_FOR_PICKUP: ("GTMS_STA_SIGNED", "Arrived at pickup point"),
    Stage.DELIVERY_FAILED: ("GTMS_DEL_FAILURE", "Delivery failed"),
    Stage.DELIVERED: ("GTMS_SIGNED", "Package delivered"),
    Stage.RETURNING: ("GTMS_RETURN", "Returning to sender"),  # (?)
    Stage.RETURNED: ("RETURN_SIGNED", "Returned to sender"),  # (?)
    Stage.EXCEPTION: ("GTMS_EXCEPTION", "Carrier exception"),  # (?)
}
MODULE_STATUS = {Stage.DELIVERED: "DELIVERED", Stage.CUSTOMS: "CLEAR_CUSTOMS", Stage.CUSTOMS_HELD: "CLEAR_CUSTOMS"}
OFFSETS = {"CN": 8, "FR": 1, "DE": 1, "BE": 1, "ES": 1}  # hours east of UTC, for timeStr/timeZone only
MAX_NUMBERS = 10
CHALLENGE = "<html><head><title>Verification</title></head><body>Please slide to verify</body></html>"


class CainiaoApi(FakeApi):
    """The fake; set `challenge = True` to answer the bot-check page instead of JSON."""

    id = "cainiao"
    challenge = False

    def handle(self, req: Request) -> Response:
        """Answer like global.cainiao.com."""
        if self.challenge:
            return Response(200, CHALLENGE, {"Content-Type": "text/html; charset=utf-8"})
        if req.path != "/global/detail.json":
            return Response(404, CHALLENGE, {"Content-Type": "text/html"})
        numbers = [n for n in ",".join(req.query.get("mailNos", [])).split(",") if n]
        if not numbers or len(numbers) > MAX_NUMBERS:
            return Response(200, {"success": False, "module": []})
        return Response(200, {"module": [self.item(n) for n in numbers], "success": True})

    def item(self, number: str) -> dict:
        """One number's module entry."""
        steps = self.world.visible(number)
        if steps is None:
            return {"mailNo": number, "mailNoSource": "EXTERNAL", "detailList": []}
        details = [self.detail(s) for s in reversed(steps)]  # newest first
        return {"mailNo": number, "originCountry": "Mainland China", "destCountry": steps[-1].country or "France",
                "status": MODULE_STATUS.get(steps[-1].stage, "TRANSPORT"), "statusDesc": details[0]["standerdDesc"],
                "mailNoSource": "AE", "latestTrace": details[0], "detailList": details}

    @staticmethod
    def detail(step: Step) -> dict:
        """One step as a detailList entry."""
        code, standard = STAGES[step.stage]
        hours = OFFSETS.get(step.country, 8)
        local = step.at.astimezone(timezone(timedelta(hours=hours)))
        return {"time": int(step.at.timestamp() * 1000), "timeStr": local.strftime("%Y-%m-%d %H:%M:%S"),
                "desc": step.text, "standerdDesc": f"[{step.city}] {standard}" if step.city else standard,
                "descTitle": "Carrier note:", "timeZone": f"GMT+{hours}", "actionCode": code}
