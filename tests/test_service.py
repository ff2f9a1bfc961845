"""The daemon as systemd runs it: a real datagram socket as NOTIFY_SOCKET, real signals, a real SIGKILL."""
from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import sdnotify
from monitor.daemon import Daemon

ROOT = Path(__file__).resolve().parent.parent
EXE = [sys.executable, "-c", "from monitor.cli import entry; entry()"]
WATCHLIST = """\
[monitor]
timezone = "UTC"
[[orders]]
id = "A"
ordered_on = 2026-11-01
tracking = "DEMO-TRANSIT"
protection_ends = 2026-11-23
[[orders]]
id = "B"
ordered_on = 2026-11-01
"""


class NotifySocket:
    """A datagram socket standing in for systemd: records (monotonic time, message) pairs."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, text: str, timeout: float = 20, after: int = 0) -> int:
        """Index of the first message from `after` on containing `text`; fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, (_, msg) in enumerate(self.messages[after:], after):
                if text in msg:
                    return i
            time.sleep(0.02)
        raise AssertionError(f"no {text!r} within {timeout}s; got {[m for _, m in self.messages]}")

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    ns = NotifySocket(tmp_path / "notify.sock")
    yield ns
    ns.close()


@pytest.fixture
def daemon_proc(tmp_path: Path, notify_socket: NotifySocket) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`tracking-monitor run` started as systemd would: NOTIFY_SOCKET and a 1 s watchdog."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(WATCHLIST)
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state"), "NOTIFY_SOCKET": notify_socket.path,
           "WATCHDOG_USEC": "1000000", "JOURNAL_STREAM": "8:1234"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([*EXE, "--config", str(cfg), "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    yield proc, cfg
    proc.kill()
    proc.wait()


def test_ready_watchdog_reload_stopping(daemon_proc: tuple[subprocess.Popen[str], Path],
                                        notify_socket: NotifySocket) -> None:
    """READY after start, WATCHDOG at half WatchdogSec, RELOADING/READY around SIGHUP, STOPPING on SIGTERM."""
    proc, cfg = daemon_proc
    ready = notify_socket.wait_for("READY=1")
    assert "STATUS=2 orders" in notify_socket.messages[ready][1]
    # Every 0.5 s, half of WatchdogSec=1s: two gaps in a row within (0.3, 0.8). The pings are on a fixed grid, so
    # one held back by the first cycle or a busy machine is followed by a short gap; the next steady run is measured.
    steady, third, seen = False, ready, []
    while not steady and len(seen) < 12:
        third = notify_socket.wait_for("WATCHDOG=1", after=third + 1)
        seen.append(notify_socket.messages[third][0])
        gaps = [b - a for a, b in zip(seen[-3:], seen[-2:], strict=False)]
        steady = len(gaps) == 2 and all(0.3 < g < 0.8 for g in gaps)
    assert steady, [round(b - a, 2) for a, b in zip(seen, seen[1:], strict=False)]

    cfg.write_text(WATCHLIST + '[[orders]]\nid = "C"\nordered_on = 2026-11-20\n')
    proc.send_signal(signal.SIGHUP)
    reloading = notify_socket.wait_for("RELOADING=1", after=third)
    again = notify_socket.wait_for("READY=1", after=reloading)
    assert "STATUS=3 orders" in notify_socket.messages[again][1]
    cfg.write_text(WATCHLIST.split("[[orders]]\nid = \"B\"")[0])  # order B removed, by saving the file
    removed = notify_socket.wait_for("STATUS=1 order,", after=again)
    assert "RELOADING=1" in notify_socket.messages[removed - 1][1]

    proc.send_signal(signal.SIGTERM)
    notify_socket.wait_for("STOPPING=1", after=removed)
    assert proc.wait(timeout=15) == 0
    err = proc.stderr.read()  # type: ignore[union-attr]
    assert re.search(r"^<6>watchlist reloaded \(SIGHUP\): 3 orders$", err, re.M)  # syslog priority, no timestamp
    assert re.search(r"^<6>watchlist reloaded \(file changed\): 1 order$", err, re.M)


def test_broken_edit_keeps_the_old_orders(daemon_proc: tuple[subprocess.Popen[str], Path],
                                          notify_socket: NotifySocket) -> None:
    """SIGHUP with a broken file: the old orders stay, the error names file:line, one alert says so."""
    proc, cfg = daemon_proc
    ready = notify_socket.wait_for("READY=1")
    cfg.write_text(WATCHLIST + "[[orders]]\nid = 'C'\nordered_on = 2026-13-45\n")
    proc.send_signal(signal.SIGHUP)
    reloading = notify_socket.wait_for("RELOADING=1", after=ready)
    again = notify_socket.wait_for("READY=1", after=reloading)
    assert "STATUS=2 orders" in notify_socket.messages[again][1]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    assert re.search(rf"^<3>watchlist edit rejected .*{re.escape(str(cfg))}:13:", err, re.M), err
    assert out.count("Watchlist edit rejected") == 1


async def test_watchdog_pings_stop_while_the_loop_is_wedged(tmp_path: Path, notify_socket: NotifySocket,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A blocked event loop sends no WATCHDOG=1, so systemd restarts the service; pings resume after."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(WATCHLIST)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    daemon = Daemon(cfg, lambda: datetime.now(UTC), sd=sdnotify.Notifier(notify_socket.path))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.serve(stop))
    await asyncio.sleep(0.6)
    before = sum(m == "WATCHDOG=1" for _, m in notify_socket.messages)
    wedge_start = time.monotonic()
    time.sleep(1.0)  # the loop is wedged: nothing scheduled can run
    wedge_end = time.monotonic()
    await asyncio.sleep(0.5)
    stop.set()
    await task
    pings = [t for t, m in notify_socket.messages if m == "WATCHDOG=1"]
    assert before >= 3  # 0.1 s apart before the wedge
    # Only a ping already in flight may land just after the wedge began; none during it.
    assert not [t for t in pings if wedge_start + 0.05 < t < wedge_end]
    assert [t for t in pings if t > wedge_end]  # and they resume
    assert notify_socket.messages[-1][1] == "STOPPING=1"


def test_sigkill_during_polls_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL at random points of a cycle, then a clean run: the database is intact, every alert arrives."""
    cfg = tmp_path / "config.toml"
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    cfg.write_text(example + "\n[carriers.demo]\nlatency = 0.3\n", encoding="utf-8")
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")}
    args = [*EXE, "--config", str(cfg), "check", "--record", "--now", "2026-11-21T10:00"]
    printed: list[str] = []
    rng = random.Random(1)
    for _ in range(8):
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        time.sleep(rng.uniform(0.05, 1.2))  # a random instant: loading, polling, storing or sending
        proc.kill()
        printed += proc.communicate()[0].splitlines()
    final = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    printed += final.stdout.splitlines()
    alerts = Counter(line for line in printed if line.startswith("["))
    assert len(alerts) == 17  # every finding of the example reached the terminal
    doubled = {a: n for a, n in alerts.items() if n > 1}
    print(f"alerts doubled by a kill between printing and recording: {len(doubled)}")
    with sqlite3.connect(tmp_path / "state" / "demo" / "state.sqlite3") as db:  # the example is a demo: its state is apart
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] == 0
        # No finding was recorded or queued twice, whatever the kill interrupted.
        assert db.execute("SELECT count(*) FROM notified").fetchone()[0] == 17
        assert db.execute("SELECT count(*) FROM outbox GROUP BY key HAVING count(*) > 1").fetchall() == []
