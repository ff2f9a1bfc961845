"""The long-running daemon: scheduled cycles, watchlist reloads, and systemd's notify and watchdog protocol."""
from __future__ import annotations

import asyncio
import ctypes
import hashlib
import logging
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from carriers.base import load_registry
from monitor import sdnotify
from monitor.backup import rolling_backup
from monitor.config import App, load_app
from monitor.cycle import (
    Open,
    Polled,
    asked_in,
    begin_cycle,
    merged,
    nothing_new,
    orders_of,
    poll,
    queue_findings,
    unfollowed,
)
from monitor.durations import format_duration
from monitor.errors import ConfigError, MonitorError, StateError
from monitor.messages import counted, render, singular
from monitor.notify import Notifier
from monitor.rules import Finding, Kind, Severity
from monitor.store import Store, is_damaged, state_failure, state_file
from monitor.watchlist import ImapSection

log = logging.getLogger("tracking_monitor")

# Deadline rules need no network, so they are evaluated often; carriers are only asked when a number is due.
TICK = timedelta(minutes=5)
# Evaluating runs no network call; one that takes longer than this means the process is wedged (watchdog).
CYCLE_TIMEOUT = timedelta(minutes=15)
# One carrier's poll that takes longer is cancelled (its finished batches are already stored); the next tick retries.
POLL_TIMEOUT = timedelta(minutes=15)
# Watchlist edits are noticed by polling the file's mtime: cheap, and works on every filesystem.
FILE_CHECK = timedelta(seconds=2)
# Delivery runs apart from the cycles, so a slow destination never holds up polling; this finds due retries.
DELIVERY_CHECK = timedelta(seconds=30)
# The fingerprint of no file: watch_file then reloads at its next check, as a reload the state was too busy for needs.
_RETRY = (-1, -1, -1)
# Whether today's backup of the state exists is checked this often (and at start); it is made once a day.
BACKUP_CHECK = timedelta(hours=1)
# How often the daemon looks whether [import.imap].check_every has passed: a reload that adds or changes the mailbox
# takes effect within this, without a new scheduler job.
MAIL_TICK = timedelta(minutes=1)


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    # The inode too: an editor or `tracking-monitor set` saving by rename makes a new file, which must be seen
    # even when the size is the same and the mtime falls in the same clock tick as the old one.
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def give_back_freed_memory() -> None:
    """Hand back to the system the heap pages a one-off job freed (glibc's malloc_trim; elsewhere, nothing)."""
    # The daily backup reads the whole state through SQLite's page cache in a worker thread; glibc keeps what that
    # thread freed in its arena: 5 MiB of a 500-order daemon's 60 MiB on a Raspberry Pi, held until the next backup.
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator decides
        return
    trim(0)


@dataclass
class Tally:
    """What the daemon's cycles found: numbers polled and new events since the last tick, and the open findings."""

    polled: int = 0
    new_events: int = 0
    findings: list[Open] = field(default_factory=list)


