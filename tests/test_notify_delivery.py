"""Delivery as a user lives it, with an injected clock: retries, expiry, routing, quiet hours, reminders, slowness."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Destination
from monitor.cycle import run_cycle
from monitor.daemon import Daemon
from monitor.notify import Notifier, repeat_due
from monitor.rules import Finding, Kind, Severity
from monitor.store import Store
from monitor.watchlist import QuietHours
from tests.helpers import make_app
from tests.notify_servers import http_server

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # 10:00 in Paris
# urgent: protection ends in 2 days. No number (these apps have no carrier to ask, so a number would add an
# `untracked` alert), and no tracking_missing alert either before 4 Dec.
HUB = {"id": "8181000000000006", "shop": "AliExpress", "item": "USB-C hub", "ordered_on": "2026-10-05",
       "tracking_missing_after": "60d", "protection_ends": "2026-11-23"}
LAMP = {"id": "TM-5530012", "shop": "Temu", "item": "Desk lamp", "ordered_on": "2026-11-01"}  # warning: no tracking


def watch(*orders: dict[str, object], **notify: object) -> dict[str, object]:
    return {"monitor": {"timezone": "Europe/Paris"}, "notify": notify, "orders": list(orders)}


def at(local: str) -> datetime:
    """A Paris wall-clock time as a UTC instant."""
    return datetime.fromisoformat(local).replace(tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path)
    yield s
    s.close()


# ---------------------------------------------------------------- never lost, never doubled


@pytest.mark.parametrize("failures", [1, 3, 9])
async def test_failing_n_times_then_recovering_gives_exactly_one_delivery(tmp_path: Path, failures: int) -> None:
    """Each failed try waits 1, 2, 4… minutes (at most 6 h), across a restart; the alert then arrives once, saying
    it is late."""
    with http_server() as (port, server):
        server.fail = failures
        app = make_app(watch(HUB), destinations=[Destination.for_url(f"json://127.0.0.1:{port}/hook")])
        store = Store.in_dir(tmp_path)
        await run_cycle(app, store, T0, None)
        tries: list[datetime] = []
        now = T0
        while now < T0 + timedelta(days=2) and not server.received:
            if now == T0 + timedelta(hours=3):  # a restart in the middle: the backoff is in the state
                store.close()
                store = Store.in_dir(tmp_path)
            before = server.attempts
            await Notifier.for_app(app, store).deliver(now)
            if server.attempts > before:
                tries.append(now)
            now += timedelta(minutes=1)
        assert len(server.received) == 1 and server.attempts == failures + 1
        gaps = [int((b - a).total_seconds() // 60) for a, b in zip(tries, tries[1:], strict=False)]
        assert gaps == [min(2 ** i, 360) for i in range(failures)]
        assert "Sent late: this alert waited since 21 Nov 2026 at 10:00" in server.received[0].body["message"]
        for later in range(1, 200):
            await Notifier.for_app(app, store).deliver(now + timedelta(minutes=later))
        assert len(server.received) == 1 and store.outbox() == []
        store.close()


async def test_expired_alerts_are_named_in_the_next_message_that_gets_through(store: Store) -> None:
    """After expire_after without an answer a row is given up; the next message says so, once."""
    with http_server() as (port, server):
        server.fail = 10**6
        app = make_app({**watch(HUB, expire_after="1d", repeat_urgent="0m"), "rules": {"protection_warn": ["3d"]}},
                       destinations=[Destination.for_url(f"ntfy://127.0.0.1:{port}/parcels")])  # plain text
        now = T0
        while now < T0 + timedelta(hours=26):
            await run_cycle(app, store, now, Notifier.for_app(app, store))
            now += timedelta(hours=1)
        [expired] = Notifier.for_app(app, store).report(now)
        assert expired["state"] == "expired" and "down for the test" in str(expired["last_error"])
        server.fail = 0
        await run_cycle(app, store, now, Notifier.for_app(app, store))
        assert server.received == []  # an expired alert is not sent late
        ended = at("2026-11-23T00:00")  # buyer protection is over: a new alert
        await run_cycle(app, store, ended, Notifier.for_app(app, store))
        await run_cycle(app, store, ended + timedelta(days=2), Notifier.for_app(app, store))  # long_wait, later
    first, second = (r.body["message"] for r in server.received)
    assert "Not delivered, given up after 1 day without an answer from this destination:\n- [URGENT] Buyer " \
           "protection ends in 2 days (AliExpress · USB-C hub) (queued 21 Nov 2026 at 10:00)" in first
    assert "Not delivered" not in second


async def test_a_claimed_row_is_left_to_its_live_sender_and_taken_from_a_dead_one(store: Store) -> None:
    """Two processes never send the same row; a SIGKILLed sender's rows are picked up at once."""
    app = make_app(watch(LAMP))
    await run_cycle(app, store, T0, None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for owner, taken in [(os.getppid(), 0), (dead.pid, 1)]:
        store.db.execute("UPDATE outbox SET claimed_by=?", (owner,))
        assert len(store.claim("terminal", lambda r: True)) == taken
        store.release([r.id for r in store.outbox()])


# ---------------------------------------------------------------- where alerts go


PHONE = Destination("phone", "json://127.0.0.1/phone", "phone", Severity.WARNING)
FAMILY = Destination("family", "json://127.0.0.1/family", "family", tags=frozenset({"family"}))
EVERYTHING = Destination("all", "json://127.0.0.1/all", "all")


@pytest.mark.parametrize(("severity", "tags", "expected"), [
    (Severity.INFO, None, ["family", "all"]),
    (Severity.WARNING, None, ["phone", "family", "all"]),
    (Severity.URGENT, None, ["phone", "family", "all"]),
    (Severity.INFO, ["family"], ["family"]),
    (Severity.URGENT, ["family"], ["family"]),
    (Severity.URGENT, ["shop"], []),
])
def test_routes_follow_min_severity_and_order_tags(severity: Severity, tags: list[str] | None,
                                                    expected: list[str]) -> None:
    """min_severity filters by severity; an order's notify tags keep only destinations with one of them."""
    order = {**LAMP, "notify": tags} if tags else LAMP
    app = make_app({**watch(order), "notify": {"destinations": [
        {"name": "family", "url": "json://127.0.0.1/family", "tags": ["family", "shop"]}]}},
        destinations=[PHONE, FAMILY, EVERYTHING])
    finding = Finding(Kind.TRACKING_MISSING, LAMP["id"], severity, ("t", "m", "a"), None, "k")  # type: ignore[arg-type]
    assert app.routes(finding) == expected


# ---------------------------------------------------------------- quiet hours


@pytest.mark.parametrize(("hours", "local", "until"), [
    ("22:00-08:00", "2026-11-21T21:59", None),
    ("22:00-08:00", "2026-11-21T22:00", "2026-11-22T08:00"),
    ("22:00-08:00", "2026-11-22T03:00", "2026-11-22T08:00"),
    ("22:00-08:00", "2026-11-22T07:59", "2026-11-22T08:00"),
    ("22:00-08:00", "2026-11-22T08:00", None),
    ("12:30-14:00", "2026-11-22T13:00", "2026-11-22T14:00"),
    ("12:30-14:00", "2026-11-22T23:00", None),
    ("off", "2026-11-22T03:00", None),
    ("01:00-04:00", "2026-03-29T01:30", "2026-03-29T04:00"),  # the night clocks go forward: 4:00 is 2:00 UTC
])
def test_quiet_hours_in_the_watchlist_zone(hours: str, local: str, until: str | None) -> None:
    """Quiet hours are wall-clock hours in the watchlist's zone, across midnight and DST changes."""
    from monitor.watchlist import _quiet_hours

    held = _quiet_hours(hours).hold_until(at(local), PARIS)
    assert held == (at(until) if until else None)


@pytest.mark.parametrize(("now", "kinds_now", "kinds_at_8"), [
    pytest.param("2026-11-21T23:00", ["protection_ending"], ["tracking_missing"], id="urgent-goes-through"),
    pytest.param("2026-11-21T21:00", ["protection_ending", "tracking_missing"], [], id="before-quiet-hours"),
])
async def test_quiet_hours_hold_all_but_urgent_then_one_digest(store: Store, now: str, kinds_now: list[str],
                                                               kinds_at_8: list[str]) -> None:
    """At 23:00 the urgent alert goes out alone and the warning waits; at 08:00 what waited goes out together."""
    with http_server() as (port, server):
        app = make_app(watch(HUB, LAMP, quiet_hours="22:00-08:00"),
                       destinations=[Destination.for_url(f"json://127.0.0.1:{port}/hook")])
        notifier = Notifier.for_app(app, store)
        await run_cycle(app, store, at(now), notifier)
        sent_now = len(server.received)
        assert [r["state"] for r in notifier.report(at(now))] == ["held"] * len(kinds_at_8)
        await notifier.deliver(at("2026-11-22T07:59"))
        assert len(server.received) == sent_now
        await notifier.deliver(at("2026-11-22T08:00"))
    titles = [r.body["title"] for r in server.received]
    expected = {"protection_ending": "Buyer protection ends in", "tracking_missing": "No tracking number yet"}
    assert len(titles) == (1 if kinds_now else 0) + (1 if kinds_at_8 else 0)
    if kinds_now:
        assert titles[0].startswith(expected[kinds_now[0]]) and titles[0].endswith("(+1 more)" if len(kinds_now) > 1 else ")")
    if kinds_at_8:
        assert titles[-1].startswith(expected[kinds_at_8[0]])


# ---------------------------------------------------------------- reminders


def _finding(severity: Severity, due: datetime | None) -> Finding:
    return Finding(Kind.PROTECTION_ENDING, "A", severity, ("t", "m", "a"), due, "A:k")


@pytest.mark.parametrize(("severity", "due_in", "since_last", "every", "expected"), [
    (Severity.URGENT, timedelta(days=2), timedelta(days=1), timedelta(days=1), True),
    (Severity.URGENT, timedelta(days=2), timedelta(hours=23), timedelta(days=1), False),  # not yet
    (Severity.URGENT, timedelta(days=4), timedelta(days=2), timedelta(days=1), False),  # deadline too far
    (Severity.URGENT, timedelta(days=3), timedelta(days=1), timedelta(days=1), True),  # the window's edge
    (Severity.URGENT, -timedelta(hours=1), timedelta(days=1), timedelta(days=1), False),  # deadline passed
    (Severity.WARNING, timedelta(days=2), timedelta(days=1), timedelta(days=1), False),  # only urgent repeats
    (Severity.URGENT, None, timedelta(days=5), timedelta(days=1), False),  # no deadline: an event, told once
    (Severity.URGENT, timedelta(days=2), timedelta(days=1), timedelta(0), False),  # "0m" turns reminders off
])
def test_repeat_schedule(severity: Severity, due_in: timedelta | None, since_last: timedelta, every: timedelta,
                         expected: bool) -> None:
    """An urgent deadline is reminded of every `every`, only in the last `within` before it."""
    due = T0 + due_in if due_in is not None else None
    assert repeat_due(_finding(severity, due), T0 - since_last, T0, every, timedelta(days=3)) is expected


@pytest.mark.parametrize(("change", "expected"), [
    pytest.param(None, [("protection_ending", "warning", 0, "19"), ("protection_ending", "urgent", 0, "20"),
                        ("protection_ending", "urgent", 1, "21"), ("protection_ending", "urgent", 0, "22"),
                        ("protection_ended", "urgent", 0, "23")], id="until-the-end"),
    pytest.param({"protection_ends": "2026-12-20"}, [("protection_ending", "warning", 0, "19"),
                                                     ("protection_ending", "urgent", 0, "20")], id="extended"),
    pytest.param({"delivered_on": "2026-11-20T18:00"}, [("protection_ending", "warning", 0, "19"),
                                                        ("protection_ending", "urgent", 0, "20"),
                                                        ("delivered", "info", 0, "20")], id="delivered"),
])
async def test_urgent_deadline_reminders_stop_when_the_situation_changes(
        store: Store, change: dict[str, str] | None, expected: list[tuple[str, str, int, str]]) -> None:
    """Hourly cycles from 19 to 23 Nov: a reminder a day after the urgent alert, none once the date is extended or
    the parcel delivered (the edit is made on the 20th at 12:00)."""
    order = {**HUB, "protection_ends": "2026-11-23"}
    now = at("2026-11-19T09:00")
    while now < at("2026-11-23T12:00"):  # long_wait would start the day after
        edited = change is not None and now >= at("2026-11-20T12:00")
        app = make_app(watch({**order, **change} if edited else order))  # type: ignore[dict-item]
        await run_cycle(app, store, now, None)
        now += timedelta(hours=1)
    rows = store.db.execute("SELECT kind, severity, repeat, created_at FROM outbox ORDER BY id").fetchall()
    got = [(k, s, r, f"{datetime.fromisoformat(c).astimezone(PARIS).day}") for k, s, r, c in rows]
    assert got == expected


# ---------------------------------------------------------------- slow destinations


async def test_a_slow_destination_holds_up_neither_the_others_nor_its_own_timeout(store: Store) -> None:
    """A destination that never answers is cut off at send_timeout; the other one has its alert meanwhile."""
    import threading

    with http_server() as (slow_port, slow), http_server() as (fast_port, fast):
        slow.gate = threading.Event()  # holds every request until the test ends
        app = make_app(watch(LAMP, send_timeout="1s"), destinations=[
            Destination("slow", f"json://127.0.0.1:{slow_port}/hook", "slow"),
            Destination("fast", f"json://127.0.0.1:{fast_port}/hook", "fast")])
        await run_cycle(app, store, T0, None)
        delivery = asyncio.create_task(Notifier.for_app(app, store).deliver(T0))
        assert await asyncio.to_thread(fast.arrived.wait, 10)
        assert not delivery.done()  # the slow one is still in flight
        assert await asyncio.wait_for(delivery, 10) == (1, 1)
    [row] = store.outbox()
    assert row.destination == "slow" and row.last_error.endswith("no answer within 1 s")


async def test_a_slow_destination_does_not_hold_up_polling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the daemon, delivery is a job of its own: cycles poll and evaluate while a send hangs."""
    import threading

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    with http_server() as (port, slow):
        slow.gate = threading.Event()
        cfg = tmp_path / "config.toml"
        cfg.write_text('[monitor]\ntimezone = "UTC"\npoll_interval = "5m"\n[notify]\nsend_timeout = "60s"\n'
                       f'[[notify.destinations]]\nname = "slow"\nurl = "json://127.0.0.1:{port}/hook"\n'
                       '[[orders]]\nid = "A"\nordered_on = 2026-11-01\ntracking = "DEMO-TRANSIT"\n'
                       '[[orders]]\nid = "B"\nordered_on = 2026-11-01\n')  # B: no tracking number, an alert
        clock = [T0]
        daemon = Daemon(cfg, lambda: clock[0])
        await daemon.tick()
        await daemon.polls_done()
        assert daemon.last is not None and daemon.last.polled == 1
        assert await asyncio.to_thread(lambda: _until(lambda: slow.attempts == 1))  # the send hangs now
        clock[0] += timedelta(minutes=5)
        await asyncio.wait_for(daemon.tick(), 10)  # not blocked by the hanging send
        await asyncio.wait_for(daemon.polls_done(), 10)
        assert daemon.last.polled == 1 and daemon._deliveries
        slow.gate.set()
        await asyncio.gather(*daemon._deliveries)
        assert len(slow.received) == 1
        await daemon.app.aclose()
        daemon.store.close()


def _until(condition, timeout: float = 10) -> bool:  # type: ignore[no-untyped-def]
    """Wait (in a worker thread) for a condition a server thread makes true."""
    import time as clock

    end = clock.monotonic() + timeout
    while not condition():
        if clock.monotonic() > end:
            return False
        clock.sleep(0.01)
    return True


def test_quiet_hours_value_round_trips() -> None:
    """What `outbox` and logs print is what the file says."""
    assert str(QuietHours(time(22), time(8))) == "22:00-08:00" and str(QuietHours(None, None)) == "off"
