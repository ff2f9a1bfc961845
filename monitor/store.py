"""SQLite state: every tracking event ever seen, the notification log and the outbox. WAL, crash-safe."""
from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from operator import attrgetter
from pathlib import Path
from typing import Any

from carriers.errors import AuthError, CarrierError, NotFoundError, RateLimitedError
from carriers.model import EventKind, Handover, Shipment, Status, TrackingEvent
from monitor.errors import StateError
from monitor.rules import FUTURE_SLACK, KEPT_KINDS, EventIndex, Finding, History, index_events, needed

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS numbers(
    order_id TEXT NOT NULL, number TEXT NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY(order_id, number));
CREATE TABLE IF NOT EXISTS shipments(
    carrier TEXT NOT NULL, number TEXT NOT NULL, status TEXT, raw_status TEXT NOT NULL DEFAULT '',
    estimated_delivery TEXT, last_polled TEXT, last_success TEXT, next_poll TEXT,
    failing_since TEXT, fail_count INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY(carrier, number));
CREATE TABLE IF NOT EXISTS events(
    carrier TEXT NOT NULL, number TEXT NOT NULL, key TEXT NOT NULL, time TEXT NOT NULL, kind TEXT NOT NULL,
    code TEXT NOT NULL, description TEXT NOT NULL, location TEXT NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY(carrier, number, key));
