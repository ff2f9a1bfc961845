"""The buyer's rules as pure functions: (order, tracking history, now, policy) -> findings. No I/O here."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache, partial
from itertools import compress, count
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from carriers.holds import Hold, hold_for
from carriers.model import EXCEPTION_KINDS, EventKind, Handover, Status, TrackingEvent
from monitor import holidays, messages
from monitor.durations import format_duration
from monitor.messages import counted, days, fmt_date, fmt_deadline, fmt_due, fmt_when
from monitor.watchlist import Order, Rules
from monitor.windows import AFTER_COMPLETION, ANCHOR_NAMES, DEFAULT_TABLE, TYPED, Window, WindowTable


class Severity(StrEnum):
    """How soon the buyer must act."""

    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Sort key: urgent is highest."""
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.URGENT: 2}


class Kind(StrEnum):
    """Every finding kind; the values are a stable contract (JSON output, dedupe keys)."""

    TRACKING_MISSING = "tracking_missing"
    TRACKING_UNKNOWN = "tracking_unknown"
    STALLED = "stalled"
    DARK_AFTER_EXPORT = "dark_after_export"
    PROMISED_PASSED = "promised_passed"
    PROTECTION_ENDING = "protection_ending"
    PROTECTION_ENDED = "protection_ended"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    REFUND_WINDOW_ENDING = "refund_window_ending"
    DISPUTE_FOLLOWUP = "dispute_followup"
    LONG_WAIT = "long_wait"
    SOURCE_FAILING = "source_failing"
    CONFIG_REJECTED = "config_rejected"  # not about an order: a watchlist edit the daemon refused
    CARRIER_REJECTED = "carrier_rejected"  # not about an order: a carrier refused its credentials
    CHECK_FAILED = "check_failed"  # the rules failed on one order: said for that order, the others go on
    UNTRACKED = "untracked"  # the order has a number no configured source can ask: said once, with what to add
    PICKUP_WAITING = "pickup_waiting"  # the parcel waits at a pickup point: where, and by when to collect it
    STATE_DAMAGED = "state_damaged"  # not about an order: the daemon stopped, its state file is damaged
    MAIL_FAILING = "mail_failing"  # not about an order: the [import.imap] mailbox cannot be read


# The kinds the rules produce for orders (the others come from the daemon and the cycle).
ORDER_KINDS = tuple(k for k in Kind if k not in (Kind.CONFIG_REJECTED, Kind.CARRIER_REJECTED, Kind.CHECK_FAILED,
                                                 Kind.STATE_DAMAGED, Kind.UNTRACKED, Kind.MAIL_FAILING))


class EventIndex(NamedTuple):
    """Where a history's events say something the rules look for; it changes only with the events."""

    unusual: tuple[int, ...] = ()  # positions of the unusual events (returned, held in customs…)
    delivery: int = -1  # position of the last delivery scan; -1: none
    pickup: int = -1  # position of the first pickup-point scan; -1: none


_NO_EVENTS = EventIndex()


def index_events(events: tuple[TrackingEvent, ...]) -> EventIndex:
    """The EventIndex of `events`, oldest first."""
    kinds = [event.kind for event in events]
    if not kinds:
        return _NO_EVENTS
    # Scanned in C: most histories have no unusual event.
    unusual = () if EXCEPTION_KINDS.isdisjoint(kinds) else tuple(compress(count(), map(_IS_EXCEPTION, kinds)))
    delivery = len(kinds) - 1 - kinds[::-1].index(_DELIVERED_EVENT) if _DELIVERED_EVENT in kinds else -1
    return EventIndex(unusual, delivery, kinds.index(_PICKUP) if _PICKUP in kinds else -1)


# An event dated further ahead than this is kept as evidence but never taken for the parcel's latest news: a
# carrier's placeholder or zone mistake must not hide a stall for good.
FUTURE_SLACK = timedelta(days=1)


# Kept in memory whatever their age: the rules look back at every unusual event and at the first pickup scan.
KEPT_KINDS = EXCEPTION_KINDS | {EventKind.AVAILABLE_FOR_PICKUP}


def needed(events: Sequence[TrackingEvent], horizon: datetime) -> tuple[TrackingEvent, ...]:
    """The events the rules read, kept in the given order (oldest first): the last one up to `horizon`, every one
    after it, every unusual or pickup one and the last delivery. The state keeps only these in memory; reports
    read them all.

    With `horizon` >= now + FUTURE_SLACK the rules find the same at `now` and later on these as on all `events`.
    """
    if len(events) < 2:  # most numbers on a start: SQLite already picked their one latest event
        return tuple(events)
    last = delivery = -1
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if last < 0 and event.time <= horizon:
            last = i
        if delivery < 0 and event.kind is _DELIVERED_EVENT:
            delivery = i
        if last >= 0 and delivery >= 0:
            break
    return tuple(e for i, e in enumerate(events) if i >= last or i == delivery or e.kind in KEPT_KINDS)


