"""Benchmark of the commands a user runs, each as its own process: validate, check, status and the daemon.

Run `python bench/commands.py` (see bench/README.md); it exits 1 when a target is missed.

This process imports only the standard library and builds the data in a process of its own: a child's ru_maxrss
starts at the peak RSS of the process that spawned it (Linux carries it across fork and exec), so the spawning
process must stay smaller than anything it measures.
"""
from __future__ import annotations

import argparse
import http.server
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.rules import History
    from monitor.watchlist import Order

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # the checkout this file is in, and bench/rules.py next to it

CARRIER = "demo"  # installed, needs no key and no network; and with nothing due it is never even asked
POLL_INTERVAL = timedelta(hours=6)
# Every number not final is next due a day after the data is built: no command of the run polls anything,
# however long the run takes (a 100,000-order run can take an hour on code that is slow).
NEXT_POLL_AFTER = timedelta(days=1)
SETTLE = 2.0  # default seconds the daemon is left alone after its first cycle before its idle RSS is read
STOP_GRACE = 60.0  # seconds the daemon has to stop after SIGTERM
CLI = "from monitor.cli import entry; entry()"
SEED = 20260928

# (orders, figure, limit, unit): a figure of the size must stay under its limit. "x validate" is the
# figure's time divided by `validate`'s on the same file in the same run.
TARGETS: list[tuple[int, str, float, str]] = [
    (100_000, "check_again", 3.0, "x validate"),
    (100_000, "status", 3.0, "x validate"),
    (100_000, "idle_rss", 300.0, "MiB"),
    (500, "idle_rss", 60.0, "MiB"),  # a Raspberry Pi's few hundred orders
]
# The figures, in the order they run (each later one needs the state the earlier ones left) and are printed.
LABELS: dict[str, str] = {
    "validate": "validate",
    "dry_run": "check --dry-run",
    "check_first": "check, first (queues and prints every finding)",
    "check_again": "check, again (a cycle with no new events)",
    "status": "status --json",
    "ready": "run: start to READY=1",
    "first_cycle": "run: READY=1 to the end of its first cycle",
    "idle_rss": "run: idle RSS after its first cycle",
    "idle_rss_apprise": "run, alerts to an Apprise URL: idle RSS",
}
RSS_FIGURES = {"idle_rss", "idle_rss_apprise"}
# The Apprise figure delivers every finding of the size to a local server, one digest per request: up to this size.
APPRISE_UP_TO = 10_000


# ---------------------------------------------------------------- the data


def _toml(value: object) -> str:
    """A watchlist value as TOML: dates and local date-times bare, durations as the quoted strings users write."""
    from monitor.durations import format_duration

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):  # datetime too: watchlist date-times are local (naive), TOML's local date-time
        return value.isoformat()
    if isinstance(value, timedelta):
        return json.dumps(format_duration(value))
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string for these texts


