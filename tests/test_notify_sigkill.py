"""SIGKILL at random points of `check`, many times, with a real destination, quick or slow to answer: no alert lost;
an alert reaches the destination at most once more than the sends of it that a kill interrupted (each recorded in
its outbox row before the request went out). A send cut off by the daemon stopping counts the same; an answered one
does not."""
from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import App, Destination, load_app
from monitor.cycle import run_cycle
from monitor.notify import Notifier
from monitor.store import Store
from tests.helpers import make_app
from tests.notify_servers import Request, http_server

ROOT = Path(__file__).resolve().parent.parent
EXE = [sys.executable, "-c", "from monitor.cli import entry; entry()"]
START = datetime(2026, 11, 21, 10, 0)
# (kills, seconds the destination takes to answer, aimed): a kill at a random instant of the run, or, when aimed
# and the run sends before that instant, while the destination has the message and has not answered yet.
SCENARIOS = [(50, 0.0, False), (15, 0.5, True)]


def _titles(req: Request) -> list[str]:
    """The alerts one ntfy message carried: its title, or each '[SEVERITY] title' line of a digest."""
    body = req.body["message"]
    if not body.split("\n", 1)[0].endswith("most urgent first:"):
        return [req.body["title"]]
    return [line.split("] ", 1)[1] for line in body.splitlines() if line.startswith(("[URGENT] ", "[WARNING] ", "[INFO] "))]


def _clean_history(cfg: Path, state: Path, times: list[datetime]) -> set[tuple[str, str]]:
    """(order, kind) of every alert the same hours give without any kill: the oracle for 'nothing lost'.

    Not the keys themselves: a stall or an exception episode is keyed by the demo carrier's event, whose time
    follows the hour it was polled at, and a killed run moves that hour."""
    clock = [times[0]]
    app = load_app(cfg, lambda: clock[0])
    store = Store.in_dir(state)

    async def cycles() -> None:
        for at in times:
            clock[0] = at.replace(tzinfo=app.watchlist.monitor.zone)
            await run_cycle(app, store, clock[0], None)
        await app.aclose()

    asyncio.run(cycles())
    found = set(store.db.execute("SELECT order_id, kind FROM notified").fetchall())
    store.close()
    return found


@pytest.mark.parametrize(("kills", "delay", "aimed"), SCENARIOS,
                         ids=[f"{k} kills{' aimed at sends' if a else ''}, answer after {d:g} s" for k, d, a in SCENARIOS])
def test_sigkills_lose_no_alert_and_repeat_one_only_for_its_own_interrupted_sends(
        tmp_path: Path, kills: int, delay: float, aimed: bool) -> None:
    """Each run is `check` one hour later than the last, killed at a random instant; then one clean run."""
    with http_server() as (port, server):
        server.delay = delay
        cfg = tmp_path / "config.toml"
        example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
        cfg.write_text(example + f'\n[[notify.destinations]]\nname = "phone"\nurl = "ntfy://127.0.0.1:{port}/parcels"\n'
                       "\n[carriers.demo]\nlatency = 0.2\n", encoding="utf-8")
        env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")}
        for var in ("TRACKING_MONITOR_NOTIFY_URLS", "TRACKING_MONITOR_SECRETS_DIR", "CREDENTIALS_DIRECTORY"):
            env.pop(var, None)
        times = [START + timedelta(hours=i) for i in range(kills + 1)]

        def check(at: datetime) -> list[str]:
            return [*EXE, "--config", str(cfg), "check", "--record", "--now", at.isoformat(timespec="minutes")]

        started = time.monotonic()  # how long one run takes here, so the kills spread over all of it
        subprocess.run(check(START), env={**env, "STATE_DIRECTORY": str(tmp_path / "calibrate")},
                       capture_output=True, check=True)
        span = time.monotonic() - started
        server.received.clear()

        rng = random.Random(4)
        killed = 0
        for at in times[:-1]:
            server.arrived.clear()
            proc = subprocess.Popen(check(at), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            instant = rng.uniform(0.05, span * 1.1)  # a random instant: loading, polling, queuing, sending, recording
            if not aimed:
                time.sleep(instant)
            elif server.arrived.wait(instant):  # it sent before that instant: kill it before the answer is back
                time.sleep(rng.uniform(0, delay * 0.8))
            proc.kill()
            proc.wait()
            killed += proc.returncode == -9
        subprocess.run(check(times[-1]), env=env, capture_output=True, check=True)

    received = Counter(t for req in server.received for t in _titles(req))
    with sqlite3.connect(tmp_path / "state" / "demo" / "state.sqlite3") as db:  # the example is a demo: its state is apart
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] == 0
        rows = db.execute("SELECT title, repeat, interrupted FROM outbox").fetchall()
        history = set(db.execute("SELECT order_id, kind FROM notified").fetchall())
    expected: Counter[str] = Counter()
    allowed: Counter[str] = Counter()  # per title (rows of one title are told apart by nothing in a message)
    for title, repeat, interrupted in rows:
        shown = ("Reminder: " if repeat else "") + title
        expected[shown] += 1
        allowed[shown] += 1 + interrupted
    lost = expected - received
    duplicates = received - expected
    print(f"\n{killed} of {kills} runs killed mid-way; {sum(expected.values())} alerts queued, "
          f"{sum(received.values())} received; duplicates: {sum(duplicates.values())}, "
          f"interrupted sends recorded: {sum(allowed.values()) - sum(expected.values())}, "
          f"most copies of one alert: {max(received.values(), default=0)}")
    assert killed >= kills // 2  # the kills really landed inside runs
    assert not lost, lost
    assert history == _clean_history(cfg, tmp_path / "clean", times)  # every alert a clean history has
    assert not received - allowed, {t: (received[t], allowed[t]) for t in received - allowed}


