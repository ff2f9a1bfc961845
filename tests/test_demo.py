"""The demo carrier replays its scripts relative to the clock's day."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carriers.demo import DemoCarrier, DemoSettings
from carriers.errors import NotFoundError, UnavailableError
from carriers.model import EventKind, Handover, Status

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "status", "last_kind"),
    [
        ("DEMO-TRANSIT", Status.IN_TRANSIT, EventKind.CUSTOMS),
        ("DEMO-STALLED", Status.IN_TRANSIT, EventKind.IN_TRANSIT),
        ("DEMO-EXPORT", Status.IN_TRANSIT, EventKind.EXPORTED),
        ("DEMO-RETURNED", Status.RETURNED, EventKind.RETURNING),
        ("DEMO-CUSTOMS", Status.EXCEPTION, EventKind.CUSTOMS_HELD),
        ("DEMO-DELIVERED", Status.DELIVERED, EventKind.DELIVERED),
        ("DEMO-PICKUP", Status.AVAILABLE_FOR_PICKUP, EventKind.AVAILABLE_FOR_PICKUP),
        ("DEMO-HANDOVER", Status.IN_TRANSIT, EventKind.IN_TRANSIT),
        ("DEMO-LASTMILE", Status.IN_TRANSIT, EventKind.IN_TRANSIT),
    ],
)
async def test_scripts(number: str, status: Status, last_kind: EventKind) -> None:
    """Each scripted number maps to its status, events are aware, oldest first, and in the past."""
    result = (await DemoCarrier(DemoSettings(), clock=lambda: NOW).fetch([number]))[number]
    assert result.status is status
    assert result.events[-1].kind is last_kind
    assert all(e.time.tzinfo is not None and e.time < NOW for e in result.events)
    assert [e.time for e in result.events] == sorted(e.time for e in result.events)


async def test_same_day_same_events_next_day_shifted() -> None:
    """Within one day the script is stable (no duplicate events); a day later it moved by one day."""
    c1 = DemoCarrier(DemoSettings(), clock=lambda: NOW)
    c2 = DemoCarrier(DemoSettings(), clock=lambda: NOW.replace(hour=23))
    a = (await c1.fetch(["DEMO-STALLED"]))["DEMO-STALLED"]
    b = (await c2.fetch(["DEMO-STALLED"]))["DEMO-STALLED"]
    assert [e.key for e in a.events] == [e.key for e in b.events]
    c3 = DemoCarrier(DemoSettings(), clock=lambda: NOW.replace(day=22))
    c = (await c3.fetch(["DEMO-STALLED"]))["DEMO-STALLED"]
    assert (c.events[-1].time - a.events[-1].time).days == 1


async def test_errors_come_back_as_data() -> None:
    """Unknown and failing numbers come back as typed errors beside the results."""
    out = await DemoCarrier(DemoSettings(), clock=lambda: NOW).fetch(["DEMO-NOTFOUND", "DEMO-FAILING", "DEMO-X"])
    assert isinstance(out["DEMO-NOTFOUND"], NotFoundError)
    assert isinstance(out["DEMO-FAILING"], UnavailableError)
    assert isinstance(out["DEMO-X"], NotFoundError)


async def test_the_handover_names_the_local_number() -> None:
    """DEMO-HANDOVER reports the destination carrier's number, which the demo carrier knows too."""
    out = await DemoCarrier(DemoSettings(), clock=lambda: NOW).fetch(["DEMO-HANDOVER", "DEMO-TRANSIT"])
    assert out["DEMO-HANDOVER"].handover == Handover("DEMO-LASTMILE", "demo")  # type: ignore[union-attr]
    assert out["DEMO-TRANSIT"].handover is None  # type: ignore[union-attr]
