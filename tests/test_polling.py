"""Polling that respects quotas: cadence by status, waits a carrier imposes, daily budgets, rejected keys."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carriers.errors import AuthError, RateLimitedError
from carriers.model import EventKind, Shipment, Status, TrackingEvent
from monitor.cycle import order_histories, run_cycle
from monitor.store import Store
from tests.helpers import ScriptedCarrier, make_app

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path)
    yield s
    s.close()


def watch(*numbers: str, interval: str = "6h") -> dict[str, object]:
    orders = [{"id": f"O{i}", "ordered_on": "2026-11-01", "tracking": n, "carrier": "fake"} for i, n in enumerate(numbers)]
    return {"monitor": {"timezone": "Europe/Paris", "poll_interval": interval}, "orders": orders}


def shipment(number: str, status: Status) -> Shipment:
    return Shipment(number, "fake", status, (TrackingEvent(T0 - timedelta(days=1), EventKind.IN_TRANSIT, "x"),))


async def polled_at(store: Store, carrier: ScriptedCarrier, app: object, hours: list[float]) -> list[float]:
    """The hours (after T0) at which the number was actually asked, checking every 10 minutes."""
    asked = []
    for step in range(int(max(hours) * 6) + 1):
        now = T0 + timedelta(minutes=10 * step)
        if (await run_cycle(app, store, now, None)).polled:  # type: ignore[arg-type]
            asked.append(step / 6)
    return asked


# status the carrier reports -> hours between polls with poll_interval = 6h (None: never again)
CADENCE = [
    (Status.INFO_RECEIVED, 12.0),
    (Status.IN_TRANSIT, 6.0),
    (Status.OUT_FOR_DELIVERY, 1.0),
    (Status.DELIVERY_FAILED, 3.0),
    (Status.AVAILABLE_FOR_PICKUP, 12.0),
    (Status.EXPIRED, 24.0),
    (Status.DELIVERED, None),
    (Status.RETURNED, None),
]


@pytest.mark.parametrize(("status", "every"), CADENCE, ids=[c[0].value for c in CADENCE])
async def test_cadence_follows_the_status(store: Store, status: Status, every: float | None) -> None:
    carrier = ScriptedCarrier()
    carrier.answers["NUM1"] = shipment("NUM1", status)
    app = make_app(watch("NUM1"), carrier)
    asked = await polled_at(store, carrier, app, [25])
    if every is None:
        assert asked == [0]  # final: polling stops, the deadline rules keep running
    else:
        assert asked == [i * every for i in range(int(25 // every) + 1)]


async def test_a_429_wait_is_stored_and_survives_a_restart(tmp_path: Path) -> None:
    carrier = ScriptedCarrier()
    carrier.answers = {f"NUM{i}": RateLimitedError("slow down", carrier="fake", retry_after=7200) for i in range(5)}
    app = make_app(watch(*(f"NUM{i}" for i in range(5))), carrier)
    store = Store.in_dir(tmp_path)
    await run_cycle(app, store, T0, None)
    assert len(carrier.calls) == 1  # the rest of the batches wait too: no call into a known 429
    store.close()
    store = Store.in_dir(tmp_path)  # a restart
    carrier.answers.clear()
    assert (await run_cycle(app, store, T0 + timedelta(minutes=119), None)).polled == 0
    assert store.carrier_states()["fake"].blocked_until == T0 + timedelta(hours=2)
    assert (await run_cycle(app, store, T0 + timedelta(hours=2), None)).polled == 5
    state = store.shipment_states()[("fake", "NUM0")]
    assert state.failing_since is None  # being told to wait is not the source failing
    store.close()


async def test_a_429_without_a_wait_pauses_for_five_minutes(store: Store) -> None:
    carrier = ScriptedCarrier()
    carrier.answers["NUM1"] = RateLimitedError("slow down", carrier="fake")
    app = make_app(watch("NUM1"), carrier)
    await run_cycle(app, store, T0, None)
    assert store.carrier_states()["fake"].blocked_until == T0 + timedelta(minutes=5)


async def test_daily_calls_are_counted_per_utc_day(store: Store) -> None:
    carrier = ScriptedCarrier()
    app = make_app(watch("NUM1", "NUM2", "NUM3", "NUM4"), carrier)

    async def counting(numbers):  # type: ignore[no-untyped-def]
        carrier.budget.take(carrier.clock, carrier.id)
        return {n: shipment(n, Status.IN_TRANSIT) for n in numbers}

    carrier.fetch = counting  # type: ignore[method-assign]
    await run_cycle(app, store, T0, None)
    assert store.carrier_states()["fake"].calls_on("2026-11-21") == 2  # 4 numbers in batches of 3
    await run_cycle(app, store, T0 + timedelta(hours=6), None)
    assert store.carrier_states()["fake"].calls_on("2026-11-21") == 4
    await run_cycle(app, store, T0 + timedelta(hours=18), None)  # 03:00 UTC the next day: a new count
    assert store.carrier_states()["fake"].calls_on("2026-11-22") == 2
    assert store.carrier_states()["fake"].calls_on("2026-11-21") == 0


async def test_a_spent_budget_is_remembered_by_the_next_process(store: Store) -> None:
    """The adapter starts each cycle with the calls already made today, so a restart cannot overspend."""
    carrier = ScriptedCarrier()
    carrier.budget.limit = 2
    app = make_app(watch("NUM1"), carrier)

    async def counting(numbers):  # type: ignore[no-untyped-def]
        carrier.budget.take(carrier.clock, carrier.id)
        return {n: shipment(n, Status.OUT_FOR_DELIVERY) for n in numbers}

    carrier.fetch = counting  # type: ignore[method-assign]
    for hour in (0, 1):
        await run_cycle(app, store, T0 + timedelta(hours=hour), None)
    fresh = ScriptedCarrier()  # what a restart builds: a budget object that knows nothing
    fresh.budget.limit = 2
    fresh.fetch = counting  # type: ignore[method-assign]
    app = make_app(watch("NUM1"), fresh)
    await run_cycle(app, store, T0 + timedelta(hours=2), None)
    assert fresh.budget.used == 2 and store.carrier_states()["fake"].blocked_until is not None


async def test_a_rejected_key_pauses_the_carrier_until_reload(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    carrier = ScriptedCarrier()
    carrier.answers = {n: AuthError("key rejected", carrier="fake") for n in ("NUM1", "NUM2", "NUM3")}
    app = make_app(watch("NUM1", "NUM2", "NUM3"), carrier)
    first = await run_cycle(app, store, T0, None)
    assert [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == [
        "fake: key rejected; not asked again until the configuration is reloaded"]
    state = store.carrier_states()["fake"]
    assert state.auth_failed_since == T0 and state.blocked_until == T0 + timedelta(hours=6)
    later = await run_cycle(app, store, T0 + timedelta(hours=1), None)
    assert later.polled == 0 and later.new == []  # the finding below was sent once, by the first cycle
    sent = [f for f in first.new if f.kind.value == "carrier_rejected"]
    assert [(f.order_id, f.severity.value, f.title) for f in sent] == [("", "warning", "fake refused its credentials")]
    assert "3 tracking numbers" in sent[0].message and "key rejected" in sent[0].message
    store.clear_auth_failures()  # what a reload or restart does: the key may have been fixed
    carrier.answers = {n: shipment(n, Status.IN_TRANSIT) for n in ("NUM1", "NUM2", "NUM3")}
    assert (await run_cycle(app, store, T0 + timedelta(hours=1), None)).polled == 3
    assert store.carrier_states()["fake"].auth_failed_since is None


class Named(ScriptedCarrier):
    """A scripted carrier standing in for a real id, so auto-detection ranks it."""

    def __init__(self, cid: str) -> None:
        super().__init__()
        self.id = cid  # type: ignore[misc]


async def test_not_found_falls_through_to_the_next_candidate_and_the_winner_is_remembered(store: Store) -> None:
    """auto: La Poste (origin FR) first; it does not know the number, 17track does: asked in the same cycle,
    then only 17track is asked, also after a restart (the route is in the state)."""
    laposte, track17 = Named("laposte"), Named("17track")
    number = "RB123456785FR"
    track17.answers[number] = Shipment(number, "17track", Status.IN_TRANSIT,
                                       (TrackingEvent(T0 - timedelta(days=1), EventKind.EXPORTED, "Departed"),))
    wl = watch(number)
    wl["orders"][0]["carrier"] = "auto"  # type: ignore[index]
    app = make_app(wl, laposte)
    app.carriers[track17.id] = track17
    result = await run_cycle(app, store, T0, None)
    assert laposte.calls == [[number]] and track17.calls == [[number]] and result.polled == 2
    assert store.routes() == {number: "17track"}
    await run_cycle(app, store, T0 + timedelta(hours=6), None)
    assert laposte.calls == [[number]] and len(track17.calls) == 2
    assert order_histories(app, store, T0)["O0"].carrier == "17track"  # the rules read the winner's history


async def test_a_number_nobody_knows_stays_with_the_first_candidate(store: Store) -> None:
    laposte, track17 = Named("laposte"), Named("17track")
    wl = watch("RB123456785FR")
    wl["orders"][0]["carrier"] = "auto"  # type: ignore[index]
    app = make_app(wl, laposte)
    app.carriers[track17.id] = track17
    await run_cycle(app, store, T0, None)
    assert len(laposte.calls) == len(track17.calls) == 1 and store.routes() == {}
    hist = order_histories(app, store, T0)["O0"]
    assert hist.carrier == "laposte" and hist.status is Status.NOT_FOUND  # tracking_unknown runs on it
