"""A built-in carrier with scripted shipments, so every tracking alert can be seen without an API key.

DEMO-HANDOVER is handed over to a local carrier under DEMO-LASTMILE, a number this carrier knows too: the
monitor asks it as it would ask a real destination carrier.

Scripts are replayed relative to the start of the current UTC day, so the demo looks the same
whenever it is run; a daemon left running on it sees the script move forward one day a day.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from pydantic import Field

from carriers.base import Carrier, CarrierSettings, FetchResult
from carriers.errors import NotFoundError, UnavailableError
from carriers.model import EventKind as K
from carriers.model import Handover, Shipment, Status, TrackingEvent, read_time

# number -> (status, [(days before today, hour, kind, code, description, location)])
SCRIPTS: dict[str, tuple[Status, list[tuple[int, int, K, str, str, str]]]] = {
    "DEMO-TRANSIT": (Status.IN_TRANSIT, [
        (5, 9, K.INFO_RECEIVED, "ACCEPT", "Seller shipped the parcel", "Shenzhen, CN"),
        (4, 15, K.EXPORTED, "LH_DEPART", "Departed from the origin country", "Shenzhen, CN"),
        (2, 6, K.ARRIVED, "LH_ARRIVE", "Arrived at the destination airport", "Paris, FR"),
        (1, 11, K.CUSTOMS, "CC_IM_SUCCESS", "Import customs clearance complete", "Roissy, FR"),
    ]),
    "DEMO-STALLED": (Status.IN_TRANSIT, [
        (16, 8, K.INFO_RECEIVED, "ACCEPT", "Seller shipped the parcel", "Yiwu, CN"),
        (12, 20, K.ARRIVED, "LH_ARRIVE", "Arrived in the destination country", "Liège, BE"),
        (9, 10, K.IN_TRANSIT, "SORT", "Processed at the sorting centre", "Liège, BE"),
    ]),
    "DEMO-EXPORT": (Status.IN_TRANSIT, [
        (10, 7, K.INFO_RECEIVED, "GWMS_ACCEPT", "Seller shipped the parcel", "Guangzhou, CN"),
        (8, 13, K.PICKED_UP, "SC_INBOUND_SUCCESS", "Received by the sorting centre", "Guangzhou, CN"),
        (6, 22, K.EXPORTED, "LH_HO_AIRLINE", "Handed over to the airline", "Guangzhou, CN"),
    ]),
    "DEMO-RETURNED": (Status.RETURNED, [
        (20, 9, K.INFO_RECEIVED, "ACCEPT", "Seller shipped the parcel", "Shenzhen, CN"),
        (15, 4, K.EXPORTED, "LH_DEPART", "Departed from the origin country", "Shenzhen, CN"),
        (3, 16, K.RETURNING, "RTS", "Returned to sender: address incomplete", "Hong Kong, HK"),
    ]),
    "DEMO-CUSTOMS": (Status.EXCEPTION, [
        (12, 9, K.INFO_RECEIVED, "ACCEPT", "Seller shipped the parcel", "Ningbo, CN"),
        (9, 1, K.EXPORTED, "LH_DEPART", "Departed from the origin country", "Ningbo, CN"),
        (2, 14, K.CUSTOMS_HELD, "DO3", "Held by customs: documents requested", "Roissy, FR"),
    ]),
    "DEMO-PICKUP": (Status.AVAILABLE_FOR_PICKUP, [
        (9, 9, K.INFO_RECEIVED, "ACCEPT", "Seller shipped the parcel", "Shenzhen, CN"),
        (7, 2, K.EXPORTED, "LH_DEPART", "Departed from the origin country", "Shenzhen, CN"),
        (4, 7, K.ARRIVED, "LH_ARRIVE", "Arrived at the destination airport", "Paris, FR"),
        (2, 10, K.AVAILABLE_FOR_PICKUP, "AG1", "Available for pick-up at the post office",
         "Lyon Bellecour post office, 10 place Antonin Poncet, Lyon"),
    ]),
    "DEMO-HANDOVER": (Status.IN_TRANSIT, [
        (8, 9, K.INFO_RECEIVED, "ACCEPT", "Seller shipped the parcel", "Yiwu, CN"),
        (6, 23, K.EXPORTED, "LH_DEPART", "Departed from the origin country", "Yiwu, CN"),
        (3, 5, K.ARRIVED, "LH_ARRIVE", "Arrived in the destination country", "Liège, BE"),
        (2, 14, K.IN_TRANSIT, "GTMS_ACCEPT", "Handed over to the local carrier", "Liège, BE"),
    ]),
    "DEMO-LASTMILE": (Status.IN_TRANSIT, [
        (2, 18, K.IN_TRANSIT, "ET3", "Received by the local carrier", "Roissy, FR"),
        (1, 6, K.IN_TRANSIT, "ET1", "At the delivery office", "Lille, FR"),
    ]),
    "DEMO-DELIVERED": (Status.DELIVERED, [
        (14, 9, K.INFO_RECEIVED, "ACCEPT", "Seller shipped the parcel", "Shenzhen, CN"),
        (10, 3, K.EXPORTED, "LH_DEPART", "Departed from the origin country", "Shenzhen, CN"),
        (2, 8, K.OUT_FOR_DELIVERY, "MD2", "Out for delivery", "Lyon, FR"),
        (2, 12, K.DELIVERED, "DI1", "Delivered to the letterbox", "Lyon, FR"),
    ]),
}
# number -> the destination carrier's number this carrier reports for it.
HANDOVERS = {"DEMO-HANDOVER": Handover("DEMO-LASTMILE", "demo")}
NOT_FOUND = "DEMO-NOTFOUND"
FAILING = "DEMO-FAILING"


class DemoSettings(CarrierSettings):
    """`[carriers.demo]`: `latency` makes every call take that many seconds, like a slow real API."""

    latency: float = Field(default=0.0, ge=0, le=60)


class DemoCarrier(Carrier):
    """Scripted shipments for the demo numbers above; any other DEMO number is not found."""

    id = "demo"
    label = "Demo (scripted shipments)"
    max_batch = 50
    needs_credentials = False
    Settings = DemoSettings
    settings: DemoSettings

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """Replay each number's script against today's date."""
        if self.settings.latency:
            await asyncio.sleep(self.settings.latency)
        today = datetime.combine(self.clock().astimezone(UTC).date(), time(), UTC)
        out: FetchResult = {}
        for number in numbers:
            if number == FAILING:
                out[number] = UnavailableError("the tracking service keeps timing out",
                                               carrier=self.id, number=number)
            elif number not in SCRIPTS:
                out[number] = NotFoundError("no data for this number yet", carrier=self.id, number=number)
            else:
                status, script = SCRIPTS[number]
                # Read like a carrier's times: a clock near datetime's limits drops events instead of overflowing.
                events = [
                    TrackingEvent(at, kind, text, where, code, self.id)
                    for d, h, kind, code, text, where in script
                    if (at := read_time(self.id, number, (d, h), lambda dh: today - timedelta(days=dh[0], hours=-dh[1])))
                    is not None
                ]
                out[number] = Shipment(number, self.id, status, tuple(events), raw_status=status.value,
                                       handover=HANDOVERS.get(number))
        return out