CREATE TABLE IF NOT EXISTS notified(
    key TEXT PRIMARY KEY, order_id TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    first_at TEXT NOT NULL, last_at TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS outbox(
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, destination TEXT NOT NULL,
    order_id TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, title TEXT NOT NULL,
    message TEXT NOT NULL, action TEXT NOT NULL, due TEXT, created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt TEXT NOT NULL, sent_at TEXT, last_error TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS carriers(
    carrier TEXT PRIMARY KEY, blocked_until TEXT, block_reason TEXT NOT NULL DEFAULT '',
    auth_failed_since TEXT, usage_day TEXT, usage_calls INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS carrier_memory(
    carrier TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(carrier, key));
CREATE TABLE IF NOT EXISTS routes(
    number TEXT PRIMARY KEY, carrier TEXT NOT NULL, decided_at TEXT NOT NULL);
-- What `[import.imap]` has read: per mailbox folder, its UIDVALIDITY and the last UID read; and a failing mailbox.
CREATE TABLE IF NOT EXISTS mail_read(
    account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL,
    read_at TEXT NOT NULL, PRIMARY KEY(account, folder));
CREATE TABLE IF NOT EXISTS mail_failing(account TEXT PRIMARY KEY, since TEXT NOT NULL, error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(next_attempt) WHERE sent_at IS NULL;
-- Each number's latest event is an index seek, so a start reads one event per number, not every event.
CREATE INDEX IF NOT EXISTS events_by_time ON events(carrier, number, time);
"""
# Columns added after a table first shipped: added in place on open, so an older state file keeps its rows.
# Append here (table -> column -> definition); never rename or drop, an older binary may still read the file.
_ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "outbox": {
        "repeat": "INTEGER NOT NULL DEFAULT 0",  # 0: the first message of an episode; n: its n-th reminder
        "expired_at": "TEXT",  # given up on after [notify].expire_after; never sent
        "expiry_noted": "INTEGER NOT NULL DEFAULT 0",  # a later message to the destination said it expired
        "claimed_by": "INTEGER",  # pid of the process sending it now; a dead pid's claim is void
        "claimant": "TEXT",  # that process's boot and start time: a later process given the same pid differs
        "sending_since": "TEXT",  # a send of it started then, its answer not recorded yet
        "interrupted": "INTEGER NOT NULL DEFAULT 0",  # sends cut off by a kill or a stop: each may have arrived
    },
    "shipments": {
        # The destination carrier's own number for this parcel, as the source reported it ('' while none).
        "handover_number": "TEXT NOT NULL DEFAULT ''",
        "handover_carrier": "TEXT NOT NULL DEFAULT ''",  # that carrier as the source names it
    },
    "carriers": {
        # First told to wait (429, quota) with no answer since: a wait that lasts is a failing source.
        "blocked_since": "TEXT",
    },
}


# One number's events that the rules read (rules.needed), oldest first, and their index.
_Timeline = tuple[tuple[TrackingEvent, ...], EventIndex]
_NO_TIMELINE: _Timeline = ((), EventIndex())
_EVENT_COLUMNS = "carrier, number, time, kind, code, description, location, key, rowid"
_EVENT_ROWS = f"SELECT {_EVENT_COLUMNS} FROM events"
_Row = tuple[str, str, str, str, str, str, str, str, int]
# The rows rules.needed may keep, picked out by SQLite in one pass over the table: each number's latest event up
# to the horizon (ties: all of them, the last stored wins after sorting), and every later, unusual or delivery one.
_NOTED_KINDS = ", ".join(f"'{k.value}'" for k in sorted((*KEPT_KINDS, EventKind.DELIVERED)))
_NEEDED_ROWS = (
    f"SELECT {', '.join('e.' + c for c in _EVENT_COLUMNS.split(', '))} FROM (SELECT carrier c, number n,"
    " MAX(time) t FROM events WHERE time <= :horizon AND rowid <= :top GROUP BY carrier, number) m"
    " JOIN events e ON e.carrier = m.c AND e.number = m.n AND e.time = m.t WHERE e.rowid <= :top"
    f" UNION {_EVENT_ROWS} WHERE rowid <= :top AND (time > :horizon OR kind IN ({_NOTED_KINDS}))"
)
# Above this many numbers to read at once, one pass over the table beats a query per number.
_BULK_READ = 200


def _ts(value: datetime) -> str:
    """Instants are stored as UTC ISO text, so they sort as text."""
    return value.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def default_state_dir() -> Path:
    """$STATE_DIRECTORY (set by systemd), else the XDG state directory."""
    if env := os.environ.get("STATE_DIRECTORY"):
        return Path(env.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "tracking-monitor"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One notification waiting for (or done with) one destination."""

    id: int
    key: str
    destination: str
    order_id: str
    kind: str
    severity: str
    title: str
    message: str
    action: str
    due: datetime | None
    created_at: datetime
    attempts: int
    last_error: str
    repeat: int = 0
    next_attempt: datetime | None = None
    expired_at: datetime | None = None


_ROW = ("id, key, destination, order_id, kind, severity, title, message, action, due, created_at, attempts, last_error,"
        " repeat, next_attempt, expired_at")
_UNSENT = "sent_at IS NULL AND expired_at IS NULL"


def _row(r: Sequence[object]) -> OutboxRow:
    return OutboxRow(*r[:9], _dt(r[9]), _dt(r[10]), r[11], r[12], r[13], _dt(r[14]), _dt(r[15]))  # type: ignore[arg-type]


def _alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (the state file is local, so its writers are)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _identity(pid: int) -> str | None:
    """The boot and start time of the process with this pid, which tell it from a later one given the same pid
    (a restarted container's daemon is pid 1 again); None where /proc does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    return f"{boot}/{stat.rsplit(')', 1)[1].split()[19]}"  # field 22, starttime; the name before ')' may hold spaces


def _claim_void(pid: int | None, claimant: str | None) -> bool:
    """Nobody is sending the row: never claimed, or claimed by a process that is gone (also if its pid lives on
    in another process). A claim of this very process is live: another of its delivery runs is sending the row."""
    if pid is None or not _alive(pid):
        return True
    return claimant is not None and _identity(pid) not in (None, claimant)


@dataclass(frozen=True, slots=True)
class Queued:
    """What enqueue() recorded: first messages of new episodes, and scheduled reminders."""

    new: list[Finding]
    repeated: list[Finding]


@dataclass(frozen=True, slots=True)
class ShipmentState:
    """The polling side of a shipment: status and when to ask again."""

    carrier: str
    number: str
    status: Status | None
    last_polled: datetime | None
    next_poll: datetime | None
    failing_since: datetime | None
    last_error: str
    handover: Handover | None = None  # the destination carrier's number, once the source reported it


@dataclass(frozen=True, slots=True)
class CarrierState:
    """What the monitor remembers of one carrier: a wait the carrier imposed, a rejected key, today's calls."""

    blocked_until: datetime | None = None
    block_reason: str = ""
    auth_failed_since: datetime | None = None
    usage_day: str = ""  # UTC date the count below belongs to
    usage_calls: int = 0
    blocked_since: datetime | None = None  # told to wait, with no answer since

    def failing_since(self) -> datetime | None:
        """Since when a wait the carrier imposed has kept every answer away (a rejected key is said apart)."""
        return self.blocked_since if self.auth_failed_since is None else None

    def calls_on(self, day: str) -> int:
        """Requests already made on that UTC day."""
        return self.usage_calls if self.usage_day == day else 0


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One carrier batch, ready to store in one transaction."""

    results: Mapping[str, Shipment | CarrierError]
    next_polls: Mapping[str, datetime | None]  # per number; None: final, stop polling
    calls: int = 0  # requests spent on it (the daily budget)
    blocked_until: datetime | None = None  # the carrier asked us to wait (429, quota) until then
    block_reason: str = ""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A tracking event as kept for evidence: who reported it and when tracking-monitor first saw it."""

    time: datetime
    source: str
    number: str
    kind: str
    code: str
    description: str
    location: str
    recorded: datetime
    key: str


@dataclass(frozen=True, slots=True)
class SentAlert:
    """An alert recorded in the notification log, and when each destination got it (None: not yet)."""

    key: str
    kind: str
    severity: str
    first_at: datetime
    title: str
    deliveries: tuple[tuple[str, datetime | None], ...]


class Store:
    """The one place state lives; every write is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                _check_or_create(Path(self.path))
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=5000")
            # Before anything is written: another program's database is refused, not given our tables.
            tables = {n for (n,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if self.path != ":memory:" and not {"events", "notified"} <= tables:
                self.db.close()
                raise StateError(_refused(self.path, "is an SQLite database without tracking-monitor's tables"))
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL: a notification recorded as sent must survive a power cut, or it would be sent again.
            self.db.execute("PRAGMA synchronous=FULL")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateError(f"{self.path}: written by a newer tracking-monitor (schema {version})")
            self.db.executescript(_SCHEMA)
            self._add_columns()
            # After the columns: an older file gets them first. Few parcels are handed over; find them at once.
            self.db.execute("CREATE INDEX IF NOT EXISTS shipments_handed ON shipments(carrier, number)"
                            " WHERE handover_number != ''")
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._timelines: dict[tuple[str, str], _Timeline] = {}  # see _timelines_of
            self._events_read = 0  # the rowid of the last events row in _timelines
            self._texts: dict[str, str] = {}  # see _event
        except sqlite3.DatabaseError as exc:
            raise state_failure(self.path, exc) from None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot create the state directory: {exc.strerror or exc}") from None

    def _add_columns(self) -> None:
        """ALTER TABLE … ADD COLUMN for every column an older state file lacks."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for name, ddl in columns.items():
                if name not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")

    @classmethod
    def in_dir(cls, directory: Path) -> Store:
        """The state file inside a state directory."""
        return cls(state_file(directory))

    def snapshot(self) -> Store:
        """An in-memory copy: a dry run works on it and the real state stays untouched."""
        copy = Store(":memory:")
        self.db.backup(copy.db)
        return copy

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error.

        `durable=False` skips the fsync at commit: the transaction survives a crash of the process but maybe
        not a power cut, until the next durable commit (WAL keeps the order). Poll results take that path,
        since losing one means asking the carrier again; notification records never do.
        """
        self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        finally:
            if not durable:
                self.db.execute("PRAGMA synchronous=FULL")

    # ------------------------------------------------------------ mail read by [import.imap]

    def mail_marks(self, account: str) -> dict[str, tuple[int, int]]:
        """Per folder of a mailbox: (UIDVALIDITY, last UID read)."""
        rows = self.db.execute("SELECT folder, uidvalidity, last_uid FROM mail_read WHERE account=?", (account,))
        return {folder: (validity, uid) for folder, validity, uid in rows}

    def mail_read(self, account: str, marks: Mapping[str, tuple[int, int]], now: datetime) -> None:
        """Remember the last UID read in each folder, and that the mailbox works."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO mail_read(account, folder, uidvalidity, last_uid, read_at)"
                           " VALUES (?, ?, ?, ?, ?)", [(account, f, v, u, _ts(now)) for f, (v, u) in marks.items()])
            db.execute("DELETE FROM mail_failing WHERE account=?", (account,))

    def mail_failed(self, account: str, error: str, now: datetime) -> tuple[datetime, bool]:
        """Note a failed check of a mailbox: when its failing began, and whether it began now."""
        with self.transaction() as db:
            row = db.execute("SELECT since FROM mail_failing WHERE account=?", (account,)).fetchone()
            if row is not None:
                db.execute("UPDATE mail_failing SET error=? WHERE account=?", (error, account))
                return datetime.fromisoformat(row[0]), False
            db.execute("INSERT INTO mail_failing(account, since, error) VALUES (?, ?, ?)", (account, _ts(now), error))
        return now, True

    # ------------------------------------------------------------ tracking numbers and shipments

    def note_numbers(self, pairs: Iterable[tuple[str, str]], now: datetime) -> None:
        """Remember when each (order, number) pair was first seen."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO numbers(order_id, number, first_seen) VALUES (?, ?, ?)",
                [(o, n, _ts(now)) for o, n in pairs],
            )

    def shipment_states(self, numbers: Iterable[str] | None = None) -> dict[tuple[str, str], ShipmentState]:
        """Polling state of every shipment (or of these numbers'), by (carrier, number)."""
        select = ("SELECT carrier, number, status, last_polled, next_poll, failing_since, last_error, handover_number,"
                  " handover_carrier FROM shipments")
        rows = self.db.execute(select) if numbers is None else self._rows_of(select, list(numbers))
        return {
            (c, n): ShipmentState(c, n, _STATUSES.get(s) if s else None, _dt(lp), _dt(np), _dt(fs), err,
                                  Handover(hn, hc) if hn else None)
            for c, n, s, lp, np, fs, err, hn, hc in rows
        }

    def handovers(self) -> dict[tuple[str, str], Handover]:
        """By (carrier, number): the destination carrier's number each source reported."""
        rows = self.db.execute("SELECT carrier, number, handover_number, handover_carrier FROM shipments"
                               " WHERE handover_number != ''")
        return {(c, n): Handover(hn, hc) for c, n, hn, hc in rows}

    def not_due(self, now: datetime) -> set[tuple[str, str]]:
        """The (carrier, number) pairs not to ask at `now`: final, or asked again later."""
        return set(self.db.execute("SELECT carrier, number FROM shipments WHERE next_poll IS NULL OR next_poll > ?",
                                   (_ts(now),)))

    def next_poll(self) -> datetime | None:
        """The earliest time a shipment is due to be asked again; None when none is."""
        return _dt(self.db.execute("SELECT MIN(next_poll) FROM shipments").fetchone()[0])

    def _rows_of(self, select: str, numbers: Sequence[str]) -> list[tuple[Any, ...]]:
        """`select` (a query without WHERE on a table with a `number` column) for these numbers only."""
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(numbers), 500):  # SQLite caps the parameters of one statement
            chunk = numbers[i : i + 500]
            out += self.db.execute(f"{select} WHERE number IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return out

    def record_poll(self, carrier: str, outcome: PollOutcome, now: datetime) -> int:
        """Store one batch's answers, the calls spent and any wait imposed, in one transaction; return new events."""
        new_events = 0
        day = now.astimezone(UTC).date().isoformat()
        with self.transaction(durable=False) as db:
            for number, result in outcome.results.items():
                nxt = outcome.next_polls.get(number)
                db.execute("INSERT OR IGNORE INTO shipments(carrier, number) VALUES (?, ?)", (carrier, number))
                if isinstance(result, Shipment):
                    new_events += self._store_shipment(db, carrier, result, now, nxt)
                elif isinstance(result, NotFoundError):
                    # A clean "unknown number" is an answer, not a failure of the source.
                    db.execute(
                        "UPDATE shipments SET status=?, raw_status='', last_polled=?, last_success=?, next_poll=?,"
                        " failing_since=NULL, fail_count=0, last_error='' WHERE carrier=? AND number=?",
                        (Status.NOT_FOUND.value, _ts(now), _ts(now), _ts(nxt) if nxt else None, carrier, number),
                    )
                elif isinstance(result, RateLimitedError):
                    # Not the source failing: we were told to wait. The number stays due once the wait is over.
                    db.execute("UPDATE shipments SET next_poll=? WHERE carrier=? AND number=?",
                               (_ts(nxt) if nxt else None, carrier, number))
                else:
                    db.execute(
                        "UPDATE shipments SET last_polled=?, next_poll=?, failing_since=COALESCE(failing_since, ?),"
                        " fail_count=fail_count+1, last_error=? WHERE carrier=? AND number=?",
                        (_ts(now), _ts(nxt) if nxt else None, _ts(now), _error_text(result), carrier, number),
                    )
            auth = any(isinstance(r, AuthError) for r in outcome.results.values())
            ok = any(isinstance(r, Shipment | NotFoundError) for r in outcome.results.values())
            db.execute("INSERT OR IGNORE INTO carriers(carrier) VALUES (?)", (carrier,))
            db.execute(
                "UPDATE carriers SET usage_calls=CASE WHEN usage_day=? THEN usage_calls+? ELSE ? END, usage_day=?,"
                " auth_failed_since=CASE WHEN ? THEN COALESCE(auth_failed_since, ?) WHEN ? THEN NULL"
                " ELSE auth_failed_since END WHERE carrier=?",
                (day, outcome.calls, outcome.calls, day, auth, _ts(now), ok, carrier),
            )
            if outcome.blocked_until is not None:
                db.execute("UPDATE carriers SET blocked_until=?, block_reason=?, blocked_since=COALESCE(blocked_since, ?)"
                           " WHERE carrier=?", (_ts(outcome.blocked_until), outcome.block_reason[:300], _ts(now), carrier))
            elif ok:
                db.execute("UPDATE carriers SET blocked_since=NULL WHERE carrier=?", (carrier,))
            db.executemany(
                "INSERT INTO routes(number, carrier, decided_at) VALUES (?, ?, ?)"
                " ON CONFLICT(number) DO UPDATE SET carrier=excluded.carrier, decided_at=excluded.decided_at"
                " WHERE routes.carrier != excluded.carrier",
                [(n, carrier, _ts(now)) for n, r in outcome.results.items()
                 if isinstance(r, Shipment) and r.status is not Status.NOT_FOUND],
            )
        return new_events

    def carrier_states(self) -> dict[str, CarrierState]:
        """What is remembered of each carrier, by id."""
        rows = self.db.execute(
            "SELECT carrier, blocked_until, block_reason, auth_failed_since, usage_day, usage_calls, blocked_since"
            " FROM carriers")
        return {c: CarrierState(_dt(b), r, _dt(a), d or "", n, _dt(bs)) for c, b, r, a, d, n, bs in rows}

    def limit_waits(self, latest: datetime) -> None:
        """End every carrier's wait by `latest` at the latest: a wait stored by an older build, or from an answer
        that asked for years, must not block a carrier for good."""
        with self.transaction() as db:
            db.execute("UPDATE carriers SET blocked_until=? WHERE blocked_until > ?", (_ts(latest), _ts(latest)))

    def clear_auth_failures(self) -> None:
        """Forget rejected keys and the waits they caused: called when the configuration was (re)loaded."""
        with self.transaction() as db:
            db.execute("UPDATE carriers SET blocked_until=NULL, block_reason='', blocked_since=NULL"
                       " WHERE auth_failed_since IS NOT NULL")
            db.execute("UPDATE carriers SET auth_failed_since=NULL")

    def routes(self) -> dict[str, str]:
        """For auto-detected numbers: the carrier that answered with data, by number."""
        return dict(self.db.execute("SELECT number, carrier FROM routes"))

    def memory(self, carrier: str) -> CarrierMemory:
        """A carrier's own persistent key-value map (e.g. which numbers 17TRACK already registered)."""
        return CarrierMemory(self, carrier)

    def _store_shipment(self, db: sqlite3.Connection, carrier: str, s: Shipment, now: datetime,
                        nxt: datetime | None) -> int:
        before = db.total_changes
        db.executemany(
            "INSERT OR IGNORE INTO events(carrier, number, key, time, kind, code, description, location, first_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(carrier, s.number, e.key, _ts(e.time), e.kind.value, e.code, e.description, e.location, _ts(now))
             for e in s.events],
        )
        added = db.total_changes - before
        if s.handover is not None:  # kept when a later answer no longer mentions it
            db.execute("UPDATE shipments SET handover_number=?, handover_carrier=? WHERE carrier=? AND number=?",
                       (s.handover.number, s.handover.carrier, carrier, s.number))
        db.execute(
            "UPDATE shipments SET status=?, raw_status=?, estimated_delivery=?, last_polled=?, last_success=?,"
            " next_poll=?, failing_since=NULL, fail_count=0, last_error='' WHERE carrier=? AND number=?",
            (s.status.value, s.raw_status, s.estimated_delivery.isoformat() if s.estimated_delivery else None,
             _ts(now), _ts(now), _ts(nxt) if nxt else None, carrier, s.number),
        )
        return added

    def histories(self, wanted: Sequence[tuple[str, str, str]], now: datetime, *, everything: bool = True,
                  also: Mapping[str, tuple[str, str]] | None = None) -> dict[str, History]:
        """History per order id for (order_id, carrier, number) triples, with the events the rules read at `now`
        and later (rules.needed); `events_of` reads every event. `everything=False`: `wanted` is a few of the
        watched numbers (the others stay in memory for the next call). `also` gives, by order id, the
        (carrier, number) the parcel was handed over to: its events join the order's, and its status, once it
        has one, is the order's (the destination carrier knows more)."""
        also = also or {}
        if everything:
            states = self.shipment_states()
            since_rows = self.db.execute("SELECT order_id, number, first_seen FROM numbers")
        else:
            states = self.shipment_states([*(n for _, _, n in wanted), *(n for _, n in also.values())])
            since_rows = self._rows_of("SELECT order_id, number, first_seen FROM numbers", [n for _, _, n in wanted])
        since = {(o, n): _dt(t) for o, n, t in since_rows}
        waiting = {c: (at, cs.block_reason) for c, cs in self.carrier_states().items() if (at := cs.failing_since())}
        timelines = self._timelines_of({(c, n) for _, c, n in wanted} | set(also.values()), now + FUTURE_SLACK,
                                       prune=everything)
        out = {}
        for order_id, carrier, number in wanted:
            st = states.get((carrier, number))
            events, index = timelines[carrier, number]
            # The number's own failure, else a wait its carrier imposed that has kept every answer away.
            failing, error = (st.failing_since, st.last_error) if st and st.failing_since else waiting.get(carrier, (None, ""))
            status = st.status if st else None
            if (pair := also.get(order_id)) is not None:
                there = states.get(pair)
                if there is not None and there.status not in (None, Status.NOT_FOUND):
                    status = there.status
                if extra := timelines[pair][0]:
                    # Both may report the same scan (an aggregator follows the last mile too): kept once.
                    merged = {(e.time, e.kind): e for e in (*extra, *events)}
                    events, index = tuple(sorted(merged.values(), key=_event_time)), None
            out[order_id] = History(
                carrier=carrier,
                status=status,
                events=events,
                number_since=since.get((order_id, number)),
                failing_since=failing,
                last_error=error or (st.last_error if st else ""),
                handover=st.handover if st else None,
                index=index,  # type: ignore[arg-type]  # None: worked out from the merged events
            )
        return out

    def _timelines_of(self, keys: set[tuple[str, str]], horizon: datetime, *, prune: bool = True
                      ) -> dict[tuple[str, str], _Timeline]:
        """What the rules read of these (carrier, number) pairs' events (rules.needed at `horizon`), with its index.

        Kept between calls, reading only the rows added since: events are only ever inserted, so their rowids
        grow (also when another process adds them), and a cycle where few parcels moved reads few rows. Only
        the needed events stay in memory, and SQLite picks them out of the table on the first read.
        """
        db, cache = self.db, self._timelines
        if len(self._texts) > 100_000:  # sharing is worth it for texts that repeat; do not hoard the others
            self._texts.clear()
        top = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0]
        if top < self._events_read:  # the table was rebuilt under us (a restored backup): read it all again
            cache.clear()
            self._events_read = 0
        for gone in cache.keys() - keys if prune else ():  # orders no longer watched need not stay in memory
            del cache[gone]
        missing = keys - cache.keys()
        read = self._events_read
        if not read or len(missing) > _BULK_READ:
            # A start, or many numbers newly watched: one pass over the table up to what was read before, each
            # number's rows streamed in turn, so the pass never holds more than one number's rows.
            wanted = missing if read else keys
            rows = db.execute(f"{_NEEDED_ROWS} ORDER BY 1, 2, 3, 9", {"horizon": _ts(horizon), "top": read or top})
            for key, group in groupby(rows, key=_pair):
                if key in wanted:
                    self._merge(key, list(group), horizon)
        else:  # a few numbers newly watched: their older rows, number by number
            for c, n in missing:
                if found := db.execute(f"{_EVENT_ROWS} WHERE carrier=? AND number=? AND rowid<=? ORDER BY time, rowid",
                                       (c, n, read)).fetchall():
                    self._merge((c, n), found, horizon)
        if read:  # the rows added since the last read: few, unless much happened
            grown: dict[tuple[str, str], list[_Row]] = {}
            _group(grown, keys, db.execute(f"{_EVENT_ROWS} WHERE rowid>? AND rowid<=?", (read, top)))
            for key, added in grown.items():
                self._merge(key, sorted(added, key=_row_order), horizon)
        self._events_read = top
        for key in missing - cache.keys():
            cache[key] = _NO_TIMELINE
        return cache

    def _merge(self, key: tuple[str, str], rows: list[_Row], horizon: datetime) -> None:
        """Add one number's rows (by time, then as stored; stored after every event kept) to what is kept of it."""
        new = [_event(r, self._texts) for r in rows]
        old = self._timelines[key][0] if key in self._timelines else ()
        # A stable sort: of two events at the same instant, the one stored first stays first.
        events = needed(sorted((*old, *new), key=_event_time) if old else new, horizon)
        self._timelines[key] = (events, index_events(events))

    # ------------------------------------------------------------ notification log and outbox

    def enqueue(self, findings: Sequence[Finding], routes: Callable[[Finding], Sequence[str]], now: datetime,
                repeat: Callable[[Finding, datetime], bool] | None = None) -> Queued:
        """Record findings not notified before, and reminders `repeat` says are due (given the last message's time),
        with one outbox row per destination `routes` names, all in one transaction."""
        new: list[Finding] = []
        repeated: list[Finding] = []
        stamp = _ts(now)
        with self.transaction() as db:
            # A destination in backoff keeps it for new rows too: a new alert is no reason to hammer a dead server.
            waiting = dict(db.execute(f"SELECT destination, MAX(next_attempt) FROM outbox WHERE {_UNSENT} AND attempts > 0"
                                      " GROUP BY destination").fetchall())
            # What the log knows of these keys, in one join: a cycle finds every open episode again.
            db.execute("CREATE TEMP TABLE IF NOT EXISTS found(key TEXT PRIMARY KEY)")
            db.execute("DELETE FROM temp.found")
            db.executemany("INSERT OR IGNORE INTO temp.found(key) VALUES (?)", [(f.key,) for f in findings])
            known = {k: (last, count) for k, last, count in db.execute(
                "SELECT n.key, n.last_at, n.count FROM temp.found f JOIN notified n ON n.key = f.key")}
            sent_before: dict[str, int] = {}  # messages of the episode before this one: 0 for a new one
            for f in findings:
                seen = known.get(f.key)
                if seen is None:
                    new.append(f)
                    sent_before[f.key] = 0
                    known[f.key] = (stamp, 1)  # the same key twice in one call is one episode
                elif f.key not in sent_before and repeat is not None and repeat(f, datetime.fromisoformat(seen[0])):
                    repeated.append(f)
                    sent_before[f.key] = seen[1]
            db.executemany("INSERT INTO notified(key, order_id, kind, severity, first_at, last_at)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           [(f.key, f.order_id, f.kind.value, f.severity.value, stamp, stamp) for f in new])
            db.executemany("UPDATE notified SET last_at=?, count=count+1 WHERE key=?",
                           [(stamp, f.key) for f in repeated])
            db.executemany(
                "INSERT INTO outbox(key, destination, order_id, kind, severity, title, message, action, due,"
                " created_at, next_attempt, repeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(f.key, d, f.order_id, f.kind.value, f.severity.value, f.title, f.message, f.action,
                  _ts(f.due) if f.due else None, stamp, max(stamp, waiting.get(d) or ""), sent_before[f.key])
                 for f in (*new, *repeated) for d in routes(f)],
            )
            db.execute("DELETE FROM temp.found")
        return Queued(new, repeated)

    def notified_by_order(self) -> dict[str, int]:
        """How many alerts were notified so far, per order id."""
        return dict(self.db.execute("SELECT order_id, COUNT(*) FROM notified GROUP BY order_id"))

    def notified_keys(self) -> set[str]:
        """Every finding key already notified."""
        return {k for (k,) in self.db.execute("SELECT key FROM notified")}

    def pending(self, now: datetime) -> list[OutboxRow]:
        """Outbox rows due for a (re)try, oldest first."""
        rows = self.db.execute(f"SELECT {_ROW} FROM outbox WHERE {_UNSENT} AND next_attempt <= ? ORDER BY id",
                               (_ts(now),))
        return [_row(r) for r in rows]

    def outbox(self) -> list[OutboxRow]:
        """Every row not delivered: waiting, retrying, or expired; oldest first."""
        return [_row(r) for r in self.db.execute(f"SELECT {_ROW} FROM outbox WHERE sent_at IS NULL ORDER BY id")]

    def due_destinations(self, now: datetime) -> set[str]:
        """Destinations with at least one row due for a (re)try."""
        return {d for (d,) in self.db.execute(
            f"SELECT DISTINCT destination FROM outbox WHERE {_UNSENT} AND next_attempt <= ?", (_ts(now),))}

    def claim(self, destination: str, take: Callable[[OutboxRow], bool]) -> list[OutboxRow]:
        """Every waiting row of a destination that `take` accepts and no live process is sending, now ours.

        A row still marked as being sent was in a send whose answer never got recorded (its sender was killed or
        stopped): the destination may have it, and the row counts one more interrupted send.
        """
        with self.transaction() as db:
            rows = db.execute(f"SELECT {_ROW}, claimed_by, claimant FROM outbox WHERE {_UNSENT} AND destination=?"
                              " ORDER BY id", (destination,)).fetchall()
            mine = [_row(r) for r in rows if _claim_void(*r[-2:]) and take(_row(r))]
            me = os.getpid()
            who = _identity(me)
            db.executemany("UPDATE outbox SET claimed_by=?, claimant=?,"
                           " interrupted=interrupted+(sending_since IS NOT NULL), sending_since=NULL WHERE id=?",
                           [(me, who, r.id) for r in mine])
        return mine

    def mark_sending(self, ids: Sequence[int], now: datetime) -> None:
        """A send of these rows starts: recorded durably before the request goes out, so a kill during it is known."""
        with self.transaction() as db:
            db.executemany("UPDATE outbox SET sending_since=? WHERE id=?", [(_ts(now), i) for i in ids])

    def release(self, ids: Sequence[int]) -> None:
        """Give claimed rows back (the send was cancelled); rows in flight stay marked, so their send counts as cut off."""
        with self.transaction() as db:
            db.executemany("UPDATE outbox SET claimed_by=NULL WHERE id=?", [(i,) for i in ids])

    def mark_sent(self, ids: Sequence[int], now: datetime, noted: Sequence[int] = ()) -> None:
        """The destination confirmed these rows, in a message that also told of the expired rows `noted`."""
        with self.transaction() as db:
            db.executemany("UPDATE outbox SET sent_at=?, attempts=attempts+1, last_error='', claimed_by=NULL,"
                           " sending_since=NULL WHERE id=?", [(_ts(now), i) for i in ids])
            db.executemany("UPDATE outbox SET expiry_noted=1 WHERE id=?", [(i,) for i in noted])

    def mark_failed(self, ids: Sequence[int], error: str, retry_at: datetime) -> None:
        """The destination failed these rows; try again at `retry_at`."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, next_attempt=?, claimed_by=NULL,"
                " sending_since=NULL WHERE id=?",
                [(error[:500], _ts(retry_at), i) for i in ids],
            )

    def expire(self, created_before: datetime, now: datetime) -> list[OutboxRow]:
        """Give up on waiting rows queued before `created_before`; return them."""
        with self.transaction() as db:
            rows = db.execute(f"SELECT {_ROW}, claimed_by, claimant FROM outbox WHERE {_UNSENT} AND created_at < ?"
                              " ORDER BY id", (_ts(created_before),)).fetchall()
            gone = [_row(r) for r in rows if _claim_void(*r[-2:])]
            db.executemany("UPDATE outbox SET expired_at=?, claimed_by=NULL WHERE id=?", [(_ts(now), r.id) for r in gone])
        return gone

    def expired_unnoted(self, destination: str) -> list[OutboxRow]:
        """Rows of a destination that expired and no later message has told about yet."""
        return [_row(r) for r in self.db.execute(
            f"SELECT {_ROW} FROM outbox WHERE destination=? AND expired_at IS NOT NULL AND sent_at IS NULL"
            " AND expiry_noted=0 ORDER BY id", (destination,))]

    # ------------------------------------------------------------ evidence, read for reports

    def numbers_of(self, order_id: str) -> list[tuple[str, datetime]]:
        """Every tracking number the order ever had, with when it was first seen, oldest first."""
        rows = self.db.execute("SELECT number, first_seen FROM numbers WHERE order_id=? ORDER BY first_seen, number",
                               (order_id,))
        return [(n, datetime.fromisoformat(t)) for n, t in rows]

    def events_of(self, numbers: Sequence[str]) -> list[StoredEvent]:
        """Every event ever stored for these numbers, from any source, also those a carrier later dropped."""
        marks = ",".join("?" * len(numbers))
        rows = self.db.execute(
            "SELECT time, carrier, number, kind, code, description, location, first_seen, key FROM events"
            f" WHERE number IN ({marks}) ORDER BY time, carrier, number, key", tuple(numbers),
        )
        return [StoredEvent(datetime.fromisoformat(t), c, n, k, code, text, loc, datetime.fromisoformat(seen), key)
                for t, c, n, k, code, text, loc, seen, key in rows]

    def alerts_of(self, order_id: str) -> list[SentAlert]:
        """The alerts recorded for an order, oldest first, each with when it reached each destination."""
        deliveries: dict[str, list[tuple[str, datetime | None]]] = {}
        titles: dict[str, str] = {}
        for key, dest, title, sent in self.db.execute(
            "SELECT key, destination, title, sent_at FROM outbox WHERE order_id=? ORDER BY destination", (order_id,)
        ):
            deliveries.setdefault(key, []).append((dest, _dt(sent)))
            titles.setdefault(key, title)
        rows = self.db.execute(
            "SELECT key, kind, severity, first_at FROM notified WHERE order_id=? ORDER BY first_at, key", (order_id,)
        )
        return [SentAlert(key, kind, sev, datetime.fromisoformat(first), titles.get(key, ""),
                          tuple(deliveries.get(key, ()))) for key, kind, sev, first in rows]

    def integrity_ok(self) -> bool:
        """PRAGMA integrity_check says ok."""
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def verified(self) -> Store:
        """This store once PRAGMA quick_check finds its pages sound; else closed, and a StateError that says what to do.

        It reads the whole file (about 1 s for the 470 MB state of 100,000 orders, 10 s when it is not in the OS
        cache), so only the daemon pays it, once at start: a restart after damage is refused here, not again
        found (and notified) in the middle of a cycle.
        """
        try:
            problems = [row for (row,) in self.db.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems == ["ok"]:
            return self
        self.close()
        raise damaged(self.path, "; ".join(problems))


class CarrierMemory(MutableMapping[str, str]):
    """A carrier's persistent map, written through at once: a 17TRACK registration spent quota and must not be lost."""

    def __init__(self, store: Store, carrier: str) -> None:
        self.store, self.carrier = store, carrier

    def __getitem__(self, key: str) -> str:
        row = self.store.db.execute("SELECT value FROM carrier_memory WHERE carrier=? AND key=?",
                                    (self.carrier, key)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0]

    def __setitem__(self, key: str, value: str) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        with self.store.transaction() as db:
            if not db.execute("DELETE FROM carrier_memory WHERE carrier=? AND key=?", (self.carrier, key)).rowcount:
                raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        keys = self.store.db.execute("SELECT key FROM carrier_memory WHERE carrier=?", (self.carrier,)).fetchall()
        return iter([k for (k,) in keys])

    def __len__(self) -> int:
        return self.store.db.execute("SELECT COUNT(*) FROM carrier_memory WHERE carrier=?",
                                     (self.carrier,)).fetchone()[0]

    def update(self, other: Mapping[str, str] = (), /, **kw: str) -> None:  # type: ignore[override]
        """Write many keys in one transaction."""
        with self.store.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO carrier_memory(carrier, key, value) VALUES (?, ?, ?)",
                           [(self.carrier, k, v) for k, v in {**dict(other), **kw}.items()])


