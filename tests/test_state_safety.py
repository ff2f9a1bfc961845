"""The state file is never replaced or silently repaired, a damaged one stops everything with one line, and the
daily backups it is restored from bring back the events and the record of the alerts sent."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from monitor.backup import daily_name, rolling_backup
from monitor.daemon import Daemon
from monitor.errors import StateError
from monitor.store import Store, is_damaged
from tests.helpers import invoke

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-21T10:00"
T0 = datetime(2026, 11, 21, 10, tzinfo=UTC)
WATCHLIST = """\
[monitor]
timezone = "UTC"
state_dir = "{state_dir}"
backups = {backups}
[[orders]]
id = "A"
ordered_on = 2026-11-01
tracking = "DEMO-TRANSIT"
protection_ends = 2026-11-23
[[orders]]
id = "B"
ordered_on = 2026-11-01
"""


def real_state(tmp_path: Path, backups: int = 7) -> tuple[Path, Path]:
    """A watchlist and the state one `check` left: events stored, alerts sent and recorded."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(WATCHLIST.format(state_dir=tmp_path / "state", backups=backups))
    result = invoke(cfg, "check", "--record", "--now", NOW)
    assert result.exit_code == 0 and "[URGENT] Buyer protection ends in 2 days (A)" in result.stdout
    return cfg, tmp_path / "state" / "state.sqlite3"


def logs_to(caplog: pytest.LogCaptureFixture) -> None:
    """Log to caplog alone: a command run in this process set its own root handlers (to a stream closed since)."""
    root = logging.getLogger()
    root.handlers = [caplog.handler]
    root.setLevel(logging.INFO)


def damage(state: Path) -> None:
    """Overwrite the start of the root b-tree page of the tables every command reads, as a bad disk would."""
    with sqlite3.connect(state) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        roots = [r for (r,) in db.execute("SELECT rootpage FROM sqlite_master WHERE type='table' AND name IN"
                                          " ('events', 'notified', 'outbox', 'numbers')")]
    db.close()
    with open(state, "r+b") as f:
        for root in roots:
            f.seek((root - 1) * page)
            f.write(b"\xff" * 64)
    with sqlite3.connect(state) as db, pytest.raises(sqlite3.DatabaseError, match="malformed"):
        db.execute("PRAGMA quick_check").fetchall()
    db.close()


def _foreign(tmp_path: Path) -> bytes:
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    return other.read_bytes()


# name -> (the bytes put in place of a real state, what the error line says)
BAD_FILES: dict[str, tuple[Callable[[bytes, Path], bytes], str]] = {
    "empty": (lambda real, tmp: b"", "is empty (0 bytes)"),
    "truncated to 1000 bytes": (lambda real, tmp: real[:1000], "is truncated (1,000 bytes"),
    "truncated to 3 pages": (lambda real, tmp: real[:3 * 4096], "is truncated (12,288 bytes, its header says"),
    "random bytes": (lambda real, tmp: random.Random(7).randbytes(8192), "is not an SQLite database"),
    "a text file": (lambda real, tmp: b'[monitor]\ntimezone = "UTC"\n', "is not an SQLite database"),
    "another program's database": (lambda real, tmp: _foreign(tmp), "is an SQLite database without tracking-monitor"),
}
COMMANDS = [("status",), ("check", "--record", "--now", NOW), ("report", "A"), ("outbox",), ("backup",), ("run",)]