@dataclass(frozen=True, slots=True)
class History:
    """What the state knows about an order's tracking number; empty when it has none."""

    carrier: str = ""
    status: Status | None = None  # None: never answered successfully
    # Oldest first. The state passes only those the rules read (see needed()); the report reads every event.
    events: tuple[TrackingEvent, ...] = ()
    number_since: datetime | None = None  # when the monitor first saw the number
    failing_since: datetime | None = None
    last_error: str = ""
    handover: Handover | None = None  # the destination carrier's own number, when a source reported one
    # Worked out here when not given: the state keeps it with the events, so a cycle does not scan
    # every event of every order again when only a few have news.
    index: EventIndex = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.index is None:
            object.__setattr__(self, "index", index_events(self.events))

    def last_event(self, now: datetime) -> TrackingEvent | None:
        """The latest event not dated beyond now + FUTURE_SLACK; None when there is none."""
        horizon = now + FUTURE_SLACK
        events = self.events
        if events and events[-1].time <= horizon:  # the usual case: nothing from the future
            return events[-1]
        return next((e for e in reversed(events) if e.time <= horizon), None)


class Policy(NamedTuple):
    """The effective rules, zone and language for one order (made for every order of every cycle)."""

    rules: Rules
    zone: ZoneInfo
    language: str = "en"
    windows: WindowTable = DEFAULT_TABLE  # the protection windows by marketplace and payment
    rows: tuple[Window, ...] | None = None  # the order's rows of `windows`; None: looked up at each evaluation


def order_policies(orders: Sequence[Order], base: Rules, zone: ZoneInfo, lang: str,
                   windows: WindowTable = DEFAULT_TABLE) -> list[tuple[Order, Policy]]:
    """Each order with its Policy: worked out once per load of the watchlist, not at every cycle."""
    # Most orders override no rule: one Policy serves all those with the same windows (a few shops and payments).
    shared: dict[tuple[Window, ...], Policy] = {}
    out = []
    for order in orders:
        rows = windows.applicable(order.shop, order.paid_with)
        if (rules := order.rules(base)) is not base:
            out.append((order, Policy(rules, zone, lang, windows, rows)))
        elif (policy := shared.get(rows)) is not None:
            out.append((order, policy))
        else:
            out.append((order, shared.setdefault(rows, Policy(base, zone, lang, windows, rows))))
    return out


Texts = tuple[str, str, str]  # (title, message, action)


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made creating the
# findings the costliest step of a cycle. Only the rendering of its texts changes a finding once made.
@dataclass(slots=True)
class Finding:
    """Something the buyer should know now, with what to do about it."""

    kind: Kind
    order_id: str
    severity: Severity
    # The texts, or what renders them on first use: a cycle finds every open episode again, yet sends
    # only the new ones, so most findings are never read. They follow from the other fields.
    texts: Texts | Callable[[], Texts] = field(compare=False, repr=False)
    due: datetime | None
    key: str  # one per episode: the notification log never sends the same key twice
    window: str = ""  # the protection window a protection_ending/ended finding is about (windows.py's row, or TYPED)

    @property
    def title(self) -> str:
        """The alert's headline."""
        return self._rendered()[0]

    @property
    def message(self) -> str:
        """What happened."""
        return self._rendered()[1]

    @property
    def action(self) -> str:
        """What the buyer should do now."""
        return self._rendered()[2]

    def _rendered(self) -> Texts:
        texts = self.texts
        if callable(texts):
            try:
                texts = texts()
            except Exception as exc:  # a value the texts cannot show must not cost the alert, nor the others
                ctx = texts.args[0] if isinstance(texts, partial) and texts.args else None
                texts = messages.render(Kind.CHECK_FAILED.value, getattr(ctx, "lang", "en"), order=self.order_id,
                                        error=f"{self.kind}: {type(exc).__name__}: {exc}"[:200])
            self.texts = texts
        return texts

    def as_json(self) -> dict[str, object]:
        """The `check --json` shape."""
        shape: dict[str, object] = {
            "order": self.order_id,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "message": self.message,
            "action": self.action,
            "due": self.due.isoformat() if self.due else None,
        }
        if self.window:
            shape["window"] = self.window
        return shape


# A "not received" exception stays relevant even when later scans show movement.
_STICKY = frozenset({EventKind.RETURNING, EventKind.RETURNED, EventKind.CANCELLED, EventKind.LOST, EventKind.DAMAGED})
_TRANSIENT_EXCEPTION_RELEVANCE = timedelta(days=7)
DELIVERED_RELEVANCE = timedelta(days=14)  # how long "inspect it" stays worth saying; archiving waits for it
_COMPLETION = ("completion",)  # windows.py's anchor: counted from the end of protection
_MIDNIGHT = time()
_ZERO, _ONE_DAY = timedelta(0), timedelta(days=1)
# Members read for every order or event, looked up once: on Python 3.11 `EventKind.X` goes through
# EnumType.__getattr__ and costs more than the comparison it feeds.
_DELIVERED_EVENT, _EXPORTED, _DAMAGED = EventKind.DELIVERED, EventKind.EXPORTED, EventKind.DAMAGED
_PICKUP = EventKind.AVAILABLE_FOR_PICKUP
# After these the parcel is no longer waiting at the pickup point: the exception rule speaks instead.
_GONE_BACK = frozenset({EventKind.RETURNING, EventKind.RETURNED, EventKind.CANCELLED, EventKind.LOST})
PICKUP_URGENT = timedelta(days=2)  # the last stretch of a pickup hold, when the alert turns urgent
_NOT_FOUND, _DELIVERED_STATUS = Status.NOT_FOUND, Status.DELIVERED
_FINAL = frozenset(s for s in Status if s.is_final)
_IS_EXCEPTION = EXCEPTION_KINDS.__contains__
_T = TypeVar("_T")


def instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A watchlist date or datetime as an aware instant; a bare date is the start of that day in `zone`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return _start_of_day(value, zone)