_event_time = attrgetter("time")


def _row_order(row: _Row) -> tuple[str, int]:
    return row[2], row[8]


def _pair(row: _Row) -> tuple[str, str]:
    return row[0], row[1]


def _group(grown: dict[tuple[str, str], list[_Row]], keys: set[tuple[str, str]], rows: Iterable[_Row]) -> None:
    """Add the rows of the wanted (carrier, number) pairs to `grown`, by pair."""
    for row in rows:
        if (row[0], row[1]) in keys:
            grown.setdefault((row[0], row[1]), []).append(row)


def _event(row: _Row, texts: dict[str, str]) -> TrackingEvent:
    """An event read back; `texts` shares one object per distinct carrier, code, description and place, which
    repeat across thousands of parcels (a daemon keeps each number's latest event in memory)."""
    c, _, t, k, code, text, loc, key, _ = row
    share = texts.setdefault
    return TrackingEvent(datetime.fromisoformat(t), _kind(k), share(text, text), share(loc, loc), share(code, code),
                         share(c, c), key)


# By stored value: a dict lookup, where EnumType(value) costs microseconds per row.
_STATUSES = {s.value: s for s in Status}
_KINDS = {k.value: k for k in EventKind}


def _kind(value: str) -> EventKind:
    return _KINDS.get(value, EventKind.UNKNOWN)  # a kind written by a newer version reads as unknown


