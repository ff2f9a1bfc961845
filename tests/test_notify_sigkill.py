"""SIGKILL at random points of `check`, 50 times, with a real destination: no alert lost; duplicates only from a
kill between a destination's confirmation and its recording, counted and printed."""
from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from monitor.config import load_app
from monitor.cycle import run_cycle
from monitor.store import Store
from tests.notify_servers import Request, http_server

ROOT = Path(__file__).resolve().parent.parent
EXE = [sys.executable, "-c", "from monitor.cli import entry; entry()"]
START = datetime(2026, 11, 21, 10, 0)
KILLS = 50


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


def test_fifty_sigkills_lose_no_alert(tmp_path: Path) -> None:
    """Each run is `check` one hour later than the last, killed at a random instant; then one clean run."""
    with http_server() as (port, server):
        cfg = tmp_path / "config.toml"
        example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
        cfg.write_text(example + f'\n[[notify.destinations]]\nname = "phone"\nurl = "ntfy://127.0.0.1:{port}/parcels"\n'
                       "\n[carriers.demo]\nlatency = 0.2\n", encoding="utf-8")
        env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")}
        for var in ("TRACKING_MONITOR_NOTIFY_URLS", "TRACKING_MONITOR_SECRETS_DIR", "CREDENTIALS_DIRECTORY"):
            env.pop(var, None)
        times = [START + timedelta(hours=i) for i in range(KILLS + 1)]

        def check(at: datetime) -> list[str]:
            return [*EXE, "--config", str(cfg), "check", "--now", at.isoformat(timespec="minutes")]

        started = time.monotonic()  # how long one run takes here, so the kills spread over all of it
        subprocess.run(check(START), env={**env, "STATE_DIRECTORY": str(tmp_path / "calibrate")},
                       capture_output=True, check=True)
        span = time.monotonic() - started
        server.received.clear()

        rng = random.Random(4)
        killed_during: Counter[str] = Counter()  # alerts received during a run that was then killed
        killed = 0
        for at in times[:-1]:
            before = len(server.received)
            proc = subprocess.Popen(check(at), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            time.sleep(rng.uniform(0.05, span * 1.1))  # a random instant: loading, polling, queuing, sending, recording
            proc.kill()
            proc.wait()
            if proc.returncode == -9:
                killed += 1
                killed_during.update(t for req in server.received[before:] for t in _titles(req))
        subprocess.run(check(times[-1]), env=env, capture_output=True, check=True)

    received = Counter(t for req in server.received for t in _titles(req))
    with sqlite3.connect(tmp_path / "state" / "state.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] == 0
        rows = db.execute("SELECT title, repeat FROM outbox").fetchall()
        history = set(db.execute("SELECT order_id, kind FROM notified").fetchall())
    expected = Counter(("Reminder: " if repeat else "") + title for title, repeat in rows)
    lost = expected - received
    duplicates = received - expected
    print(f"\n{killed} of {KILLS} runs killed mid-way; {sum(expected.values())} alerts queued, "
          f"{sum(received.values())} received; duplicates: {sum(duplicates.values())}")
    assert killed >= KILLS // 2  # the kills really landed inside runs
    assert not lost, lost
    assert history == _clean_history(cfg, tmp_path / "clean", times)  # every alert a clean history has
    # A duplicate needs a run killed after the destination had the message and before it was recorded.
    for title, extra in duplicates.items():
        assert killed_during[title] >= extra, title
