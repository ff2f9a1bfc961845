"""A reload while another process holds the state's write lock: the old configuration keeps running whole,
one log line says why, and the reload is applied once the state is free."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import App
from monitor.daemon import Daemon
from tests.helpers import write_watchlist

ADDED = '\n[[orders]]\nid = "B"\nordered_on = 2026-11-02\n\n[notify]\nexpire_after = "3d"\n'


async def _file_check(daemon: Daemon) -> None:
    await daemon.watch_file()


async def _sighup(daemon: Daemon) -> None:
    await daemon.reload("SIGHUP")


@pytest.mark.parametrize("trigger", [_file_check, _sighup], ids=["file check", "SIGHUP"])
async def test_a_reload_on_a_locked_state_waits_whole(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      trigger: Callable[[Daemon], Awaitable[None]]) -> None:
    """While the state is locked: old watchlist and old notifier, the new app closed, one warning without a
    traceback. Once it is free, the next file check applies the edit."""
    closed: list[App] = []
    real_aclose = App.aclose

    async def aclose(app: App) -> None:
        closed.append(app)
        await real_aclose(app)

    monkeypatch.setattr(App, "aclose", aclose)
    path = write_watchlist(tmp_path)
    daemon = Daemon(path, lambda: datetime(2026, 11, 21, 10, tzinfo=UTC))
    daemon.store.db.execute("PRAGMA busy_timeout=50")  # give up on the lock at once, not after 5 s
    old_app, old_notifier = daemon.app, daemon.notifier
    other = sqlite3.connect(tmp_path / "state" / "state.sqlite3", isolation_level=None)
    try:
        path.write_text(path.read_text(encoding="utf-8") + ADDED, encoding="utf-8")
        other.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.DEBUG, logger="tracking_monitor"):
            await trigger(daemon)
            await daemon.watch_file()  # the retry at the next check, the state still locked
        assert daemon.app is old_app and daemon.notifier is old_notifier
        assert [o.id for o in daemon.app.watchlist.orders] == ["A"]
        assert old_app not in closed and len(closed) == 2  # each app built for a postponed reload was closed
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "state is busy" in warnings[0].getMessage(), caplog.text
        assert not any(r.exc_info for r in caplog.records)

        other.execute("ROLLBACK")
        await daemon.watch_file()
        assert [o.id for o in daemon.app.watchlist.orders] == ["A", "B"]
        assert daemon.notifier.expire_after == timedelta(days=3) != old_notifier.expire_after
        assert old_app in closed
        await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))
    finally:
        other.close()
        await daemon.app.aclose()
        daemon.store.close()
