"""One cycle end to end with a scripted carrier: polling cadence, batching, faults, dedupe, delivery."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from carriers.errors import RateLimitedError, UnavailableError
from carriers.model import EventKind, Handover, Shipment, Status, TrackingEvent
from monitor.config import Destination
from monitor.cycle import run_cycle
from monitor.notify import Notifier
from monitor.store import Store
from tests.helpers import ScriptedCarrier, make_app

UTC = UTC
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def order(i: int, **kw: object) -> dict[str, object]:
    return {"id": f"O{i}", "ordered_on": "2026-11-01", "tracking": f"NUM{i:04d}", "carrier": "fake", **kw}


def shipment(number: str, *events: tuple[int, EventKind, str], status: Status = Status.IN_TRANSIT) -> Shipment:
    evs = tuple(TrackingEvent(T0 - timedelta(days=d), k, text, "Paris", k.value, "fake") for d, k, text in events)
    return Shipment(number, "fake", status, evs)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path)
    yield s
    s.close()


def watch(*orders: dict[str, object]) -> dict[str, object]:
    return {"monitor": {"timezone": "Europe/Paris", "poll_interval": "6h"}, "orders": list(orders)}


async def test_batches_follow_max_batch_and_cadence(store: Store) -> None:
    """7 numbers go out as 3+3+1; unknown numbers are asked again after twice poll_interval, not before."""
    carrier = ScriptedCarrier()
    app = make_app(watch(*(order(i) for i in range(7))), carrier)
    first = await run_cycle(app, store, T0, None)
    assert sorted(len(c) for c in carrier.calls) == [1, 3, 3] and first.polled == 7
    assert (await run_cycle(app, store, T0 + timedelta(hours=11), None)).polled == 0
    assert (await run_cycle(app, store, T0 + timedelta(hours=12), None)).polled == 7


async def test_final_shipments_and_buyer_delivered_orders_are_not_polled(store: Store) -> None:
    """A delivered shipment stops polling; an order the buyer marked delivered is never polled."""
    carrier = ScriptedCarrier()
    carrier.answers["NUM0000"] = shipment("NUM0000", (1, EventKind.DELIVERED, "Delivered"), status=Status.DELIVERED)
    app = make_app(watch(order(0), order(1, delivered_on="2026-11-20")), carrier)
    await run_cycle(app, store, T0, None)
    assert carrier.calls == [["NUM0000"]]
    await run_cycle(app, store, T0 + timedelta(days=3), None)
    assert carrier.calls == [["NUM0000"]]


async def test_a_failing_batch_does_not_break_the_cycle(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """An adapter crash becomes a failure per number, logged once when it starts and once on recovery."""
    carrier = ScriptedCarrier()

    async def broken(numbers):  # type: ignore[no-untyped-def]
        raise ValueError("garbage")

    carrier.fetch = broken  # type: ignore[method-assign]
    app = make_app(watch(order(0, protection_ends="2026-11-22")), carrier)
    caplog.set_level(logging.INFO, logger="tracking_monitor")
    result = await run_cycle(app, store, T0, None)
    kinds = {f.kind.value for f in result.findings}
    assert "protection_ending" in kinds  # deadline rules still run
    state = store.shipment_states()[("fake", "NUM0000")]
    assert state.failing_since == T0 and "adapter failed" in state.last_error
    await run_cycle(app, store, T0 + timedelta(hours=6), None)
    assert sum("tracking source failing" in r.message for r in caplog.records) == 1
    del carrier.fetch
    await run_cycle(app, store, T0 + timedelta(hours=12), None)
    assert sum("recovered" in r.message for r in caplog.records) == 1
    assert store.shipment_states()[("fake", "NUM0000")].failing_since is None


async def test_source_failing_fires_once_after_the_threshold(store: Store) -> None:
    """A source failing for source_failing_after gives one finding, not one per poll."""
    carrier = ScriptedCarrier()
    carrier.answers["NUM0000"] = UnavailableError("timeout", carrier="fake", number="NUM0000")
    app = make_app(watch(order(0)), carrier)
    sent = []
    for hours in range(0, 48, 6):
        sent += (await run_cycle(app, store, T0 + timedelta(hours=hours), None)).new
    assert [f.kind.value for f in sent] == ["source_failing"]


@pytest.mark.parametrize(("per_number", "polled_next"), [(True, 1), (False, 0)], ids=["one-number", "whole-call"])
async def test_a_wait_for_one_number_does_not_block_the_carrier(store: Store, per_number: bool,
                                                                polled_next: int) -> None:
    """A number refused for quota waits alone; a wait for the whole call keeps every number of the carrier away."""
    carrier = ScriptedCarrier()
    carrier.answers["NUM0000"] = RateLimitedError("quota spent", carrier="fake", retry_after=86400.0,
                                                  number="NUM0000" if per_number else "")
    carrier.answers["NUM0001"] = shipment("NUM0001", (1, EventKind.IN_TRANSIT, "Sorted"))
    app = make_app(watch(order(0), order(1)), carrier)
    await run_cycle(app, store, T0, None)
    later = await run_cycle(app, store, T0 + timedelta(hours=7), None)
    assert later.polled == polled_next  # NUM0001 is due again after 6 h unless the carrier is blocked
    assert (await run_cycle(app, store, T0 + timedelta(days=1, minutes=1), None)).polled == 2  # the wait is over


async def test_events_are_kept_when_the_carrier_drops_them(store: Store) -> None:
    """History is kept forever: evidence for a dispute survives the carrier forgetting it."""
    carrier = ScriptedCarrier()
    carrier.answers["NUM0000"] = shipment("NUM0000", (3, EventKind.INFO_RECEIVED, "a"), (2, EventKind.EXPORTED, "b"))
    app = make_app(watch(order(0)), carrier)
    assert (await run_cycle(app, store, T0, None)).new_events == 2
    carrier.answers["NUM0000"] = shipment("NUM0000", (1, EventKind.ARRIVED, "c"))
    assert (await run_cycle(app, store, T0 + timedelta(hours=6), None)).new_events == 1
    assert [e.description for e in store.events_of(["NUM0000"])] == ["a", "b", "c"]
    # In memory, only what the rules read: here the latest event.
    assert [e.description for e in store.histories([("O0", "fake", "NUM0000")], T0)["O0"].events] == ["c"]


async def test_missing_numbers_in_an_answer_are_bad_payload(store: Store) -> None:
    """A carrier that silently skips a number gets that number marked as failing, not as fine."""
    carrier = ScriptedCarrier()

    async def partial(numbers):  # type: ignore[no-untyped-def]
        return {}

    carrier.fetch = partial  # type: ignore[method-assign]
    app = make_app(watch(order(0)), carrier)
    await run_cycle(app, store, T0, None)
    assert "did not mention" in store.shipment_states()[("fake", "NUM0000")].last_error


async def test_restart_never_repeats_a_notification(tmp_path: Path) -> None:
    """The notification log survives a restart: the same finding is not queued twice."""
    app = make_app(watch({"id": "A", "ordered_on": "2026-11-01"}))
    s1 = Store.in_dir(tmp_path)
    first = await run_cycle(app, s1, T0, None)
    s1.close()
    s2 = Store.in_dir(tmp_path)
    second = await run_cycle(app, s2, T0 + timedelta(hours=1), None)
    assert [f.kind.value for f in first.new] == ["tracking_missing"] and second.new == []
    assert len(second.findings) == 1  # still true, just already told
    s2.close()


class _Sink(BaseHTTPRequestHandler):
    """A local HTTP endpoint for Apprise's json:// plugin; answers with the server's `code`."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(self.server.code)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.received, server.code = [], 200  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