def _error_text(err: CarrierError) -> str:
    """The error as a log-safe line (adapters never put keys in messages)."""
    return str(err.args[0] if err.args else type(err).__name__)[:300]


# The 100-byte header every SQLite file starts with: magic text, page size (bytes 16-17, 1 meaning 65536), the
# change counter (24-27), the size in pages (28-31), valid when "version-valid-for" (92-95) equals the counter.
_MAGIC = b"SQLite format 3\x00"
_WAL_HEADER = 32  # a -wal file this short holds no transaction
_DAMAGE_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
# What to do about the other errors of the state database, by SQLite's primary result code.
_HINTS = {
    sqlite3.SQLITE_BUSY: "another tracking-monitor is writing to it: try again",
    sqlite3.SQLITE_FULL: "the disk is full: make room",
    sqlite3.SQLITE_READONLY: "it cannot be written: check the permissions of the file, its directory and -wal/-shm",
    sqlite3.SQLITE_CANTOPEN: "check the permissions of the file, its directory and -wal/-shm",
    sqlite3.SQLITE_IOERR: "the disk may be failing: check the system log, and keep the backups safe",
}


def is_damaged(exc: BaseException) -> bool:
    """Whether an error says the state file itself is damaged; a passing one ("database is locked") is not."""
    return isinstance(exc, sqlite3.DatabaseError) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _DAMAGE_CODES


