"""Rolling backups of the state: one verified copy a day, made with SQLite's online backup API, a few kept.

The state holds the evidence for a dispute and the record of the alerts sent; a copy is made while the daemon
runs (WAL: writers are not held up), checked whole with PRAGMA integrity_check, and only then renamed into
place. A copy that fails the check replaces nothing and prunes nothing: the older good ones stay.
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

from monitor.errors import StateError
from monitor.store import Store, backups_dir, damaged, fsync_dir, state_failure

_DAILY = re.compile(r"state-\d{4}-\d{2}-\d{2}\.sqlite3")
_HALF_MADE_AFTER = 3600  # seconds: a temporary copy this old was left by a crash, not by a backup in progress


def daily_name(day: date) -> str:
    """The file name of a day's backup: state-YYYY-MM-DD.sqlite3, so names sort by date."""
    return f"state-{day.isoformat()}.sqlite3"


def rolling_backup(state_file: Path, keep: int, day: date, *, again: bool = False) -> Path | None:
    """Make the day's backup beside the state unless it exists (or `again`), then keep only the `keep` newest
    (0: prune nothing); the path written, or None when the day's backup was already there."""
    target = backups_dir(state_file) / daily_name(day)
    if target.exists() and not again:
        return None
    backup(state_file, target)
    if keep:
        prune(target.parent, keep)
    return target


def backup(state_file: Path, target: Path) -> None:
    """Copy the state to `target` all at once: a temporary file in the same directory, the online backup API,
    PRAGMA integrity_check on the copy, fsync, rename. Raise StateError with one line when anything fails."""
    if not state_file.exists():
        raise StateError(f"{state_file}: no state yet, nothing to back up")
    source = Store(state_file)  # refuses an unusable state with the same line as every command, before anything is made
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # mode 0600
            os.close(fd)
        except OSError as exc:
            raise StateError(f"{target}: cannot write the backup: {exc.strerror or exc}") from None
        try:
            _copy(source, Path(tmp))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
            fsync_dir(target.parent)
        except OSError as exc:
            raise StateError(f"{target}: cannot write the backup: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    finally:
        source.close()


def _copy(source: Store, tmp: Path) -> None:
    """The state copied into `tmp`, and checked whole."""
    try:
        copy = sqlite3.connect(tmp, isolation_level=None)
        try:
            source.db.backup(copy)  # one step: a consistent snapshot, taken in one read transaction
            problems = [row for (row,) in copy.execute("PRAGMA integrity_check(3)")]
            if problems != ["ok"]:  # the copy is page for page the state's: the state is damaged
                raise damaged(source.path, "integrity check of the backup copy: " + "; ".join(problems))
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file: no -wal beside a backup
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise state_failure(source.path, exc) from None


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest daily backups (by the date in their names), and temporary copies a crash
    left; return what was deleted. Files of other names (a `backup --to` copy) are never touched."""
    daily = sorted(p for p in folder.iterdir() if _DAILY.fullmatch(p.name))
    stale = [p for p in folder.glob(".state-*.tmp") if time.time() - p.stat().st_mtime > _HALF_MADE_AFTER]
    gone = daily[:-keep] + stale
    for path in gone:
        path.unlink(missing_ok=True)
    return gone