async def test_failed_delivery_is_retried_until_it_gets_through(store: Store, sink: ThreadingHTTPServer) -> None:
    """A destination answering 500 keeps the row; once it answers 200 the alert arrives exactly once."""
    url = f"json://127.0.0.1:{sink.server_address[1]}/hook"
    app = make_app(watch({"id": "A", "ordered_on": "2026-11-01", "shop": "AliExpress"}),
                   destinations=[Destination.for_url(url)])
    notifier = Notifier.for_app(app, store)
    sink.code = 500  # type: ignore[attr-defined]
    await run_cycle(app, store, T0, notifier)
    assert len(sink.received) >= 1  # type: ignore[attr-defined]
    pending = store.pending(T0 + timedelta(days=1))
    assert len(pending) == 1 and pending[0].attempts == 1 and "did not accept" in pending[0].last_error
    assert "127.0.0.1" in pending[0].last_error  # the privacy form names the host, never a token
    sink.code, sink.received = 200, []  # type: ignore[attr-defined]
    await run_cycle(app, store, T0 + timedelta(seconds=30), notifier)
    assert sink.received == []  # type: ignore[attr-defined]  # backoff: not yet
    await run_cycle(app, store, T0 + timedelta(minutes=5), notifier)
    await run_cycle(app, store, T0 + timedelta(minutes=30), notifier)
    assert len(sink.received) == 1  # type: ignore[attr-defined]
    got = sink.received[0]  # type: ignore[attr-defined]
    assert got["title"].startswith("No tracking number yet (AliExpress)") and "Order A" in got["message"]
    assert store.pending(T0 + timedelta(days=30)) == []


class _LocalPost(ScriptedCarrier):
    """A destination carrier the handed-over number's format points at (an S10 number ending FR: La Poste)."""

    id = "laposte"


@pytest.mark.parametrize(("handed_to", "asked"), [
    (Handover("RB123456785FR"), True),  # no carrier named: the number's format says La Poste, which is configured
    (Handover("RB123456785FR", "laposte"), True),  # named by its adapter id
    (Handover("1Z999AA10123456784", "UPS"), False),  # UPS is not configured: shown, not asked
])
async def test_a_handed_over_parcel_is_asked_of_the_destination_carrier(store: Store, handed_to: Handover,
                                                                       asked: bool) -> None:
    """In the same cycle, under the local number; its pickup scan reaches the order (kept under the user's
    number) with La Poste's hold, and it is asked again only when due."""
    source, local = ScriptedCarrier(), _LocalPost()
    source.answers["NUM0000"] = Shipment("NUM0000", "fake", Status.IN_TRANSIT, (
        TrackingEvent(T0 - timedelta(days=3), EventKind.ARRIVED, "Arrived in France", "Roissy", "LH", "fake"),),
        handover=handed_to)
    pickup_at = T0 - timedelta(days=1)
    local.answers[handed_to.number] = Shipment(handed_to.number, "laposte", Status.AVAILABLE_FOR_PICKUP, (
        TrackingEvent(pickup_at, EventKind.AVAILABLE_FOR_PICKUP, "Disponible au bureau de poste", "Lyon 3", "AG1",
                      "laposte"),))
    app = make_app(watch(order(0)), source)
    app.carriers["laposte"] = local
    result = await run_cycle(app, store, T0, None)
    assert local.calls == ([[handed_to.number]] if asked else [])
    assert store.handovers() == {("fake", "NUM0000"): handed_to}
    waiting = [f for f in result.findings if f.kind.value == "pickup_waiting"]
    if asked:
        (f,) = waiting
        assert f.order_id == "O0" and f.due == pickup_at + timedelta(days=14) and "Lyon 3" in f.message
        await run_cycle(app, store, T0 + timedelta(hours=1), None)
        assert len(local.calls) == 1  # its own cadence from then on
    else:
        assert waiting == []