class Daemon:
    """Holds the current configuration, the state, the scheduler and the systemd notifier."""

    def __init__(self, cli_path: Path | None, clock: Callable[[], datetime],
                 sd: sdnotify.Notifier | None = None) -> None:
        self.cli_path, self.clock = cli_path, clock
        self.app: App = load_app(cli_path, clock)
        try:
            self.store = Store.in_dir(self.app.state_dir).verified()  # a damaged state is refused at start
            self.store.clear_auth_failures()  # a restart may come with a new key: ask again
        except sqlite3.Error as exc:
            raise state_failure(str(state_file(self.app.state_dir)), exc) from None
        self.notifier = self._notifier()
        self.fingerprint = _fingerprint(self.app.path)
        self.sd = sd or sdnotify.Notifier()
        self.cycle_started: float | None = None  # time.monotonic() while a cycle runs
        self.last = Tally()
        self._started = True  # until the first tick: a start with nothing new to send says so, once
        self._lock: asyncio.Lock | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._polls: dict[str, asyncio.Task[None]] = {}  # by carrier: one poll at a time each
        self.failure: StateError | None = None  # the state was found damaged: serve() stops and returns 1
        self._stop: asyncio.Event | None = None
        self.mail_checked: datetime | None = None  # the last check of [import.imap]

    def _notifier(self) -> Notifier:
        return Notifier.for_app(self.app, self.store)

    # ------------------------------------------------------------ cycles

    async def tick(self) -> None:
        """Evaluate and queue what the watchlist and the stored history say, deliver it, then start polling
        what is due beside it: deadline alerts never wait for a carrier, and a hung carrier holds up only its own
        numbers. An error is logged and the next tick runs as usual."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            self.cycle_started = time.monotonic()
            try:
                now = self.clock()
                self.app = self.app.on_day(now)  # a demo watchlist's dates move on at midnight, as its shipments do
                app = self.app
                # A carrier still being asked since an earlier tick is not asked again; its orders' alerts waited
                # one tick for its answer and go out now on what is stored.
                plan = {c: n for c, n in begin_cycle(app, self.store, now).items() if c not in self._polls}
                # Kept as (order, kind, severity): a finding holds what renders its texts, tens of MB in all.
                found, queued = queue_findings(app, self.store, now, asking=asked_in(plan), keep=Open.of)
                self.last = Tally(findings=found)
                self.deliver_now()
                log.info("cycle: %s, %d new; polling %s", counted(len(self.last.findings), "finding"),
                         len(queued.new), counted(len(asked_in(plan)), "number"))
                if self._started and not queued.new:  # a restart prints nothing: say why, and where to look
                    log.info("%s", nothing_new(app, self.store))
                self._started = False
                for cid, numbers in plan.items():
                    task = asyncio.get_running_loop().create_task(self._poll(app, now, {cid: numbers}))
                    self._polls[cid] = task
                    task.add_done_callback(lambda _, cid=cid: self._polls.pop(cid, None))
            except Exception as exc:  # keep the daemon alive; the state is transactional
                await self._failed("cycle", exc)
            finally:
                self.cycle_started = None
        if self.failure is None:
            self.sd.status(self.status_line())

    async def _poll(self, app: App, now: datetime, plan: dict[str, dict[str, list[str]]]) -> None:
        """Poll one carrier's due numbers under a hard timeout, then evaluate their orders and deliver."""
        cid = next(iter(plan))
        try:
            polled = await asyncio.wait_for(poll(app, self.store, now, plan), POLL_TIMEOUT.total_seconds())
        except TimeoutError:
            log.error("%s: polling cancelled after %s; finished batches are kept", cid, POLL_TIMEOUT)
            polled = Polled(0, 0, frozenset())
        except Exception as exc:  # the numbers stay due; the next tick asks again
            await self._failed(f"{cid}: polling", exc)
            polled = Polled(0, 0, frozenset())
        if self.app is not app or self.failure is not None:  # reloaded meanwhile: the next tick evaluates it
            return
        touched = orders_of(app, asked_in(plan) | polled.numbers)  # their alerts waited for this poll
        try:
            found, queued = queue_findings(app, self.store, self.clock(), touched, keep=Open.of)
        except Exception as exc:  # the next tick evaluates these orders again
            await self._failed(f"{cid}: evaluation", exc)
            return
        last = self.last
        self.last = Tally(last.polled + polled.count, last.new_events + polled.new_events,
                          merged(last.findings, touched, found))
        log.info("%s: %d polled, %s, %s", cid, polled.count, counted(polled.new_events, "new event"),
                 counted(len(queued.new), "new finding"))
        if queued.new or queued.repeated:
            self.deliver_now()
        self.sd.status(self.status_line())

    async def polls_done(self) -> None:
        """Wait for the polls under way (tests, and a clean stop)."""
        while self._polls:
            await asyncio.gather(*list(self._polls.values()), return_exceptions=True)

    def deliver_now(self) -> None:
        """Start a delivery run beside whatever runs: rows another run is sending are claimed, so none goes twice."""
        task = asyncio.get_running_loop().create_task(self._deliver())
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self) -> None:
        try:
            await self.notifier.deliver(self.clock())
        except Exception as exc:  # the rows stay queued; the next run retries them
            await self._failed("delivery", exc)

    async def delivery_job(self) -> None:
        """The scheduler's delivery tick: retries whose backoff ended, alerts held by quiet hours."""
        self.deliver_now()

    def status_line(self) -> str:
        """What `systemctl status` shows: '12 orders, 2 need attention, next poll 14:05'."""
        orders = len(self.app.watchlist.orders)
        findings = self.last.findings
        attention = len({f.order_id for f in findings if f.severity is not Severity.INFO})
        first = self.store.next_poll()
        zone = self.app.watchlist.monitor.zone
        nxt = f", next poll {first.astimezone(zone):%H:%M}" if first else ""
        return f"{counted(orders, 'order')}, {attention} need{'s' if singular(attention, 'en') else ''} attention{nxt}"

    # ------------------------------------------------------------ reloads

    async def reload(self, why: str) -> bool:
        """Load the watchlist again and apply it whole or not at all: a bad edit keeps the last good one running and
        is reported once; a state another process holds locked keeps it running too, until the next file check."""
        self.sd.reloading()
        fingerprint = _fingerprint(self.app.path)
        try:
            app = load_app(self.cli_path, self.clock)
        except ConfigError as exc:
            self.fingerprint = fingerprint
            for problem in exc.problems:
                log.error("watchlist edit rejected (%s), the previous version keeps running: %s", why, problem)
            await self._report_rejected(exc)
            self.sd.ready(self.status_line())
            return False
        # Everything the new configuration needs is made before anything is swapped, so a failure changes nothing.
        try:
            notifier = Notifier.for_app(app, self.store)
            self.store.clear_auth_failures()  # the edit may have fixed a rejected key
        except sqlite3.OperationalError as exc:  # "database is locked": another process writes the state
            await app.aclose()
            (log.debug if self.fingerprint == _RETRY else log.warning)(
                "watchlist reload (%s) postponed, the previous version keeps running: the state is busy (%s); "
                "trying again every %d s", why, exc, FILE_CHECK.total_seconds())
            self.fingerprint = _RETRY
            self.sd.ready(self.status_line())
            return False
        old, self.app, self.notifier, self.fingerprint = self.app, app, notifier, fingerprint
        await old.aclose()
        log.info("watchlist reloaded (%s): %s", why, self.status_line().split(",")[0])
        self.sd.ready(self.status_line())
        # New orders are polled and changed dates evaluated now, not at the next tick.
        asyncio.get_running_loop().create_task(self.tick())
        return True

    async def _report_rejected(self, exc: ConfigError) -> None:
        """One notification per distinct bad file, through the usual outbox."""
        lines = "\n".join(map(str, exc.problems))
        digest = hashlib.blake2s(lines.encode(), digest_size=8).hexdigest()
        lang = self.app.watchlist.monitor.language
        texts = render(Kind.CONFIG_REJECTED.value, lang, problems=lines)
        finding = Finding(Kind.CONFIG_REJECTED, "", Severity.WARNING, texts, None, f"config_rejected:{digest}")
        self.store.enqueue([finding], self.app.routes, self.clock())
        self.deliver_now()

    async def watch_file(self) -> None:
        """Reload when the watchlist file changed on disk."""
        if _fingerprint(self.app.path) != self.fingerprint:
            await self.reload("file changed")

    # ------------------------------------------------------------ watchdog

    def healthy(self) -> bool:
        """False when a cycle has outlived its hard timeout: something is wedged and a restart is right."""
        started = self.cycle_started
        return started is None or time.monotonic() - started < CYCLE_TIMEOUT.total_seconds() + 60

    async def heartbeat(self) -> None:
        """WATCHDOG=1, sent from a scheduler job so it stops when the loop or the scheduler stops."""
        if self.healthy():
            self.sd.watchdog()

    # ------------------------------------------------------------ serving

    async def serve(self, stop: asyncio.Event | None = None) -> int:
        """Run until SIGTERM, Ctrl-C or `stop`, or until the state is found damaged; SIGHUP reloads the watchlist.
        The exit status: 0, or 1 after damage, so that systemd restarts it (Restart=on-failure)."""
        stop = self._stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload("SIGHUP")))
        scheduler = self._scheduler()
        log.info("watching %s from %s", counted(len(self.app.watchlist.orders), "order"), self.app.path)
        # Said once here; the untracked finding says it once to the buyer.
        for order in unfollowed(self.app, self.app.watchlist.orders, self.clock()):
            log.warning("%s: no source can track %s: %s", order.id, order.tracking, self.app.why_no_source(order))
        scheduler.start()
        self.sd.ready(self.status_line())
        try:
            await stop.wait()
        finally:
            self.sd.stopping()
            scheduler.shutdown(wait=False)
            for task in [*self._polls.values(), *self._deliveries]:  # a cancelled send gives its rows back for the next start
                task.cancel()
            await asyncio.gather(*self._polls.values(), *self._deliveries, return_exceptions=True)
            await self.app.aclose()
            self.store.close()
            self.sd.close()
            log.info("stopped")
        return 1 if self.failure else 0

    def _scheduler(self) -> AsyncIOScheduler:
        interval = min(TICK, self.app.watchlist.monitor.poll_interval).total_seconds()
        scheduler = AsyncIOScheduler(timezone=UTC)
        # coalesce + a grace as long as the interval: after a suspend or downtime, missed runs run once, not N times.
        common = {"max_instances": 1, "coalesce": True}
        scheduler.add_job(self.tick, IntervalTrigger(seconds=interval), next_run_time=datetime.now(UTC),
                          misfire_grace_time=int(interval), **common)
        scheduler.add_job(self.watch_file, IntervalTrigger(seconds=FILE_CHECK.total_seconds()),
                          misfire_grace_time=None, **common)
        scheduler.add_job(self.delivery_job, IntervalTrigger(seconds=DELIVERY_CHECK.total_seconds()),
                          misfire_grace_time=None, **common)
        scheduler.add_job(self.mail_job, IntervalTrigger(seconds=MAIL_TICK.total_seconds()),
                          next_run_time=datetime.now(UTC), misfire_grace_time=None, **common)
        scheduler.add_job(self.backup_job, IntervalTrigger(seconds=BACKUP_CHECK.total_seconds()),
                          next_run_time=datetime.now(UTC), misfire_grace_time=None, **common)
        if (half := sdnotify.watchdog_interval()) is not None:
            scheduler.add_job(self.heartbeat, IntervalTrigger(seconds=half), next_run_time=datetime.now(UTC),
                              misfire_grace_time=None, **common)
        return scheduler

    # ------------------------------------------------------------ mail

    async def mail_job(self) -> None:
        """Read new order mails from [import.imap] when check_every has passed: into the watchlist (which the file
        check then reloads); a failing mailbox is logged and notified once, and the daemon goes on."""
        imap = self.app.watchlist.import_.imap
        now = self.clock()
        if imap is None or (self.mail_checked is not None and now - self.mail_checked < imap.check_every):
            return
        # Mail parsing, IMAP and the watchlist editor load only for a watchlist that reads a mailbox.
        from monitor.inbox import Outcome, account, check_mailbox
        self.mail_checked = now
        name = account(imap)

        def check() -> Outcome:
            store = Store(self.store.path)  # a connection of the thread it runs in
            try:
                return check_mailbox(self.app.path, imap, store, load_registry(), now)
            finally:
                store.close()

        try:
            try:
                outcome = await asyncio.to_thread(check)
            except StateError:
                raise
            except MonitorError as exc:  # the mailbox, or the watchlist it would be written into
                await self._mail_failed(name, imap, str(exc), now)
                return
        except Exception as exc:  # the state, or a bug: logged (stopping on a damaged state) like any job's error
            await self._failed(f"mailbox {name}", exc)
            return
        if outcome.imported or outcome.updated:
            log.info("mailbox %s: %d orders imported, %d updated, %d items skipped", name, len(outcome.imported),
                     len(outcome.updated), len(outcome.skipped))

    async def _mail_failed(self, name: str, imap: ImapSection, error: str, now: datetime) -> None:
        since, began = self.store.mail_failed(name, error, now)
        if not began:
            log.debug("mailbox %s still failing: %s", name, error)
            return
        log.error("mailbox %s cannot be read (tried again every %s): %s", name, format_duration(imap.check_every), error)
        lang = self.app.watchlist.monitor.language
        texts = render(Kind.MAIL_FAILING.value, lang, account=name, error=error, secret=imap.password_secret,
                       every=format_duration(imap.check_every))
        finding = Finding(Kind.MAIL_FAILING, "", Severity.WARNING, texts, None, f"mail_failing:{name}:{since.isoformat()}")
        self.store.enqueue([finding], self.app.routes, now)
        self.deliver_now()

    # ------------------------------------------------------------ the state's safety

    async def backup_job(self) -> None:
        """Today's backup of the state, when it is not made yet (see monitor.backup); a failure is logged, and the
        daemon keeps watching."""
        keep = self.app.watchlist.monitor.backups
        if not keep:
            return
        day = self.clock().astimezone(self.app.watchlist.monitor.zone).date()
        try:
            made = await asyncio.to_thread(rolling_backup, Path(self.store.path), keep, day)
        except Exception as exc:  # never fatal: the older backups stay, the next check tries again
            log.error("backup not made (tried again in %s): %s", format_duration(BACKUP_CHECK), exc)
            return
        if made is not None:
            log.info("backup made: %s", made)
            give_back_freed_memory()

    async def _failed(self, what: str, exc: Exception) -> None:
        """A job's error: a damaged state stops the daemon; anything else is logged and the next run retries."""
        if not is_damaged(exc):
            log.exception("%s failed: %s", what, exc)
            return
        if self.failure is not None:  # another job found it first: said and sent once
            return
        self.failure = state_failure(self.store.path, exc)
        log.critical("stopping: %s", self.failure)
        await self._alarm(str(self.failure))
        if self._stop is not None:
            self._stop.set()

    async def _alarm(self, error: str) -> None:
        """One urgent alert through the usual notifier, queued in memory: the damaged state cannot be trusted
        with an outbox row, and the process is about to end."""
        scratch = Store(":memory:")
        now = self.clock()
        texts = render(Kind.STATE_DAMAGED.value, self.app.watchlist.monitor.language, error=error)
        scratch.enqueue([Finding(Kind.STATE_DAMAGED, "", Severity.URGENT, texts, None, "state_damaged")],
                        self.app.routes, now)
        try:
            await Notifier.for_app(self.app, scratch).deliver(now)
        except Exception as exc:  # the log line above already says it all
            log.error("the alert about the damaged state was not sent: %s", exc)
        finally:
            scratch.close()