def watchlist(orders: list[Order], state_dir: Path) -> str:
    """The orders as a user's watchlist file: only the keys each order sets, every tracked one on the demo carrier."""
    from monitor.watchlist import Order

    parts = ['[monitor]\ntimezone = "Europe/Paris"\nlanguage = "en"\n'
             f"poll_interval = {_toml(POLL_INTERVAL)}\nstate_dir = {json.dumps(str(state_dir))}\n"]
    for o in orders:
        given = o.model_fields_set | ({"carrier"} if o.tracking else set())
        lines = ["[[orders]]"]
        lines += [f"{k} = {_toml(CARRIER if k == 'carrier' else getattr(o, k))}"
                  for k in Order.model_fields if k in given and k != "dispute"]  # in the order the README lists them
        if o.dispute is not None:
            d = o.dispute
            lines.append(f"  [orders.dispute]\n  opened_on = {_toml(d.opened_on)}\n  wait_until = {_toml(d.wait_until)}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def write_state(path: Path, orders: list[Order], histories: dict[str, History], now: datetime, seed: int) -> int:
    """The state a daemon would have after polling every number once, nothing notified yet; returns the events.

    Written with executemany in the schema `Store` creates, in one transaction: 1.8 million events in seconds.
    """
    from monitor.store import Store

    rng = random.Random(seed)
    numbers, shipments, events = [], [], []
    for o in orders:
        hist = histories[o.id]
        if not o.tracking or hist.status is None:
            continue
        numbers.append((o.id, o.tracking, _iso(hist.number_since)))
        polled = now - POLL_INTERVAL * rng.random()  # the last poll, somewhere in the last interval
        final = hist.status.is_final
        nxt = None if final else now + NEXT_POLL_AFTER + POLL_INTERVAL * rng.random()
        failing = hist.failing_since
        fails = int((now - failing) / POLL_INTERVAL) + 1 if failing else 0
        success = polled if not failing else min(failing, polled)
        shipments.append((CARRIER, o.tracking, hist.status.value, hist.status.value.upper(), _iso(polled),
                          _iso(success), _iso(nxt), _iso(failing), fails, hist.last_error))
        for e in hist.events:
            at = e.time.isoformat()  # already UTC, as the store writes it; first seen when it happened
            events.append((CARRIER, o.tracking, e.key, at, e.kind.value, e.code, e.description, e.location, at))
    Store(path).close()  # the schema, its added columns and version, exactly as the code under test makes them
    db = sqlite3.connect(path, isolation_level=None)
    # No journal and no fsync while the file is filled (it is rebuilt if anything goes wrong); WAL again after.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    db.executemany("INSERT INTO numbers(order_id, number, first_seen) VALUES (?, ?, ?)", numbers)
    db.executemany("INSERT INTO shipments(carrier, number, status, raw_status, last_polled, last_success, next_poll,"
                   " failing_since, fail_count, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", shipments)
    db.executemany("INSERT INTO events(carrier, number, key, time, kind, code, description, location, first_seen)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return len(events)


@dataclass
class Dataset:
    """One size's files, built before anything is timed."""

    dir: Path
    orders: int
    tracked: int  # numbers in the state (a "not found" one has no events)
    events: int
    watchlist_kib: float
    state_mib: float
    build_s: float
    now: str  # the instant `check` and `status` evaluate at (--now), the one the data was built around
    # When no timed first `check` finished: how long the one run afterwards, untimed, to notify every finding took
    # (the later figures need that state); None when it was not needed or did not finish either.
    prepared_s: float | None = None
    load: tuple[float, float] = (0.0, 0.0)  # the 1-minute load average before and after the commands ran
    notified: tuple[int, int] = (0, 0)  # findings in the notification log after the first check, and after the second

    @property
    def config(self) -> Path:
        """The watchlist."""
        return self.dir / "watchlist.toml"

    @property
    def state(self) -> Path:
        """The state file the commands use."""
        return self.dir / "state" / "state.sqlite3"

    def restore(self) -> None:
        """The state as built, nothing notified; without the write-ahead log a daemon left, which would not match it."""
        for suffix in ("-wal", "-shm"):
            Path(f"{self.state}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.pristine, self.state)

    @property
    def pristine(self) -> Path:
        """A copy of the state as built, to start each first `check` from."""
        return self.dir / "pristine.sqlite3"


def build_dataset(n: int, tmp: Path, now: datetime, seed: int) -> Dataset:
    """The watchlist and the state of `n` orders of bench/rules.py's mix, dates spread around `now`.

    Built in a fresh process, which exits with the 1 GB the objects of 100,000 orders take (see the module's docstring).
    """
    t0 = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        counts = pool.submit(_build_files, n, tmp, now, seed).result()
    data = Dataset(tmp, n, *counts, 0.0, 0.0, 0.0, now.isoformat())
    data.watchlist_kib, data.state_mib = data.config.stat().st_size / 1024, data.state.stat().st_size / 2**20
    shutil.copyfile(data.state, data.pristine)
    data.build_s = time.perf_counter() - t0
    return data


def _build_files(n: int, tmp: Path, now: datetime, seed: int) -> tuple[int, int]:
    """In the builder process: write the watchlist and the state; (numbers in the state, events)."""
    from rules import build  # bench/rules.py: the same mix of orders and 20-event histories

    orders, histories = build(n, now, seed)
    paths = Dataset(tmp, n, 0, 0, 0.0, 0.0, 0.0, "")  # only where the files go
    paths.state.parent.mkdir(parents=True)
    paths.config.write_text(watchlist(orders, paths.state.parent), encoding="utf-8")
    events = write_state(paths.state, orders, histories, now, seed)
    return sum(1 for h in histories.values() if h.status is not None), events


# ---------------------------------------------------------------- running the commands


@dataclass
class Run:
    """One process: its wall time and peak RSS, or why there is none."""

    seconds: float | None = None  # None: it timed out or failed
    peak_rss_mib: float | None = None
    timed_out: bool = False
    error: str = ""
    ready_s: float | None = None  # `run` only: spawn to READY=1
    idle_rss_mib: float | None = None  # `run` only: VmRSS once its first cycle is over


def child_env() -> dict[str, str]:
    """The environment of every command: this checkout's code first, nothing from the user's tracking-monitor setup."""
    drop = ("TRACKING_MONITOR_", "NOTIFY_SOCKET", "WATCHDOG_", "JOURNAL_STREAM", "STATE_DIRECTORY",
            "CREDENTIALS_DIRECTORY")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _spawn(args: list[str], env: dict[str, str], stderr: object) -> subprocess.Popen[bytes]:
    # A session of its own, so a timeout kills the whole process group. stdout goes to /dev/null: the alerts
    # printed to the terminal and status's JSON are produced in full but cost nothing to read.
    return subprocess.Popen([sys.executable, "-c", CLI, *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)  # type: ignore[arg-type]


class _Reaper:
    """Waits for a child with os.wait4 (its own rusage), killing its group if it outlives the timeout."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        self.proc, self.lock, self.done, self.killed = proc, threading.Lock(), False, False
        self.timer = self._arm(timeout)

    def _arm(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.kill)
        timer.daemon = True
        timer.start()
        return timer

    def kill(self) -> None:
        """SIGKILL the child's group, unless it was reaped already."""
        with self.lock:
            if not self.done:
                self.killed = True
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:  # it exited on its own just now
                    pass

    def extend(self, seconds: float) -> None:
        """Kill it `seconds` from now instead: the timeout was for the work, not for idling and stopping."""
        self.timer.cancel()
        self.timer = self._arm(seconds)

    def wait(self) -> tuple[int, float]:
        """(exit code, peak RSS in MiB); ru_maxrss is in KiB on Linux."""
        _, status, usage = os.wait4(self.proc.pid, 0)
        with self.lock:
            self.done = True
        self.timer.cancel()
        self.proc.returncode = code = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
        return code, usage.ru_maxrss / 1024


def _read(err: IO[bytes]) -> str:
    err.seek(0)
    return err.read().decode(errors="replace")


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:300] if lines else ""


def time_command(args: list[str], env: dict[str, str], timeout: float) -> Run:
    """Spawn to exit of one command, with the child's peak RSS."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = _spawn(args, env, err)
        reaper = _Reaper(proc, timeout)
        code, rss = reaper.wait()
        elapsed = time.perf_counter() - start
        if reaper.killed:
            return Run(None, rss, True)
        if code != 0:
            return Run(None, rss, error=f"exit {code}: {_last_line(_read(err))}")
        return Run(elapsed, rss)


def time_daemon(config: Path, env: dict[str, str], timeout: float, tmp: Path, settle: float = SETTLE,
                until: Callable[[], bool] | None = None) -> Run:
    """`run` under a notify socket: spawn to READY=1, then to the STATUS= its first cycle ends with; idle RSS; stop.

    The daemon sends READY=1 (with a STATUS= line) once it listens, then a STATUS= datagram of its own after
    every cycle: the first datagram after READY=1 marks the end of the first cycle. `until`, when given, must hold
    (it is asked every 0.1 s) before the settle starts.
    """
    path = tmp / f"notify-{time.monotonic_ns()}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    out, error = Run(), ""
    with sock, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = _spawn(["--config", str(config), "run"], {**env, "NOTIFY_SOCKET": str(path)}, err)
        reaper = _Reaper(proc, timeout)
        deadline = start + timeout
        try:
            out.ready_s = _datagram(sock, proc, deadline, lambda d: b"READY=1" in d) - start
            cycle_end = _datagram(sock, proc, deadline, lambda d: b"STATUS=" in d and b"READY=1" not in d)
            out.seconds = cycle_end - start - out.ready_s
            while until is not None and not until():
                if time.perf_counter() > deadline:
                    raise TimeoutError
                time.sleep(0.1)
            reaper.extend(settle + STOP_GRACE)
            time.sleep(settle)  # let the delivery the cycle started finish: then the daemon only waits
            out.idle_rss_mib = _vm_rss_mib(proc.pid)
            os.killpg(proc.pid, signal.SIGTERM)
        except TimeoutError:
            pass  # the reaper kills it at the deadline
        except (ChildProcessError, FileNotFoundError):  # FileNotFoundError: /proc/PID went away
            error = "exited before its first cycle ended: "
        code, out.peak_rss_mib = reaper.wait()
        log = _read(err)
    if out.seconds is None:
        out.timed_out = reaper.killed
    elif reaper.killed:
        error = f"did not stop within {STOP_GRACE:g} s of SIGTERM"
    elif "cycle:" not in log:  # the daemon logs "cycle failed" or "cycle cancelled" instead
        error = "its first cycle failed: "
    elif code != 0:
        error = f"exit {code} after SIGTERM: "
    if error:
        out.seconds = out.idle_rss_mib = None
        out.error = error + (_last_line(log) if error.endswith(": ") else "")
    return out


def _datagram(sock: socket.socket, proc: subprocess.Popen[bytes], deadline: float,
              wanted: Callable[[bytes], bool]) -> float:
    """perf_counter() when a wanted datagram arrives; TimeoutError at the deadline, ChildProcessError if it died."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(min(left, 0.5))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            # Exited? Asked without reaping, so the reaper still gets its rusage.
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                raise ChildProcessError from None
            continue
        if wanted(data):
            return time.perf_counter()


def _notified(state: Path) -> int:
    """Findings the state's notification log holds."""
    with sqlite3.connect(state) as db:
        return db.execute("SELECT count(*) FROM notified").fetchone()[0]


def _vm_rss_mib(pid: int) -> float | None:
    """The resident set of a live process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


class Sink(http.server.ThreadingHTTPServer):
    """A local server on 127.0.0.1 that answers every POST with 200, as ntfy does; it counts them."""

    def __init__(self) -> None:
        self.posts = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # noqa: N802, N805 (the stdlib's name; `self` is the server)
                handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
                self.posts += 1
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.end_headers()
                handler.wfile.write(b"{}")

            def log_message(handler, *args: object) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def watchlist(self, config: Path) -> Path:
        """A copy of the watchlist whose alerts go to this server through Apprise's ntfy plugin."""
        copy = config.with_name("watchlist-apprise.toml")
        text = config.read_text(encoding="utf-8")
        notify = f'[notify]\nurls = ["ntfy://127.0.0.1:{self.server_address[1]}/parcels"]\n\n'
        copy.write_text(text.replace("[[orders]]", notify + "[[orders]]", 1), encoding="utf-8")
        return copy


# ---------------------------------------------------------------- one size


@dataclass
class Figure:
    """Best of the repeats of one figure, and every run."""

    name: str
    runs: list[Run]
    best: float | None = None  # seconds, or MiB for idle_rss
    peak_rss_mib: float | None = None  # of the best run; when none finished, the highest reached before the kill
    ratio: float | None = None  # best / validate's best (times only)
    timed_out: bool = False
    error: str = ""

    @classmethod
    def of(cls, name: str, runs: list[Run]) -> Figure:
        """The best run; a figure with no finished run is timed out (or failed)."""
        key = (lambda r: r.idle_rss_mib) if name in RSS_FIGURES else (lambda r: r.seconds)
        done = [r for r in runs if key(r) is not None]
        if not done:
            reached = max((r.peak_rss_mib for r in runs if r.timed_out and r.peak_rss_mib), default=None)
            return cls(name, runs, None, reached, timed_out=any(r.timed_out for r in runs),
                       error=next((r.error for r in runs if r.error), ""))
        best = min(done, key=key)
        return cls(name, runs, key(best), best.peak_rss_mib)


def measure_size(data: Dataset, repeat: int, timeout: float, settle: float, prepare: float, tmp: Path,
                 progress: Callable[[str], None]) -> dict[str, Figure]:
    """Every figure of one size, in the order the state needs them."""
    env = child_env()
    load = os.getloadavg()[0]
    base = ["--config", str(data.config)]
    at = ["--now", data.now]
    runs: dict[str, list[Run]] = {name: [] for name in LABELS}

    def command(name: str, args: list[str], before: Callable[[], None] | None = None) -> None:
        for i in range(repeat):
            if before:
                before()
            run = time_command(base + args, env, timeout)
            runs[name].append(run)
            progress(f"  {LABELS[name]} [{i + 1}/{repeat}]: {_show_run(run, timeout)}")

    command("validate", ["validate"])
    command("dry_run", ["check", *at, "--dry-run"])
    # `check --now` alone is a preview that records nothing: --record makes it the real check.
    command("check_first", ["check", *at, "--record"], data.restore)
    if not any(r.seconds for r in runs["check_first"]):
        progress(f"  no first check finished: one more, not timed, up to {prepare:g} s, so that the figures below "
                 "start from a state where every finding was notified")
        data.restore()
        data.prepared_s = time_command(base + ["check", *at, "--record"], env, prepare).seconds
        progress(f"  it took {_secs(data.prepared_s)}" if data.prepared_s else
                 "  it did not finish either: the figures below start from a state with nothing notified")
    first = _notified(data.state)
    command("check_again", ["check", *at, "--record"])
    data.notified = (first, _notified(data.state))  # the same: nothing was new
    command("status", ["status", *at, "--json"])
    for i in range(repeat):
        run = time_daemon(data.config, env, timeout, tmp, settle)
        runs["first_cycle"].append(run)
        early = run.ready_s is None  # it timed out or failed before READY=1
        runs["ready"].append(Run(run.ready_s, run.peak_rss_mib, run.timed_out and early, run.error if early else ""))
        runs["idle_rss"].append(run)
        progress(f"  run [{i + 1}/{repeat}]: READY=1 after {_secs(run.ready_s)}, first cycle {_show_run(run, timeout)}, "
                 f"idle RSS {_mib(run.idle_rss_mib)}")
    # A real setup sends its alerts somewhere: the first notification loads Apprise's plugins. From the state as
    # built (nothing notified), once the server has had its first digest.
    if data.orders <= APPRISE_UP_TO:
        with Sink() as sink:
            config = sink.watchlist(data.config)
            for i in range(repeat):
                data.restore()
                run = time_daemon(config, env, timeout, tmp, settle, until=lambda: sink.posts > 0)
                runs["idle_rss_apprise"].append(run)
                progress(f"  {LABELS['idle_rss_apprise']} [{i + 1}/{repeat}]: {run.error or _mib(run.idle_rss_mib)}, "
                         f"{sink.posts:,} digests received")
    data.load = (load, os.getloadavg()[0])
    figures = {name: Figure.of(name, r) for name, r in runs.items()}
    validate = figures["validate"].best
    for name, fig in figures.items():
        if name not in RSS_FIGURES and fig.best is not None and validate:
            fig.ratio = fig.best / validate
    return figures


# ---------------------------------------------------------------- reporting


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MiB"


def _show_run(run: Run, timeout: float) -> str:
    if run.timed_out:
        return f"> {timeout:g} s (timed out)"
    return run.error or f"{_secs(run.seconds)}, peak RSS {_mib(run.peak_rss_mib)}"


def _show_best(fig: Figure, timeout: float) -> str:
    if fig.best is not None:
        return _mib(fig.best) if fig.name in RSS_FIGURES else _secs(fig.best)
    return f"> {timeout:g} s (timed out)" if fig.timed_out else ("failed" if fig.runs else "not run")


def table(data: Dataset, figures: dict[str, Figure], timeout: float) -> str:
    """One size's figures as a readable table."""
    lines = [f"{data.orders:,} orders ({data.tracked:,} tracked, {data.events:,} events; watchlist "
             f"{data.watchlist_kib:,.0f} KiB, state {data.state_mib:,.0f} MiB; built in {data.build_s:.1f} s, not timed; "
             f"load average {data.load[0]:.1f} before, {data.load[1]:.1f} after)",
             f"  {'figure':<48} {'best':>22} {'x validate':>10} {'peak RSS':>9}  runs"]
    for name, fig in figures.items():
        ratio = f"{fig.ratio:.1f}" if fig.ratio is not None else "-"
        each = ", ".join(r.error or _show_best(Figure.of(name, [r]), timeout) for r in fig.runs)
        peak = (">" if fig.timed_out else "") + _mib(fig.peak_rss_mib)  # a killed process might have grown more
        lines.append(f"  {LABELS[name]:<48} {_show_best(fig, timeout):>22} {ratio:>10} {peak:>9}  {each}")
    if data.prepared_s is not None:
        lines.append(f"  (the later figures start from a state notified by a first check run untimed: "
                     f"{data.prepared_s:.0f} s)")
    return "\n".join(lines)


def growth(results: list[tuple[Dataset, dict[str, Figure]]], timeout: float) -> str:
    """How each figure grows from one size to the next: x10 orders -> xN time (or MiB)."""
    if len(results) < 2:
        return ""
    steps = list(zip(results, results[1:], strict=False))
    heads = [f"{a.orders:,} -> {b.orders:,} (x{b.orders / a.orders:g})" for (a, _), (b, _) in steps]
    lines = ["growth from size to size", f"  {'figure':<48} " + " ".join(f"{h:>28}" for h in heads)]
    for name in LABELS:
        cells = []
        for (_, fa), (_, fb) in steps:
            a, b = fa[name], fb[name]
            if a.best and b.best:
                cells.append(f"x{b.best / a.best:.1f}")
            elif a.best and b.timed_out:
                cells.append(f"> x{timeout / a.best:.0f}")
            else:
                cells.append("-")
        lines.append(f"  {LABELS[name]:<48} " + " ".join(f"{c:>28}" for c in cells))
    return "\n".join(lines)


@dataclass
class Verdict:
    """One target at one size: MET, NOT MET, or not measured in this run."""

    orders: int
    figure: str
    limit: float
    unit: str
    value: float | None
    state: str  # "MET", "NOT MET", "SKIPPED"

    def __str__(self) -> str:
        shown = "-" if self.value is None else f"{self.value:.1f} {self.unit}"
        return f"{self.state:<8} {self.orders:>7,} orders: {LABELS[self.figure]} under {self.limit:g} {self.unit} ({shown})"


def verdicts(results: dict[int, dict[str, Figure]]) -> list[Verdict]:
    """Each target against the figures: a figure that timed out or failed misses its target."""
    out = []
    for orders, name, limit, unit in TARGETS:
        if orders not in results:
            out.append(Verdict(orders, name, limit, unit, None, "SKIPPED"))
            continue
        fig = results[orders][name]
        value = fig.ratio if unit == "x validate" else fig.best
        # "within 3x validate", "under 300 MiB"
        met = value is not None and (value <= limit if unit == "x validate" else value < limit)
        out.append(Verdict(orders, name, limit, unit, value, "MET" if met else "NOT MET"))
    return out


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    """Build each size, time its commands, print the tables, growth and targets; 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,1000,10000,100000", help="orders per size, comma-separated")
    ap.add_argument("--repeat", type=int, help="runs of each command, best kept (default: 3, 1 from 100,000 orders)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds one command may take before it is killed")
    ap.add_argument("--prepare-timeout", type=float, default=3600.0,
                    help="seconds an untimed first check may take when no timed one finished (see bench/README.md)")
    ap.add_argument("--settle", type=float, default=SETTLE,
                    help="seconds the daemon is left idle after its first cycle before its RSS is read")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    ap.add_argument("--no-targets", action="store_true", help="report the targets but exit 0 when one is missed")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    except ValueError:
        ap.error(f"--sizes: expected orders like 500,1000, got {args.sizes!r}")

    def say(line: str) -> None:
        print(line, flush=True)

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    commit = _git_commit()
    say(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; commit {commit or '?'}; data built around {now.isoformat()}")
    results: list[tuple[Dataset, dict[str, Figure]]] = []
    for n in sizes:
        repeat = args.repeat or (1 if n >= 100_000 else 3)
        with tempfile.TemporaryDirectory(prefix=f"bench-commands-{n}-") as d:
            data = build_dataset(n, Path(d), now, args.seed)
            say(f"{n:,} orders: built in {data.build_s:.1f} s; best of {repeat}, timeout {args.timeout:g} s")
            figures = measure_size(data, repeat, args.timeout, args.settle, args.prepare_timeout, Path(d), say)
        results.append((data, figures))
        say("\n" + table(data, figures, args.timeout) + "\n")
    found = verdicts({d.orders: f for d, f in results})
    say(growth(results, args.timeout))
    say("\ntargets\n" + "\n".join(f"  {v}" for v in found))
    if args.json:
        args.json.write_text(json.dumps({
            "commit": commit, "python": platform.python_version(), "cpus": os.cpu_count(), "now": now.isoformat(),
            "timeout_s": args.timeout,
            "bench_max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "sizes": [{**{k: v for k, v in asdict(d).items() if k != "dir"},
                       "figures": {name: asdict(f) for name, f in figs.items()}} for d, figs in results],
            "targets": [asdict(v) for v in found],
        }, indent=2) + "\n")
    missed = any(v.state == "NOT MET" for v in found)
    return 1 if missed and not args.no_targets else 0


if __name__ == "__main__":
    sys.exit(main())
