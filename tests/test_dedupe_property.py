"""Property: across any sequence of polls, new events and restarts, one episode is notified once."""
from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carriers.model import EventKind, Shipment, Status, TrackingEvent
from monitor.cycle import run_cycle
from monitor.store import Store
from tests.helpers import ScriptedCarrier, make_app

UTC = UTC
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # no Chinese holiday near these deadlines
DEADLINE = T0 + timedelta(days=18)
STEPS = (7, 3, 1)
ACTIONS = ["none", "transit", "export", "exception", "restart", "deliver"]
KINDS = {"transit": EventKind.IN_TRANSIT, "export": EventKind.EXPORTED, "exception": EventKind.CUSTOMS_HELD,
         "deliver": EventKind.DELIVERED}


def _episode(kind: str, now: datetime, last_event: str) -> tuple[str, ...]:
    """The episode a notification belongs to, worked out independently of the finding keys."""
    if kind in ("stalled", "dark_after_export"):
        return kind, last_event
    if kind == "exception":
        return kind, last_event  # the exception event that was newest when it fired
    if kind == "protection_ending":
        local_deadline = DEADLINE.astimezone(UTC)
        reached = min(s for s in STEPS if now >= local_deadline - timedelta(days=s))
        return kind, str(reached)
    return (kind,)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 96), st.sampled_from(ACTIONS)), min_size=1, max_size=30))
def test_one_notification_per_episode(steps: list[tuple[int, str]]) -> None:
    """Replays the steps; every episode is notified at most once, even across restarts."""
    counts: Counter[tuple[str, ...]] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_replay(Path(tmp), steps, counts))
    assert counts[("tracking_missing",)] == 1  # the untracked order is told exactly once
    assert all(n == 1 for n in counts.values()), counts


async def _replay(tmp: Path, steps: list[tuple[int, str]], counts: Counter[tuple[str, ...]]) -> None:
    carrier = ScriptedCarrier()
    events: list[TrackingEvent] = [TrackingEvent(T0 - timedelta(days=2), EventKind.INFO_RECEIVED, "e0", "", "", "fake")]
    status = Status.IN_TRANSIT
    data = {
        "monitor": {"timezone": "UTC", "poll_interval": "5m"},
        "orders": [
            {"id": "T", "ordered_on": (T0 - timedelta(days=3)).date(), "tracking": "NUM1", "carrier": "fake",
             "promised_by": (T0 + timedelta(days=4)).date(), "protection_ends": DEADLINE},
            {"id": "U", "ordered_on": (T0 - timedelta(days=10)).date()},
        ],
    }
    app = make_app(data, carrier)
    store = Store.in_dir(tmp)
    now = T0
    try:
        for hours, action in steps:
            now += timedelta(hours=hours)
            if action == "restart":
                store.close()
                store = Store.in_dir(tmp)
            elif action != "none" and status is not Status.DELIVERED:
                events.append(TrackingEvent(now - timedelta(minutes=5), KINDS[action], f"e{len(events)}", "", "", "fake"))
                status = Status.DELIVERED if action == "deliver" else Status.IN_TRANSIT
            carrier.answers["NUM1"] = Shipment("NUM1", "fake", status, tuple(events))
            result = await run_cycle(app, store, now, None)
            for f in result.new:
                counts[_episode(f.kind.value, now, events[-1].description)] += 1
    finally:
        store.close()