@lru_cache(maxsize=8192)
def _start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """instant() for a bare date, cached: the watchlist's dates come back at every evaluation."""
    return datetime.combine(day, _MIDNIGHT, zone)


def _per_value(fn: Callable[..., _T]) -> Callable[..., _T]:
    """Cache `fn(value, *args)` of a watchlist date or naive date-time, the values that come back every cycle.

    The key holds `fold`, which equality of naive date-times ignores. Aware values (written with an offset) are
    not cached: instants in two zones can be equal and still print differently.
    """
    cached = lru_cache(maxsize=8192)(lambda value, fold, *args: fn(value, *args))

    def wrapper(value: date | datetime, *args: object) -> _T:
        if type(value) is date:
            return cached(value, 0, *args)
        if value.tzinfo is None:  # type: ignore[union-attr]
            return cached(value, value.fold, *args)  # type: ignore[union-attr]
        return fn(value, *args)

    return wrapper


@_per_value
def _utc_at(value: date | datetime, zone: ZoneInfo, after: timedelta | None = None) -> datetime:
    """`instant(value, zone)`, plus `after` if given (wall-clock arithmetic, as everywhere here), in UTC.

    Comparing that with `now` (UTC) is cheap, where comparing instants in two zones calls utcoffset() four times.
    """
    at = instant(value, zone)
    return (at if after is None else at + after).astimezone(UTC)  # adding, even 0, resets fold


class _Ctx:
    """Per-evaluation values shared by the rules, computed once; what a finding's texts are rendered from."""

    __slots__ = ("order", "hist", "now", "rules", "zone", "lang", "delivered_at", "windows", "rows")

    def __init__(self, order: Order, hist: History, now: datetime, policy: Policy) -> None:
        self.order, self.hist, self.rules, self.windows = order, hist, policy.rules, policy.windows
        rows = policy.rows  # the order's protection windows
        self.rows = rows if rows is not None else policy.windows.applicable(order.shop, order.paid_with)
        self.now = now if now.tzinfo is UTC else now.astimezone(UTC)
        self.zone, self.lang = policy.zone, policy.language
        received = delivered_at(order, hist, policy.zone)
        # A delivered_on typed in the future (wrong year) must not silence the deadline alerts.
        self.delivered_at = received if received is not None and received <= self.now else None

    @property
    def local_today(self) -> date:
        """Today in the watchlist's zone (only some rules and texts need it)."""
        return _local_day(self.now, self.zone)

    def local(self, value: datetime) -> datetime:
        """An instant in the watchlist's zone, for display."""
        return value.astimezone(self.zone)

    def day(self, value: date | datetime | None) -> str:
        """A date for a message; 'not set' for a missing one."""
        if value is None:
            return messages.fragment("not_set", self.lang)
        return fmt_date(self.local(value) if isinstance(value, datetime) and value.tzinfo else value, self.lang)

    def age(self, since: datetime) -> str:
        """Whole days from `since` to now, in words."""
        return days(max(0, (self.local_today - self.local(since).date()).days), self.lang)

    def finding(self, kind: Kind, severity: Severity, key: str, due: datetime | None, fill: Fill, *args: Any,
                entry: str = "", window: str = "") -> Finding:
        """A finding whose placeholders `fill(self, *args)` gives when its texts are first read; `entry`: the
        messages.CATALOG texts when they are not the kind's own."""
        oid = self.order.id
        # One partial, no closure: a closure would read a loop's variable after the loop moved on, and a cycle
        # keeps its findings, so every object held is one more for the garbage collector to walk.
        # A Kind is its value as text: no .value, read for each of the many findings a cycle makes.
        return Finding(kind, oid, severity, partial(_render, self, entry or kind, fill, *args), due,
                       f"{oid}:{kind}:{key}" if key else f"{oid}:{kind}", window)

    def event_params(self, event: TrackingEvent) -> dict[str, str]:
        """The placeholders that describe one tracking event."""
        where = messages.fragment("at", self.lang, where=event.location) if event.location else ""
        return {"last_when": fmt_when(self.local(event.time), self.lang), "last_text": event.description,
                "last_where": where}


Fill = Callable[..., dict[str, str]]  # (ctx, *args) -> the placeholders of a finding's texts


def _render(c: _Ctx, entry: str, fill: Fill, *args: Any) -> Texts:
    """A finding's title, message and action (messages.CATALOG[entry]) in the order's language."""
    o = c.order
    title, message, action = messages.render(
        entry, c.lang, order=o.id, tracking=o.tracking or "", carrier=c.hist.carrier or "", **fill(c, *args)
    )
    return titled(title, o), message, action


def titled(title: str, order: Order) -> str:
    """An alert's title with the order it is about: shop and item, else the order's id."""
    label = f"{order.shop} · {order.item}" if order.shop and order.item else order.shop or order.item
    return f"{title} ({label or order.id})"


@lru_cache(maxsize=16)
def _local_day(now: datetime, zone: ZoneInfo) -> date:
    """Today in `zone`; cached because every order of a cycle is evaluated at the same `now`."""
    return now.astimezone(zone).date()


def delivered_at(order: Order, hist: History, zone: ZoneInfo) -> datetime | None:
    """When the parcel was received: the buyer's delivered_on, else the carrier's delivery; None if not yet."""
    if order.delivered_on is not None:
        return instant(order.delivered_on, zone)
    if (at := hist.index.delivery) >= 0:
        return hist.events[at].time  # the last delivery scan
    if hist.status is _DELIVERED_STATUS:
        return hist.events[-1].time if hist.events else None
    return None