def _one_error_line(result, state: Path, says: str) -> str:  # type: ignore[no-untyped-def]
    """The command failed with exit 1 and said so in exactly one line naming the file; no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught error
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {state}: {says}"), lines[0]
    return lines[0]


def _files(directory: Path) -> dict[str, bytes | None]:
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in directory.rglob("*")}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("bad", BAD_FILES)
def test_an_unusable_state_file_is_refused_and_left_as_it_was(tmp_path: Path, bad: str, command: tuple[str, ...]) -> None:
    """Each command exits 1 with one line naming the file, what is wrong and what to do; not a byte changes."""
    cfg, state = real_state(tmp_path)
    make, says = BAD_FILES[bad]
    state.write_bytes(make(state.read_bytes(), tmp_path))
    before = _files(state.parent)
    line = _one_error_line(invoke(cfg, *command), state, says)
    assert "restore a backup (see README 'State')" in line and "move it away to start afresh" in line
    assert _files(state.parent) == before  # the file, and nothing made beside it (no -wal, no new backup)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file all the same")
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unreadable_state_file_is_refused(tmp_path: Path, command: tuple[str, ...]) -> None:
    """No permission to read it: one line saying so, and the file stays."""
    cfg, state = real_state(tmp_path)
    content = state.read_bytes()
    state.chmod(0)
    try:
        _one_error_line(invoke(cfg, *command), state, "cannot be opened for reading and writing (Permission denied)")
    finally:
        state.chmod(0o600)
    assert state.read_bytes() == content


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_directory_in_place_of_the_state_file_is_refused(tmp_path: Path, command: tuple[str, ...]) -> None:
    """Something that cannot be opened as a file (here a directory, as root can test it): one line, nothing made."""
    cfg, state = real_state(tmp_path)
    state.unlink()
    state.mkdir()
    _one_error_line(invoke(cfg, *command), state, "cannot be opened for reading and writing (Is a directory)")
    assert state.is_dir() and not list(state.iterdir())


def test_the_error_names_the_newest_backup(tmp_path: Path) -> None:
    """The line says where the backup to restore is."""
    cfg, state = real_state(tmp_path)
    (state.parent / "backups").mkdir()
    for day in ("2026-11-20", "2026-11-19"):
        shutil.copy(state, state.parent / "backups" / f"state-{day}.sqlite3")
    state.write_bytes(b"")
    line = _one_error_line(invoke(cfg, "status"), state, "is empty (0 bytes)")
    assert line.endswith(f"the newest is {state.parent / 'backups' / 'state-2026-11-20.sqlite3'}), or move it away "
                         "to start afresh")


def test_a_missing_state_is_made_whole_and_dry_runs_still_work(tmp_path: Path) -> None:
    """First run: the file is made (under a temporary name, nothing left beside it); --dry-run and an in-memory store
    work as before."""
    cfg, state = real_state(tmp_path)
    assert sorted(p.name for p in state.parent.iterdir()) == ["state.sqlite3"]
    result = invoke(cfg, "check", "--now", "2026-11-22T10:00", "--dry-run")
    assert result.exit_code == 0 and "(dry run)" in result.stdout
    memory = Store(":memory:")
    assert memory.snapshot().notified_keys() == set()


# ---------------------------------------------------------------- damage found while running


def test_damage_is_told_apart_from_passing_errors(tmp_path: Path) -> None:
    """Only errors that mean the file is damaged count; a lock or a missing table does not."""
    _, state = real_state(tmp_path)
    text = tmp_path / "text.sqlite3"
    text.write_text("not a database at all, and long enough to have a header" * 4)
    locked = sqlite3.connect(state, timeout=0, isolation_level=None)
    holder = sqlite3.connect(state, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    cases: dict[str, tuple[Callable[[], object], bool]] = {
        "locked": (lambda: locked.execute("BEGIN IMMEDIATE"), False),
        "no such table": (lambda: locked.execute("SELECT * FROM nothing"), False),
        "not a database": (lambda: sqlite3.connect(text).execute("SELECT * FROM sqlite_master").fetchall(), True),
    }
    for name, (run, damaged) in cases.items():
        with pytest.raises(sqlite3.Error) as caught:
            run()
        assert is_damaged(caught.value) is damaged, name
    holder.execute("ROLLBACK")
    damage(state)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        locked.execute("SELECT * FROM notified").fetchall()
    assert is_damaged(caught.value)
    assert not is_damaged(ValueError("database disk image is malformed"))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_damaged_state_stops_each_command_with_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    """"database disk image is malformed" met by a command: exit 1, one line naming the file and what to do."""
    cfg, state = real_state(tmp_path)
    damage(state)
    line = _one_error_line(invoke(cfg, *command), state, "is damaged (")
    assert "restore a backup (see README 'State')" in line


async def test_the_daemon_stops_on_damage_found_in_a_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """One log line naming the file and what to do, one alert, serve() returns 1 (systemd restarts it), and the
    restarted daemon refuses the file at start without alerting again."""
    cfg, state = await asyncio.to_thread(real_state, tmp_path, 0)  # no backup job: only the cycle meets the damage
    capsys.readouterr()
    daemon = Daemon(cfg, lambda: T0)
    damage(state)
    with sqlite3.connect(state) as other:  # another process writes: the daemon reads the file afresh, damage and all
        other.execute("INSERT INTO carrier_memory VALUES ('demo', 'k', 'v')")
    other.close()
    logs_to(caplog)
    status = await asyncio.wait_for(daemon.serve(asyncio.Event()), 60)
    assert status == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert re.fullmatch(rf"stopping: {re.escape(str(state))}: is damaged \(database disk image is malformed\), .*"
                        r"restore a backup \(see README 'State'\).*", errors[0])
    out = capsys.readouterr().out
    assert out.count("[URGENT] tracking-monitor stopped: its state file is damaged") == 1
    assert "restore a backup" in out

    with pytest.raises(StateError, match=rf"^{re.escape(str(state))}: is damaged \("):
        Daemon(cfg, lambda: T0)
    assert capsys.readouterr().out == ""


async def test_a_locked_state_does_not_stop_the_daemon(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """"database is locked" is a passing condition: the cycle fails, is logged, and the next one runs."""
    cfg, state = await asyncio.to_thread(real_state, tmp_path)
    logs_to(caplog)
    daemon = Daemon(cfg, lambda: T0)
    daemon.store.db.execute("PRAGMA busy_timeout=0")  # fail at once rather than after 5 s
    holder = sqlite3.connect(state, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    await daemon.tick()
    holder.execute("ROLLBACK")
    assert daemon.failure is None and "cycle failed: database is locked" in caplog.text
    await daemon.tick()
    assert daemon.failure is None and daemon.last is not None
    await daemon.app.aclose()
    daemon.store.close()


# ---------------------------------------------------------------- backups


def test_daily_backups_are_verified_copies_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    """One copy a day, each a whole database with the same rows; after ten days the seven newest remain, with the
    files a person put there and a copy still being written."""
    _, state = real_state(tmp_path)
    folder = state.parent / "backups"
    folder.mkdir()
    (folder / "before-upgrade.sqlite3").write_bytes(b"mine")
    half_made, in_progress = folder / ".state-2026-11-01.sqlite3.x1.tmp", folder / ".state-2026-11-30.sqlite3.x2.tmp"
    for f in (half_made, in_progress):
        f.write_bytes(b"partial")
    old = datetime.now().timestamp() - 7200
    os.utime(half_made, (old, old))
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]
    for day in days:
        assert rolling_backup(state, 7, day) == folder / daily_name(day)
    assert rolling_backup(state, 7, days[-1]) is None  # made once a day
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [daily_name(d) for d in days[-7:]] + ["before-upgrade.sqlite3", in_progress.name])
    with sqlite3.connect(state) as live, sqlite3.connect(folder / daily_name(days[-1])) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for table in ("events", "notified", "outbox"):
            assert copy.execute(f"SELECT * FROM {table}").fetchall() == live.execute(f"SELECT * FROM {table}").fetchall()
        assert copy.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    live.close()
    copy.close()


def test_a_damaged_state_replaces_and_prunes_no_backup(tmp_path: Path) -> None:
    """The copy of a damaged state fails its check: it is not kept, and the good older backups all stay."""
    _, state = real_state(tmp_path)
    good = [rolling_backup(state, 3, date(2026, 11, d)) for d in (18, 19, 20)]
    damage(state)
    with pytest.raises(StateError, match=rf"^{re.escape(str(state))}: is damaged \(integrity check of the backup"):
        rolling_backup(state, 1, date(2026, 11, 21))
    assert sorted((state.parent / "backups").iterdir()) == good


async def test_the_daemon_makes_todays_backup_and_a_failure_never_stops_it(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """The scheduler runs the backup job (at start, then hourly); today's copy is made once; when it cannot be
    written, one line is logged and the daemon carries on."""
    cfg, state = await asyncio.to_thread(real_state, tmp_path, 2)
    logs_to(caplog)
    daemon = Daemon(cfg, lambda: T0)
    assert daemon.backup_job in [job.func for job in daemon._scheduler().get_jobs()]
    await daemon.backup_job()
    made = state.parent / "backups" / "state-2026-11-21.sqlite3"
    assert made.exists()
    stamp = made.stat().st_mtime_ns
    await daemon.backup_job()
    assert made.stat().st_mtime_ns == stamp

    shutil.rmtree(made.parent)
    made.parent.write_text("a file where the backups directory should be")
    caplog.clear()
    await daemon.backup_job()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("backup not made (tried again in 1h): ")
    assert daemon.failure is None
    await daemon.tick()
    assert daemon.last is not None and daemon.failure is None
    await daemon.app.aclose()
    daemon.store.close()


def _readme_restore_steps() -> list[str]:
    """The shell lines of the README's restore steps, without the systemctl ones (no service in a test)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"To restore a backup:\n\n```sh\n(.*?)```", readme, re.S)
    assert block, "README 'State' has no restore steps"
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    return [line.removeprefix("sudo ") for line in lines if line and "systemctl" not in line]


