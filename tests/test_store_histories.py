"""The store keeps histories between cycles and reads only new rows: it must always agree with a fresh read."""
from __future__ import annotations

import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carriers.model import EventKind, Handover, Shipment, Status, TrackingEvent
from monitor.rules import FUTURE_SLACK, History, index_events, needed
from monitor.store import PollOutcome, Store

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
NUMBERS = ["A1", "B2", "C3", "D4"]
KINDS = [EventKind.IN_TRANSIT, EventKind.CUSTOMS_HELD, EventKind.DELIVERED, EventKind.RETURNED]
CHINA = timezone(timedelta(hours=8))

# (writer, number, hours after T0 (earlier ones are back-filled), kind) or (None, wanted numbers) to read.
_write = st.tuples(st.sampled_from(["this", "other"]), st.sampled_from(NUMBERS), st.integers(-48, 48),
                   st.sampled_from(KINDS))
_read = st.tuples(st.none(), st.sets(st.sampled_from(NUMBERS)))


def _poll(store: Store, number: str, hours: int, kind: EventKind) -> None:
    """One answer with one event, written in the carrier's own zone as carriers do."""
    event = TrackingEvent((T0 + timedelta(hours=hours)).astimezone(CHINA), kind, f"{kind} at {hours}", "", "", "fake")
    store.record_poll("fake", PollOutcome({number: Shipment(number, "fake", Status.IN_TRANSIT, (event,))},
                                          {number: None}), T0)


def _wanted(numbers: set[str]) -> list[tuple[str, str, str]]:
    return [(f"order-{n}", "fake", n) for n in sorted(numbers)]