def last_window_end(order: Order, delivered: datetime | None, zone: ZoneInfo,
                    rows: Sequence[Window] = ()) -> datetime | None:
    """When the order's last window closes, `rows` its protection windows (WindowTable.applicable); None while a
    window stays open with no known end."""
    if delivered is not None:
        # After delivery: the time to inspect it, the refund window, and a "not as described" dispute while
        # protection runs.
        end = delivered + max(DELIVERED_RELEVANCE, order.refund_window or _ZERO)
        if order.protection_ends is not None:
            end = max(end, _utc_at(order.protection_ends, zone))
        for row in rows:
            if _after_delivery(row, order):
                end = max(end, delivered + row.length)
    elif order.protection_ends is not None:
        # Not received: the order completes when protection ends, and a refund can be asked for a while after.
        end = _utc_at(order.protection_ends, zone, max(order.refund_window or _ZERO, AFTER_COMPLETION))
        # A PayPal or card window may outlast the marketplace's: the buyer still has a way to get the money back.
        for row in rows:
            if row.typed_wins or (row.counted_from == _COMPLETION and row.length <= AFTER_COMPLETION):
                continue  # replaced by the typed date, or it closes by the end above (AliExpress after completion)
            if (start := _start(row, order)) is not None:
                end = max(end, _utc_at(start, zone, row.length))
    else:
        return None  # no deadline known: watched until the buyer archives it
    dispute = order.dispute
    if dispute is not None and dispute.wait_until is not None:
        end = max(end, _utc_at(dispute.wait_until, zone, _ONE_DAY))
    elif dispute is not None and dispute.opened_on is not None:
        return None  # a dispute is open with no date to wait for: keep watching
    return end


def evaluate(order: Order, hist: History, now: datetime, policy: Policy, *, skip_closed: bool = False) -> list[Finding]:
    """Every finding that holds for this order at `now`; none with `skip_closed` once the order is archived."""
    ctx = _Ctx(order, hist, now, policy)
    if skip_closed and (order.archived or ((end := last_window_end(order, ctx.delivered_at, ctx.zone, ctx.rows))
                                           is not None and ctx.now >= end)):
        return []
    found: list[Finding] = []
    for rule in _RULES_DELIVERED if ctx.delivered_at is not None else _RULES_OPEN:
        rule(ctx, found)
    return found


# ---------------------------------------------------------------- rules for parcels not yet received


def tracking_missing(c: _Ctx, found: list[Finding]) -> None:
    """No tracking number some days after ordering."""
    if c.order.tracking:
        return
    if c.now >= _utc_at(c.order.ordered_on, c.zone, c.rules.tracking_missing_after):
        found.append(c.finding(Kind.TRACKING_MISSING, Severity.WARNING, "", None, _ordered_params))


def tracking_unknown(c: _Ctx, found: list[Finding]) -> None:
    """A number the carrier still has no data for, some days after it appeared."""
    h = c.hist
    if not c.order.tracking or h.status is None or h.events or h.status is not _NOT_FOUND:
        return
    given = c.order.tracking_since
    if given is not None:
        since: datetime | None = instant(given, c.zone)
        due = c.now >= _utc_at(given, c.zone, c.rules.tracking_unknown_after)
    else:
        since = h.number_since
        due = since is not None and c.now >= since + c.rules.tracking_unknown_after
    if due:
        found.append(c.finding(Kind.TRACKING_UNKNOWN, Severity.WARNING, c.order.tracking, None, _age_params, since))


def stalled(c: _Ctx, found: list[Finding]) -> None:
    """No new event for long; longer allowed while in international transit, with an early 'dark' notice."""
    h = c.hist
    if not h.events or h.status in _FINAL or (last := h.last_event(c.now)) is None:
        return
    if last.kind is _PICKUP:
        return  # waiting at a pickup point is not a stall: pickup_waiting says by when to collect it
    exported = last.kind is _EXPORTED
    quiet = c.now - last.time
    dark = exported and quiet >= c.rules.dark_after_export_after
    stale = quiet >= (c.rules.stalled_international_after if exported else c.rules.stalled_after)
    if not (dark or stale):
        return
    key = last.key
    if dark:
        found.append(c.finding(Kind.DARK_AFTER_EXPORT, Severity.INFO, key, None, _dark_params, last))
    if stale:
        found.append(c.finding(Kind.STALLED, Severity.WARNING, key, None, _stalled_params, last))


def exceptions(c: _Ctx, found: list[Finding]) -> None:
    """One finding per unusual event (returned, held in customs, failed delivery…), never repeated."""
    unusual = c.hist.index.unusual
    if not unusual:
        return
    events, last = c.hist.events, c.hist.last_event(c.now)
    for i in unusual:
        event = events[i]
        if c.delivered_at is not None and event.time <= c.delivered_at and event.kind is not _DAMAGED:
            continue  # the parcel arrived after all: an earlier hitch is no longer news, unless it was damaged
        superseded = event is not last and c.now - event.time > _TRANSIENT_EXCEPTION_RELEVANCE
        if event.kind not in _STICKY and superseded:
            continue  # an old customs hold or failed attempt the parcel has since moved past
        found.append(c.finding(Kind.EXCEPTION, Severity.URGENT, event.key, None, _exception_params, event))