def state_failure(path: str, exc: sqlite3.Error) -> StateError:
    """An error of the state database as one line naming the file and what to do."""
    if is_damaged(exc):
        return damaged(path, str(exc))
    hint = _HINTS.get(getattr(exc, "sqlite_errorcode", 0) & 0xFF)
    return StateError(f"{path}: the state database failed: {exc}" + (f"; {hint}" if hint else ""))


def damaged(path: str, detail: str) -> StateError:
    """The one line for a damaged state file; `detail` is SQLite's (quick_check's may span lines)."""
    return StateError(_refused(path, f"is damaged ({' '.join(detail.split())[:200]})"))


def state_file(directory: Path) -> Path:
    """The state file of a state directory."""
    return directory / "state.sqlite3"


def backups_dir(state: Path) -> Path:
    """Where the rolling backups of a state file are kept: `backups/` beside it."""
    return state.parent / "backups"


def fsync_dir(directory: Path) -> None:
    """Make a new name in the directory (a rename, a link) survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _refused(path: str, problem: str) -> str:
    """The one line for a state file that is not used: what is wrong with it, and what to do."""
    found = sorted(backups_dir(Path(path)).glob("state-*.sqlite3"))
    newest = f"; the newest is {found[-1]}" if found else ""
    return (f"{path}: {problem}, not a usable tracking-monitor state; stop tracking-monitor and restore a backup "
            f"(see README 'State'{newest}), or move it away to start afresh")


def _check_or_create(path: Path) -> None:
    """Refuse an existing state file that is empty, not SQLite, truncated or unreadable, from its size and header
    alone (cheap at every open); make a missing one. Nothing here writes to an existing file."""
    try:
        with open(path, "r+b") as f:  # r+: the state must be writable as well; nothing is written
            size, head = os.fstat(f.fileno()).st_size, f.read(100)
    except FileNotFoundError:
        _create(path)
        return
    except OSError as exc:
        raise StateError(f"{path}: cannot be opened for reading and writing ({exc.strerror or exc}); make it a file "
                         "the user running tracking-monitor owns") from None
    page = int.from_bytes(head[16:18], "big") if len(head) == 100 else 0
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big") if head[24:28] == head[92:96] else 0
    try:
        wal = os.stat(f"{path}-wal").st_size > _WAL_HEADER
    except OSError:
        wal = False
    if size == 0:
        problem = "is empty (0 bytes)"
    elif not head.startswith(_MAGIC) or page < 512 or page & (page - 1):
        problem = "is not an SQLite database"
    elif size < page:
        problem = f"is truncated ({size:,} bytes, less than its first {page:,}-byte page)"
    # A -wal with transactions in it may hold pages beyond the end of the file until they are checkpointed.
    elif not wal and (size % page or size < pages * page):
        problem = f"is truncated ({size:,} bytes, its header says {pages * page:,})"
    else:
        return
    raise StateError(_refused(str(path), problem))


def _create(path: Path) -> None:
    """A new state, made under a temporary name and moved into place whole: a crash while making it leaves no
    empty or half-made state file behind, so an empty state file is never a first run and is always refused."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()  # checkpoints: everything is in the file itself now
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # never over a file another process made meanwhile
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(tmp, path)
        fsync_dir(path.parent)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"{path}: cannot create the state database: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