NOW = datetime(2026, 11, 21, 10, tzinfo=UTC)


async def _one_alert(store: Store, dest: Destination) -> App:
    """An app whose one order has had no tracking number for three weeks, and that alert queued for `dest`."""
    app = make_app({"monitor": {"timezone": "UTC"}, "orders": [{"id": "L", "ordered_on": "2026-11-01"}]},
                   destinations=[dest])
    await run_cycle(app, store, NOW, None)
    return app


@pytest.mark.parametrize(("ending", "interrupted"), [("answered", 0), ("refused", 0), ("stopped", 1)])
async def test_a_send_cut_off_before_its_answer_is_counted_at_the_next_claim(tmp_path: Path, ending: str,
                                                                            interrupted: int) -> None:
    """Only a send whose answer never came back (the daemon stopped while it was in flight) counts: the
    destination may have the message, so a copy more of it is allowed."""
    store = Store.in_dir(tmp_path)
    with http_server() as (port, server):
        server.fail = ending == "refused"
        server.gate = threading.Event() if ending == "stopped" else None
        dest = Destination.for_url(f"json://127.0.0.1:{port}/hook")
        app = await _one_alert(store, dest)
        delivery = asyncio.create_task(Notifier.for_app(app, store).deliver(NOW))
        if ending == "stopped":
            deadline = time.monotonic() + 10
            while not server.attempts and time.monotonic() < deadline:  # the request has reached the destination
                await asyncio.sleep(0.01)
            delivery.cancel()  # what the daemon does to a send in flight when it stops
        with contextlib.suppress(asyncio.CancelledError):
            await delivery
        store.claim(dest.id, lambda r: True)  # the next sender
    assert store.db.execute("SELECT interrupted FROM outbox").fetchall() == [(interrupted,)]
    store.close()


@pytest.mark.parametrize(("claim", "taken"), [
    pytest.param(None, 0, id="this process's own claim: another of its delivery runs sends the row"),
    pytest.param((os.getpid(), "earlier-boot/1"), 1, id="a killed claimant's pid given to this process"),
    pytest.param((os.getppid(), "earlier-boot/1"), 1, id="a killed claimant's pid given to another process"),
    pytest.param((os.getppid(), None), 0, id="a live pid's claim without identity, as older versions wrote it"),
])
async def test_a_claim_is_void_once_its_process_is_gone_even_if_its_pid_lives_on(
        tmp_path: Path, claim: tuple[int, str | None] | None, taken: int) -> None:
    """A pid is reused (a restarted container's daemon is pid 1 again): a dead claimant's rows must not wait for
    the process that got its pid, which would hold them, never sent and never expired, as long as it runs."""
    store = Store.in_dir(tmp_path)
    await _one_alert(store, Destination.for_url(None))
    assert len(store.claim("terminal", lambda r: True)) == 1
    if claim is not None:
        store.db.execute("UPDATE outbox SET claimed_by=?, claimant=?", claim)
    assert len(store.claim("terminal", lambda r: True)) == taken
    store.close()