def promised_passed(c: _Ctx, found: list[Finding]) -> None:
    """The seller's promised date (the whole day) plus grace has passed."""
    promised = c.order.promised_by
    if promised is None:
        return
    if c.now >= _utc_at(promised + _ONE_DAY, c.zone, c.rules.promised_grace):  # late from the next day
        protection, row = _first_deadline(c)
        found.append(c.finding(Kind.PROMISED_PASSED, Severity.WARNING, promised.isoformat(), protection,
                               _promised_params, protection, row))


def _first_deadline(c: _Ctx) -> tuple[datetime | None, Window | None]:
    """The deadline a late parcel's buyer works against: the typed protection_ends, else the window of the order's
    marketplace or payment that closes first among those still open (None when there is none)."""
    if c.order.protection_ends is not None:
        return instant(c.order.protection_ends, c.zone), None
    ends = [(instant(_window_end(row, start), c.zone), row) for row in c.rows
            if (start := _start(row, c.order)) is not None]
    return min(((end, row) for end, row in ends if end > c.now), key=lambda e: e[0], default=(None, None))


def protection(c: _Ctx, found: list[Finding]) -> None:
    """Warning steps before buyer protection ends (moved earlier over Chinese holidays), then 'ended': for the
    typed protection_ends and for each protection window of the order's marketplace and payments."""
    o = c.order
    ends, rows = o.protection_ends, c.rows
    if ends is None and not rows:
        return
    steps, shift = tuple(c.rules.protection_warn), c.rules.holiday_shift
    if ends is not None:
        _protection_steps(c, found, _deadline(ends, c.zone, steps, shift, c.lang), None)
    for row in rows:
        if row.typed_wins and ends is not None:  # _replaced(), inline: it runs for every window of every order
            continue
        if (start := _start(row, o)) is not None:
            _protection_steps(c, found, _row_deadline(start, row, c.zone, steps, shift, c.lang), row)


def _protection_steps(c: _Ctx, found: list[Finding], d: _Deadline, row: Window | None) -> None:
    """The ended finding, or the latest warning step reached, for one window (`row` None: the typed one)."""
    warnings = d.warnings
    if c.now < d.utc and (not warnings or c.now < warnings[0][0]):
        return  # most windows of most orders: no step reached yet
    # A computed window's keys hold its name: the typed protection's keys, already in the log, stay as they were.
    key, name = (f"{row.name}:{d.stamp}", row.name) if row else (d.stamp, TYPED)
    if c.now >= d.utc:
        found.append(c.finding(Kind.PROTECTION_ENDED, Severity.URGENT, key, d.at, _ended_params, d.at, row,
                               entry="window_ended" if row else "", window=name))
        return
    # Only the latest step reached fires: a buyer adding an order late wants one alert, not three.
    # A longer step warns earlier (its stretch holds the same holidays or more), so the steps reached
    # come first and the first one not reached ends the search.
    reached = warnings[0][1:]
    for warn_at, step, shift in warnings:
        if c.now < warn_at:
            break
        reached = (step, shift)
    step, shift = reached
    # Calendar days in the buyer's zone, so a DST change in the last days does not soften the alert.
    severity = Severity.URGENT if (c.local(d.at).date() - c.local_today).days <= 3 else Severity.WARNING
    found.append(c.finding(Kind.PROTECTION_ENDING, severity, f"{key}:{format_duration(step)}", d.at,
                           _window_params if row else _ending_params, d.at, shift, *((row,) if row else ()),
                           entry="window_ending" if row else "", window=name))


def pickup_waiting(c: _Ctx, found: list[Finding]) -> None:
    """From the first pickup-point scan: where and by when to collect (the carrier's hold, or pickup_hold);
    urgent in the last PICKUP_URGENT and once the hold is over, silent once it is collected or goes back."""
    h = c.hist
    first = h.index.pickup
    if first < 0 or h.status is Status.RETURNED or any(i > first and h.events[i].kind in _GONE_BACK
                                                        for i in h.index.unusual):
        return
    event = h.events[first]
    hold = Hold(c.rules.pickup_hold, "") if c.rules.pickup_hold else hold_for(
        event.source, h.handover.carrier if h.handover else "", h.carrier)
    end = event.time + hold.time
    if c.now >= end:
        stage, severity = "ended", Severity.URGENT
    elif c.now >= end - PICKUP_URGENT:
        stage, severity = "last_days", Severity.URGENT
    else:
        stage, severity = "waiting", Severity.WARNING
    found.append(c.finding(Kind.PICKUP_WAITING, severity, f"{event.key}:{stage}", end, _pickup_params, event, end,
                           hold, stage))


def long_wait(c: _Ctx, found: list[Finding]) -> None:
    """So long since the order that the parcel will probably never come."""
    if c.now >= _utc_at(c.order.ordered_on, c.zone, c.rules.long_wait_after):
        found.append(c.finding(Kind.LONG_WAIT, Severity.WARNING, "", None, _ordered_params))


def dispute_followup(c: _Ctx, found: list[Finding]) -> None:
    """On the mediator's date, remind the buyer to attach proof of non-delivery."""
    d = c.order.dispute
    if d is None or d.wait_until is None:
        return
    if c.now >= _utc_at(d.wait_until, c.zone):
        found.append(c.finding(Kind.DISPUTE_FOLLOWUP, Severity.URGENT, d.wait_until.isoformat(),
                               instant(d.wait_until + _ONE_DAY, c.zone), _dispute_params))