def test_restoring_a_backup_as_the_readme_says_brings_everything_back(tmp_path: Path) -> None:
    """`backup`, the state lost, the README's steps: the events and the alerts sent are back, and a `check` sends
    none of those alerts again."""
    cfg, state = real_state(tmp_path)
    made = invoke(cfg, "backup")
    assert made.exit_code == 0 and "integrity check ok" in made.stdout
    backup_file = Path(made.stdout.split(":")[0])
    before = json.loads(invoke(cfg, "report", "A", "--format", "json", "--now", NOW).stdout)["records"]
    state.write_bytes(b"")  # the state is lost
    assert invoke(cfg, "check", "--record", "--now", NOW).exit_code == 1

    steps = [line.replace("S=/var/lib/tracking-monitor", f"S='{state.parent}'")
             .replace("backups/state-2026-11-29.sqlite3", f"backups/{backup_file.name}")
             for line in _readme_restore_steps()]
    subprocess.run(["bash", "-euc", "\n".join(steps)], check=True)

    again = invoke(cfg, "check", "--record", "--now", NOW)
    assert again.exit_code == 0, again.output
    assert "[" not in again.stdout  # every alert of this check was already sent before the backup
    after = json.loads(invoke(cfg, "report", "A", "--format", "json", "--now", NOW).stdout)["records"]
    assert after == before and after["events"] and after["alerts"]


@pytest.mark.parametrize(("value", "says"), [
    ("-1", "expected how many daily backups of the state to keep, from 0 (none) to 366, got -1"),
    ("367", "expected how many daily backups of the state to keep, from 0 (none) to 366, got 367"),
    ('"seven"', 'expected a whole number, got "seven"'),
])
def test_the_backups_key_is_checked(tmp_path: Path, value: str, says: str) -> None:
    """`[monitor] backups` is a whole number of days kept, 0 to 366."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(WATCHLIST.format(state_dir=tmp_path / "state", backups=value))
    result = invoke(cfg, "validate")
    assert result.exit_code == 2
    assert f"{cfg}:4: monitor.backups: {says}" in result.stderr
