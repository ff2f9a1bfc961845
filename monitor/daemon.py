"""The long-running daemon: an APScheduler job that runs a cycle on every tick and follows watchlist edits."""
from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import App, load_app
from monitor.cycle import run_cycle
from monitor.errors import ConfigError
from monitor.notify import Notifier
from monitor.store import Store

log = logging.getLogger("tracking_monitor")

# Deadline rules need no network, so they are evaluated often; carriers are only asked when a number is due.
TICK = timedelta(minutes=5)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class Daemon:
    """Holds the current configuration, the state and the scheduler."""

    def __init__(self, cli_path: Path | None, clock: Callable[[], datetime]) -> None:
        self.cli_path, self.clock = cli_path, clock
        self.app: App = load_app(cli_path, clock)
        self.store = Store.in_dir(self.app.state_dir)
        self.notifier = self._notifier()
        self.mtime = _mtime(self.app.path)

    def _notifier(self) -> Notifier:
        m = self.app.watchlist.monitor
        return Notifier(self.store, self.app.destinations, m.language, m.zone)

    async def reload_if_changed(self) -> None:
        """Pick up watchlist edits; a bad edit keeps the last good configuration running."""
        mtime = _mtime(self.app.path)
        if mtime == self.mtime:
            return
        self.mtime = mtime
        try:
            app = load_app(self.cli_path, self.clock)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("watchlist edit rejected, keeping the previous one: %s", problem)
            return
        await self.app.aclose()
        self.app, self.notifier = app, None  # type: ignore[assignment]
        self.notifier = self._notifier()
        log.info("watchlist reloaded: %d orders", len(app.watchlist.orders))

    async def tick(self) -> None:
        """One scheduled cycle; an error is logged and the next tick runs as usual."""
        try:
            await self.reload_if_changed()
            result = await run_cycle(self.app, self.store, self.clock(), self.notifier)
            log.info(
                "cycle: %d polled, %d new events, %d findings, %d new",
                result.polled, result.new_events, len(result.findings), len(result.new),
            )
        except Exception as exc:  # keep the daemon alive; the state is transactional
            log.exception("cycle failed: %s", exc)

    async def serve(self) -> None:
        """Run until SIGTERM or Ctrl-C."""
        interval = min(TICK, self.app.watchlist.monitor.poll_interval)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick, IntervalTrigger(seconds=int(interval.total_seconds())),
            next_run_time=datetime.now(UTC),
            max_instances=1, coalesce=True, misfire_grace_time=int(interval.total_seconds()),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("watching %d orders from %s", len(self.app.watchlist.orders), self.app.path)
        for cid, why in self.app.skipped.items():
            log.info("carrier %s skipped: %s", cid, why)
        scheduler.start()
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            await self.app.aclose()
            self.store.close()
            log.info("stopped")