def source_failing(c: _Ctx, found: list[Finding]) -> None:
    """The tracking source has failed for a while: say so once; deadline rules keep running."""
    since = c.hist.failing_since
    if since is not None and c.now >= since + c.rules.source_failing_after:
        found.append(c.finding(Kind.SOURCE_FAILING, Severity.WARNING, f"{c.hist.carrier}:{since.isoformat()}", None,
                               _failing_params))


# ---------------------------------------------------------------- rules once the parcel is received


def delivered(c: _Ctx, found: list[Finding]) -> None:
    """Inspect before confirming; say how long a refund stays possible."""
    at = c.delivered_at
    assert at is not None
    window = c.order.refund_window
    if c.now - at > max(window or _ZERO, DELIVERED_RELEVANCE):
        return  # long past: an 'inspect it' alert would only be noise
    end = at + window if window else None
    found.append(c.finding(Kind.DELIVERED, Severity.INFO, "", end, _delivered_params, end))


def refund_window_ending(c: _Ctx, found: list[Finding]) -> None:
    """Warn before the refund window after delivery closes: the typed refund_window, and each protection window
    counted from the delivery (eBay Money Back Guarantee, Alibaba Trade Assurance)."""
    if c.delivered_at is None:
        return
    o = c.order
    if o.refund_window:
        _refund_warning(c, found, c.delivered_at + o.refund_window, None)
    for row in c.rows:
        if _after_delivery(row, o):
            _refund_warning(c, found, c.delivered_at + row.length, row)


def _refund_warning(c: _Ctx, found: list[Finding], end: datetime, row: Window | None) -> None:
    """One warning refund_window_warn before `end`; a window's key holds its name, the typed one's is unchanged."""
    if c.now >= end:
        return
    warn_at, shift = _warn_time(end, c.rules.refund_window_warn, c.zone, c.rules.holiday_shift, c.lang)
    if warn_at <= c.now:
        if row is None:
            found.append(c.finding(Kind.REFUND_WINDOW_ENDING, Severity.WARNING, end.isoformat(), end,
                                   _ending_params, end, shift))
        else:
            found.append(c.finding(Kind.REFUND_WINDOW_ENDING, Severity.WARNING, f"{row.name}:{end.isoformat()}", end,
                                   _window_params, end, shift, row, entry="window_refund_ending", window=row.name))


Rule = Callable[[_Ctx, list[Finding]], None]  # appends what it finds
_RULES_OPEN: tuple[Rule, ...] = (
    tracking_missing, tracking_unknown, stalled, exceptions, promised_passed, protection, dispute_followup,
    long_wait, source_failing, pickup_waiting,
)
_RULES_DELIVERED: tuple[Rule, ...] = (exceptions, delivered, refund_window_ending)


# ---------------------------------------------------------------- placeholders, filled when the texts are read


def _ordered_params(c: _Ctx) -> dict[str, str]:
    ordered = instant(c.order.ordered_on, c.zone)
    return {"ordered": c.day(ordered), "age": c.age(ordered)}


def _age_params(c: _Ctx, since: datetime) -> dict[str, str]:
    return {"age": c.age(since)}


def _dark_params(c: _Ctx, last: TrackingEvent) -> dict[str, str]:
    return {"watch": _watch(c), **c.event_params(last)}


def _stalled_params(c: _Ctx, last: TrackingEvent) -> dict[str, str]:
    return {"age": c.age(last.time), **c.event_params(last)}


def _exception_params(c: _Ctx, event: TrackingEvent) -> dict[str, str]:
    return {"event_kind": messages.EVENT_KIND_NAMES[c.lang][event.kind.value], **c.event_params(event)}


def _pickup_params(c: _Ctx, event: TrackingEvent, end: datetime, hold: Hold, stage: str) -> dict[str, str]:
    lang, ho = c.lang, c.hist.handover
    deadline = fmt_deadline(c.local(end), lang)
    note = "hold_set" if c.rules.pickup_hold else "hold_published" if hold.published else "hold_estimate"
    held = days(hold.time.days, lang) if hold.time % _ONE_DAY == _ZERO else format_duration(hold.time)
    local = messages.fragment("local_number", lang, number=ho.number) if ho else ""
    return {
        "headline": messages.fragment(f"pickup_{stage}", lang, deadline=deadline, left=_left(end, c)),
        "since": fmt_when(c.local(event.time), lang), "last_text": event.description,
        "last_where": messages.fragment("at", lang, where=event.location) if event.location else "",
        "deadline": deadline, "numbers": f"{c.order.tracking or ''}{local}",
        "hold": messages.fragment(note, lang, hold=held, source=hold.source),
        "todo": messages.fragment("pickup_todo_ended" if stage == "ended" else "pickup_todo", lang,
                                  deadline=deadline),
        "kept": messages.fragment("kept_ended" if stage == "ended" else "kept", lang, deadline=deadline),
    }


def _promised_params(c: _Ctx, protection: datetime | None, row: Window | None) -> dict[str, str]:
    promised = c.order.promised_by
    assert promised is not None
    overdue = days(max(1, (c.local_today - promised).days), c.lang)
    ends = fmt_due(c.local(protection), c.lang) if protection else messages.fragment("not_set", c.lang)
    if row is not None:
        ends = f"{row.text(row.title, c.lang)}, {ends}"
    return {"promised": c.day(promised), "overdue": overdue, "protection": ends}


def _deadline_params(c: _Ctx, deadline: datetime) -> dict[str, str]:
    return {"deadline": fmt_deadline(c.local(deadline), c.lang)}