def _same(kept: dict[str, History], fresh: dict[str, History], db: sqlite3.Connection) -> None:
    """Equal histories holding what the rules read (rules.needed) of every stored event, in the order the file
    gives (by time, then as stored), with equal keys and indexes."""
    assert kept == fresh
    for oid, hist in kept.items():
        stored = [TrackingEvent(datetime.fromisoformat(t), EventKind(k), "", stored_key=key) for t, k, key in
                  db.execute("SELECT time, kind, key FROM events WHERE number=? ORDER BY time, rowid",
                             (oid.removeprefix("order-"),))]
        expected = [e.key for e in needed(stored, T0 + FUTURE_SLACK)]
        assert [e.key for e in hist.events] == [e.key for e in fresh[oid].events] == expected, oid
        assert hist.index == fresh[oid].index == index_events(hist.events), oid


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_write, _read), min_size=1, max_size=40))
def test_kept_histories_match_a_fresh_read(steps: list[tuple[object, ...]]) -> None:
    """Events written here or by another process, back-filled earlier ones, numbers watched then dropped then
    watched again: the kept histories always equal what a new Store reads from the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        this, other = Store(path), Store(path)
        try:
            for step in [*steps, (None, set(NUMBERS))]:
                if step[0] is None:
                    wanted = _wanted(step[1])  # type: ignore[arg-type]
                    fresh = Store(path)
                    try:
                        _same(this.histories(wanted, T0), fresh.histories(wanted, T0), fresh.db)
                    finally:
                        fresh.close()
                else:
                    writer, number, hours, kind = step
                    _poll(this if writer == "this" else other, number, hours, kind)  # type: ignore[arg-type]
        finally:
            this.close()
            other.close()


def test_a_history_carries_the_stored_keys_and_keeps_ties_in_stored_order(tmp_path: Path) -> None:
    """The key is the one stored (computed on the carrier's own offset), not a hash of the UTC time read back;
    of two events at the same instant, the one stored last is the latest news."""
    store = Store.in_dir(tmp_path)
    _poll(store, "A1", 5, EventKind.CUSTOMS_HELD)
    _poll(store, "A1", 5, EventKind.IN_TRANSIT)
    _poll(store, "B2", 5, EventKind.IN_TRANSIT)
    _poll(store, "B2", 5, EventKind.CUSTOMS_HELD)
    stored = [k for (k,) in store.db.execute("SELECT key FROM events WHERE number='A1' ORDER BY rowid")]
    hist = store.histories(_wanted({"A1", "B2"}), T0)
    assert [e.key for e in hist["order-A1"].events] == stored
    assert [e.kind for e in hist["order-A1"].events] == [EventKind.CUSTOMS_HELD, EventKind.IN_TRANSIT]
    assert hist["order-A1"].index.unusual == (0,)
    assert [e.kind for e in hist["order-B2"].events] == [EventKind.CUSTOMS_HELD]  # the transit scan is old news


def test_a_rebuilt_events_table_is_read_again(tmp_path: Path) -> None:
    """A state file restored from an older backup has fewer rows than were read: everything is read again."""
    store = Store.in_dir(tmp_path)
    for hours in (1, 2, 3):
        _poll(store, "A1", hours, EventKind.IN_TRANSIT)
    assert [e.description for e in store.histories(_wanted({"A1"}), T0)["order-A1"].events] == ["in_transit at 3"]
    with sqlite3.connect(store.path) as db:
        db.execute("DELETE FROM events WHERE rowid >= 2")
    _poll(store, "B2", 4, EventKind.IN_TRANSIT)
    hist = store.histories(_wanted({"A1", "B2"}), T0)
    assert [e.description for o in ("order-A1", "order-B2") for e in hist[o].events] == ["in_transit at 1",
                                                                                        "in_transit at 4"]


def test_a_handover_is_kept_and_both_carriers_events_make_the_order_history(tmp_path: Path) -> None:
    """The source's answer names the local number (kept when a later answer omits it); the destination carrier's
    events join the order's, its status is the order's once it has one, and the order stays under its number."""
    store = Store.in_dir(tmp_path)
    scan = TrackingEvent(T0, EventKind.ARRIVED, "Arrived in France", "Roissy", "", "fake")
    handed = Shipment("A1", "fake", Status.IN_TRANSIT, (scan,), handover=Handover("6A12345678901", "laposte"))
    store.record_poll("fake", PollOutcome({"A1": handed}, {"A1": None}), T0)
    store.record_poll("fake", PollOutcome({"A1": Shipment("A1", "fake", Status.IN_TRANSIT, (scan,))}, {"A1": None}), T0)
    assert store.handovers() == {("fake", "A1"): Handover("6A12345678901", "laposte")}
    pickup = TrackingEvent(T0 + timedelta(days=1), EventKind.AVAILABLE_FOR_PICKUP, "Disponible", "Lyon", "AG1", "laposte")
    store.record_poll("laposte", PollOutcome({"6A12345678901": Shipment("6A12345678901", "laposte",
                                                                        Status.AVAILABLE_FOR_PICKUP, (pickup,))},
                                             {"6A12345678901": None}), T0)
    alone = store.histories([("order-A1", "fake", "A1")], T0 + timedelta(days=1))["order-A1"]
    both = store.histories([("order-A1", "fake", "A1")], T0 + timedelta(days=1),
                           also={"order-A1": ("laposte", "6A12345678901")})["order-A1"]
    assert alone.handover == both.handover == Handover("6A12345678901", "laposte")
    assert [e.source for e in alone.events] == ["fake"] and alone.status is Status.IN_TRANSIT
    assert [e.source for e in both.events] == ["fake", "laposte"] and both.status is Status.AVAILABLE_FOR_PICKUP
    assert both.carrier == "fake" and both.index.pickup == 1


def test_an_older_state_file_gets_the_handover_columns_in_place(tmp_path: Path) -> None:
    """A state written before handovers existed opens with its rows; the new columns are added empty."""
    store = Store.in_dir(tmp_path)
    _poll(store, "A1", 1, EventKind.IN_TRANSIT)
    store.close()
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        db.execute("DROP INDEX shipments_handed")  # as a file written before handovers: no index, no columns
        db.execute("ALTER TABLE shipments DROP COLUMN handover_number")
        db.execute("ALTER TABLE shipments DROP COLUMN handover_carrier")
    reopened = Store.in_dir(tmp_path)
    assert reopened.handovers() == {} and reopened.histories(_wanted({"A1"}), T0)["order-A1"].handover is None
    assert [e.description for e in reopened.histories(_wanted({"A1"}), T0)["order-A1"].events] == ["in_transit at 1"]