def _ending_params(c: _Ctx, deadline: datetime, holiday: str) -> dict[str, str]:
    return {"deadline": fmt_due(c.local(deadline), c.lang), "left": _left(deadline, c), "holiday": holiday}


def _window_params(c: _Ctx, deadline: datetime, holiday: str, row: Window) -> dict[str, str]:
    return {**_ending_params(c, deadline, holiday), "window": row.text(row.title, c.lang),
            "computed": computed_from(row, c.order, c.delivered_at, c.lang, c.zone), "do": row.text(row.action, c.lang)}


def _ended_params(c: _Ctx, deadline: datetime, row: Window | None) -> dict[str, str]:
    """'ended' for the typed date or a window: with the next window still open, and what to do in it."""
    after = [w for w in order_windows(c.order, None, c.zone, c.windows, c.lang)
             if w.ends is not None and w.ends > c.now and w.name != (row.name if row else TYPED)]
    params = _deadline_params(c, deadline)
    if row is not None:
        params |= {"window": row.text(row.title, c.lang), "computed": computed_from(row, c.order, None, c.lang, c.zone)}
    if not after:
        return params | {"next": "", "next_do": messages.fragment("next_none", c.lang)}
    nxt = min(after, key=lambda w: w.ends or deadline)
    opens = nxt.opens is not None and nxt.opens > c.now
    return params | {
        "next": messages.fragment("next_opens" if opens else "next_open", c.lang, window=nxt.title,
                                  opens=c.day(nxt.opens), deadline=fmt_deadline(c.local(nxt.ends), c.lang)),
        "next_do": nxt.row.text(nxt.row.action, c.lang) if nxt.row else messages.fragment("next_typed", c.lang)}


def _dispute_params(c: _Ctx) -> dict[str, str]:
    d = c.order.dispute
    assert d is not None
    opened = messages.fragment("opened", c.lang, date=c.day(d.opened_on)) if d.opened_on else ""
    return {"opened": opened, "wait_until": c.day(d.wait_until)}


def _failing_params(c: _Ctx) -> dict[str, str]:
    since = c.hist.failing_since
    assert since is not None
    return {"since": fmt_when(c.local(since), c.lang), "error": c.hist.last_error or "?"}


def _delivered_params(c: _Ctx, end: datetime | None) -> dict[str, str]:
    at = c.delivered_at
    assert at is not None
    refund = messages.fragment("refund", c.lang, deadline=fmt_due(c.local(end), c.lang)) if end else ""
    return {"delivered": c.day(at), "refund": refund}


# ---------------------------------------------------------------- protection windows


# What each anchor of windows.ANCHORS is, for an order and its delivery (None while not received).
_ANCHORS: dict[str, Callable[[Order, datetime | None], date | datetime | None]] = {
    "ordered": lambda o, delivered: o.ordered_on,
    "delivery": lambda o, delivered: delivered,
    "estimated_delivery": lambda o, delivered: o.estimated_delivery or o.promised_by,
    "completion": lambda o, delivered: o.protection_ends,  # the order completes when its protection ends
}


def _anchor(row: Window, order: Order, delivered: datetime | None) -> tuple[str, date | datetime | None]:
    """(the anchor a row is counted from for this order, its value); the value is None while none is known."""
    for anchor in row.counted_from:
        start = _ANCHORS[anchor](order, delivered)
        if start is not None:
            return anchor, start
    return row.counted_from[0], None


@_per_value
def _row_deadline(start: date | datetime, row: Window, zone: ZoneInfo, steps: tuple[timedelta, ...],
                  holiday_shift: bool, lang: str) -> _Deadline:
    """_deadline of a row's window counted from `start`: cached per start, like a typed date."""
    return _deadline(_window_end(row, start), zone, steps, holiday_shift, lang)


def _start(row: Window, order: Order) -> date | datetime | None:
    """The value a row's window is counted from for an order not received yet; None while none is known."""
    for anchor in row.counted_from:
        if (start := _ANCHORS[anchor](order, None)) is not None:
            return start
    return None


def _window_end(row: Window, start: date | datetime) -> date | datetime:
    """The end of a row's window from its anchor's value, as a watchlist value (a date or a date-time)."""
    if row.whole_days or isinstance(start, datetime):  # a date plus whole days stays a date, which _deadline caches
        return start + row.length
    return datetime.combine(start, _MIDNIGHT) + row.length


def _replaced(row: Window, order: Order) -> bool:
    """The marketplace's own window, and the buyer typed its date (protection_ends): the typed one wins."""
    return row.typed_wins and order.protection_ends is not None


def _after_delivery(row: Window, order: Order) -> bool:
    """A window counted from the delivery (eBay, Trade Assurance), not replaced by a typed protection_ends."""
    return row.counted_from[0] == "delivery" and not _replaced(row, order)


class OrderWindow(NamedTuple):
    """One protection window of an order, for status, report and the 'next one still open'."""

    name: str  # the table's row, or TYPED
    title: str
    opens: datetime | None  # in the watchlist's zone; None: open from the start
    ends: datetime | None  # in the watchlist's zone; None: its anchor is not known yet (not delivered…)
    source: str  # where the figures come from
    computed: str  # how the end was computed, and from what ("" for the typed one)
    row: Window | None  # None: the typed protection_ends

    def as_json(self) -> dict[str, object]:
        """The shape `status --json` and the JSON report give a window."""
        return {"window": self.name, "title": self.title, "opens": self.opens.isoformat() if self.opens else None,
                "ends": self.ends.isoformat() if self.ends else None, "source": self.source,
                "computed": self.computed or None, "estimate": bool(self.row and self.row.estimate)}


def order_windows(order: Order, delivered: datetime | None, zone: ZoneInfo, windows: WindowTable, lang: str = "en"
                  ) -> list[OrderWindow]:
    """Every protection window of the order, the typed protection_ends first, then the table's rows in order."""
    ends = order.protection_ends
    out = []
    if ends is not None:
        out.append(OrderWindow(TYPED, messages.fragment("typed_title", lang), None, instant(ends, zone),
                               messages.fragment("typed_source", lang), "", None))
    for row in windows.applicable(order.shop, order.paid_with):
        if _replaced(row, order):
            continue
        start = _anchor(row, order, delivered)[1]
        opens = instant(start, zone) + row.opens_after if start is not None and row.opens_after else None
        out.append(OrderWindow(row.name, row.text(row.title, lang), opens,
                               None if start is None else instant(_window_end(row, start), zone),
                               row.source, computed_from(row, order, delivered, lang, zone).strip(), row))
    return out


def computed_from(row: Window, order: Order, delivered: datetime | None, lang: str, zone: ZoneInfo) -> str:
    """' Computed: 30 days after the estimated delivery date (18 Nov 2026); source: …', or an estimate's words."""
    anchor, start = _anchor(row, order, delivered)
    length = days(row.length.days, lang) if row.whole_days else format_duration(row.length)
    when = messages.fragment("unknown_yet", lang) if start is None else fmt_date(
        start.astimezone(zone) if isinstance(start, datetime) and start.tzinfo else start, lang)
    return messages.fragment("estimate" if row.estimate else "computed", lang, length=length, source=row.source,
                             anchor=row.text(ANCHOR_NAMES[anchor], lang), start=when)


# ---------------------------------------------------------------- helpers


class _Deadline(NamedTuple):
    """A protection end worked out once for the zone and rules: the same date comes back at every evaluation."""

    at: datetime  # in the watchlist's zone
    utc: datetime
    stamp: str  # for the dedupe keys
    warnings: tuple[tuple[datetime, timedelta, str], ...]  # (when, in UTC; step; holiday note), longest step first


@_per_value
def _deadline(ends: date | datetime, zone: ZoneInfo, steps: tuple[timedelta, ...], holiday_shift: bool,
              lang: str) -> _Deadline:
    """The protection end `ends` and when each warning step falls due."""
    at = instant(ends, zone)
    warnings = []
    for step in sorted(steps, reverse=True):
        warn_at, note = _warn_time(at, step, zone, holiday_shift, lang)
        warnings.append((warn_at, step, note))
    return _Deadline(at, at.astimezone(UTC), at.isoformat(), tuple(warnings))


def _warn_time(deadline: datetime, step: timedelta, zone: ZoneInfo, holiday_shift: bool, lang: str) -> tuple[datetime, str]:
    """When to warn `step` before `deadline`, in UTC; earlier by the holiday days inside that stretch, and why."""
    warn_at = deadline - step
    if holiday_shift:
        local_deadline = deadline.astimezone(zone)
        first = warn_at.astimezone(zone).date()
        last = local_deadline.date() - _ONE_DAY if local_deadline.time() == _MIDNIGHT else local_deadline.date()
        shift_days, note = _holiday_shift(first, last, lang) if first <= last else (0, "")
        if shift_days:
            return (warn_at - timedelta(days=shift_days)).astimezone(UTC), note
    # UTC because the callers compare it with `now`: cheap within one zone, not across two.
    return warn_at.astimezone(UTC), ""


@lru_cache(maxsize=4096)
def _holiday_shift(first: date, last: date, lang: str) -> tuple[int, str]:
    """Holiday days within [first, last] and the note naming them; cached, as deadlines share a few dates."""
    periods = holidays.overlapping(first, last)
    shift_days = sum(p.overlap_days(first, last) for p in periods)
    if not shift_days:
        return 0, ""
    named = messages.join([messages.holiday_span(p.name, p.first, p.last, lang) for p in periods], lang)
    return shift_days, messages.fragment("holiday", lang, shift=days(shift_days, lang), holidays=named)




def _watch(c: _Ctx) -> str:
    """'Keep an eye on …' naming only the dates the order has."""
    o, lang = c.order, c.lang
    what = []
    if o.promised_by:
        what.append(messages.fragment("watch_promised", lang, date=c.day(o.promised_by)))
    if o.protection_ends:
        ends = fmt_due(c.local(instant(o.protection_ends, c.zone)), lang)
        what.append(messages.fragment("watch_protection", lang, date=ends))
    return messages.fragment("watch", lang, what=messages.join(what, lang) or messages.fragment("watch_none", lang))


def _left(deadline: datetime, c: _Ctx) -> str:
    """Time left in words: calendar days in the buyer's zone, or hours within the last day."""
    left = deadline - c.now
    if left >= timedelta(hours=23):  # a day of 23 hours (DST starts) is still "1 day"
        return days((c.local(deadline).date() - c.local_today).days, c.lang)
    return counted(max(1, int(left.total_seconds() // 3600)), "hour", c.lang)


def most_urgent(findings: list[Finding]) -> Finding | None:
    """The finding to show first: highest severity, then the nearest due date."""
    far = datetime.max.replace(tzinfo=UTC)
    return min(findings, key=lambda f: (-f.severity.rank, f.due or far), default=None)
