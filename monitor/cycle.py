"""One monitoring cycle: poll what is due, store it, evaluate the rules, queue and send notifications."""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from carriers.base import Carrier, FetchResult
from carriers.errors import (
    MAX_IMPOSED_WAIT,
    AuthError,
    BadPayloadError,
    CarrierError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    imposed_wait,
)
from carriers.http import env_id
from carriers.model import Handover, Shipment, Status
from monitor.config import App
from monitor.lifecycle import polling_over
from monitor.messages import counted, render
from monitor.notify import Notifier, repeat_due
from monitor.paths import DEMO_STATE, resolve
from monitor.rules import Finding, History, Kind, Policy, Severity, evaluate, titled
from monitor.store import CarrierState, PollOutcome, Queued, Store
from monitor.watchlist import Order
from monitor.windows import WindowTable

log = logging.getLogger("tracking_monitor.cycle")

FETCH_TIMEOUT = 120.0  # seconds for one carrier call, retries included


@dataclass(frozen=True)
class CycleResult:
    """What a cycle did."""

    polled: int
    new_events: int
    findings: list[Finding]  # everything that holds now
    new: list[Finding]  # the findings notified for the first time in this cycle
    repeated: list[Finding] = field(default_factory=list)  # urgent deadlines reminded of again in this cycle

    def __repr__(self) -> str:
        # Counts only: asyncio.run reprs its main task's result on the way out, which for 100,000 orders' findings
        # took seconds.
        return (f"CycleResult(polled={self.polled}, new_events={self.new_events}, findings={len(self.findings)},"
                f" new={len(self.new)}, repeated={len(self.repeated)})")


# How often to ask about one parcel, as a multiple of `poll_interval`, by what the carrier last said:
# news is unlikely before a parcel moves and likely when it is out for delivery. Final statuses stop polling.
CADENCE: dict[Status | None, float] = {
    None: 1.0,  # an error: ask again at the normal pace (the adapter already retried transient trouble)
    Status.NOT_FOUND: 2.0,
    Status.INFO_RECEIVED: 2.0,
    Status.IN_TRANSIT: 1.0,
    Status.AVAILABLE_FOR_PICKUP: 2.0,
    Status.OUT_FOR_DELIVERY: 1 / 6,
    Status.DELIVERY_FAILED: 0.5,
    Status.EXCEPTION: 1.0,
    Status.EXPIRED: 4.0,
    Status.UNKNOWN: 1.0,
}
RATE_LIMIT_WAIT = timedelta(minutes=5)  # after a 429 that did not say how long to wait
# The longest wait a carrier can impose (carriers.errors cuts longer asks to it); a wait stored by an older build
# is cut to it too, and a wait that keeps every answer away for source_failing_after gives source_failing.
MAX_WAIT = timedelta(seconds=MAX_IMPOSED_WAIT)


def imposed(seconds: float | None) -> timedelta:
    """A carrier's Retry-After as a wait: RATE_LIMIT_WAIT when it said nothing usable, at most MAX_WAIT."""
    clamped = imposed_wait(seconds)  # adapters clamp already; a third-party one may not
    return timedelta(seconds=clamped) if clamped else RATE_LIMIT_WAIT


def next_poll(result: Shipment | CarrierError, now: datetime, interval: timedelta, carrier: Carrier) -> datetime | None:
    """When to ask about this number again; None when its status is final (deadline rules keep running)."""
    if isinstance(result, RateLimitedError | AuthError):
        if isinstance(result, RateLimitedError) and result.number:
            # Refused alone (17TRACK's registration quota): this number waits its own time, the others go on.
            return now + imposed(result.retry_after)
        return now  # stays due: the carrier-wide wait decides when it is asked
    if isinstance(result, Shipment):
        if result.status.is_final:
            return None
        status: Status | None = result.status
    else:
        status = Status.NOT_FOUND if isinstance(result, NotFoundError) else None
    every = interval * CADENCE.get(status, 1.0)
    floor = getattr(carrier, "MIN_INTERVAL", None)  # e.g. the unofficial Cainiao endpoint is asked rarely
    return now + max(every, floor) if floor else now + every


def blocked(state: CarrierState | None, now: datetime) -> bool:
    """The carrier told us to wait (429, quota) or its key was rejected, and that time has not come."""
    return state is not None and state.blocked_until is not None and state.blocked_until > now


def due_sources(app: App, waiting: Collection[tuple[str, str]], now: datetime,
                carriers: dict[str, CarrierState] | None = None,
                routes: dict[str, str] | None = None,
                handovers: dict[tuple[str, str], Handover] | None = None) -> dict[str, dict[str, list[str]]]:
    """Numbers to poll now, by carrier, each with the carriers to try next if this one does not know it;
    `waiting` holds the (carrier, number) pairs not due yet (Store.not_due). A parcel a source reported handed
    over (`handovers`, Store.handovers) is also asked of the destination carrier when it is configured."""
    due: dict[str, dict[str, list[str]]] = defaultdict(dict)
    zone = app.watchlist.monitor.zone
    for order in app.watchlist.orders:
        if _polling_over(order, now, zone, app.windows):  # None (dates it cannot work with): ask anyway
            continue  # the buyer has the parcel or the order is archived: no call to spend on it
        chain = app.sources(order, routes)
        if not chain:
            continue
        pairs = [(chain[0], [c for c, _ in chain[1:]])]
        if handovers and (ho := handovers.get(chain[0])) and (follow := app.follow(ho)):
            pairs.append((follow, []))  # the destination carrier knows the last mile best; the user's number stays
        for (cid, number), rest in pairs:
            if (cid, number) not in waiting and not blocked((carriers or {}).get(cid), now):
                due[cid][number] = rest
    return due


@dataclass(frozen=True)
class Polled:
    """What a poll did: numbers asked, new events stored, and the numbers asked (their orders may have news)."""

    count: int
    new_events: int
    numbers: frozenset[str]


def begin_cycle(app: App, store: Store, now: datetime) -> dict[str, dict[str, list[str]]]:
    """Note new tracking numbers, cut over-long carrier waits, and plan the polls: the numbers to ask now, by
    carrier (due_sources on the stored state)."""
    store.note_numbers([(o.id, o.tracking) for o in app.watchlist.orders if o.tracking], now)
    store.limit_waits(now + MAX_WAIT)
    return due_sources(app, store.not_due(now), now, store.carrier_states(), store.routes(), store.handovers())


async def poll(app: App, store: Store, now: datetime, plan: dict[str, dict[str, list[str]]] | None = None) -> Polled:
    """Ask every carrier of `plan` (default: everything due) about its numbers, batch by batch.

    A number an auto-detected carrier does not know is asked of the next candidate in the same cycle; the
    carrier that answers with data is remembered (store routes) and asked from then on. A number handed over to
    a configured destination carrier is asked of it in the same cycle too.
    """
    if plan is not None and not plan:
        return Polled(0, 0, frozenset())
    cstates = store.carrier_states()
    if plan is None:
        plan = due_sources(app, store.not_due(now), now, cstates, store.routes(), store.handovers())
    before = store.shipment_states(asked_in(plan))
    interval = app.watchlist.monitor.poll_interval
    day = now.astimezone(UTC).date().isoformat()
    totals = [0, 0]
    asked: set[tuple[str, str]] = set()
    handed: list[Handover] = []  # handovers reported in this round: their destination is asked in the next

    async def one_carrier(carrier: Carrier, numbers: dict[str, list[str]]) -> dict[str, list[str]]:
        """Poll one carrier's numbers, batches in parallel up to its concurrency; return not-found ones to pass on."""
        carrier.memory = store.memory(carrier.id)
        carrier.budget.used = cstates[carrier.id].calls_on(day) if carrier.id in cstates else 0
        fallback: dict[str, list[str]] = {}
        # Least recently asked first: when a daily budget runs out mid-cycle, the numbers left over go first next
        # time, instead of the same lowest numbers winning every day and the others never being asked.
        never = datetime.min.replace(tzinfo=UTC)
        todo = sorted(numbers, key=lambda n: (getattr(before.get((carrier.id, n)), "last_polled", None) or never, n))
        slots = asyncio.Semaphore(getattr(carrier.settings, "concurrency", 1))
        told_to_wait = asyncio.Event()
        key_rejected = carrier.id in cstates and cstates[carrier.id].auth_failed_since is not None

        async def one_batch(batch: list[str]) -> None:
            nonlocal key_rejected
            async with slots:
                if told_to_wait.is_set():
                    return  # the rest stays due and is asked once the wait is over
                results = await _fetch(carrier, batch)
            asked.update((carrier.id, n) for n in batch)
            _log_transitions(carrier.id, results, before)
            auth = next((r for r in results.values() if isinstance(r, AuthError)), None)
            wait, reason = _imposed_wait(results, auth, interval)
            if wait:
                told_to_wait.set()
            if auth is not None and not key_rejected:
                key_rejected = True  # said once per carrier, not once per number
                log.error("%s: %s; not asked again until the configuration is reloaded", carrier.id,
                          auth.args[0] if auth.args else "credentials rejected")
            polls = {n: next_poll(r, now, interval, carrier) for n, r in results.items()}
            # One transaction per poll result: a crash loses at most the batches in flight.
            outcome = PollOutcome(results, polls, carrier.budget.drain(), now + wait if wait else None, reason)
            try:
                totals[1] += store.record_poll(carrier.id, outcome, now)
            except (ValueError, OverflowError) as exc:  # a value the state cannot hold: this batch only
                log.error("%s: answer for %s not stored: %s: %s", carrier.id, ", ".join(batch)[:200],
                          type(exc).__name__, exc)
                return
            totals[0] += len(batch)
            handed.extend(r.handover for r in results.values() if isinstance(r, Shipment) and r.handover)
            fallback.update({n: numbers[n] for n, r in results.items() if isinstance(r, NotFoundError) and numbers[n]})

        size = carrier.max_batch
        await asyncio.gather(*(one_batch(todo[i : i + size]) for i in range(0, len(todo), size)))
        return fallback

    while plan:
        found = await asyncio.gather(*(one_carrier(app.carriers[c], n) for c, n in plan.items()))
        plan = defaultdict(dict)
        cstates = store.carrier_states()
        for fallback in found:
            for number, (nxt, *rest) in fallback.items():
                if (nxt, number) not in asked and not blocked(cstates.get(nxt), now):
                    plan[nxt][number] = rest
        if handed:  # rare: read what is not due only then
            waiting = store.not_due(now)
            for pair in filter(None, map(app.follow, handed)):
                if pair not in asked and pair not in waiting and not blocked(cstates.get(pair[0]), now):
                    plan[pair[0]].setdefault(pair[1], [])
            handed.clear()
    return Polled(totals[0], totals[1], frozenset(n for _, n in asked))


def _imposed_wait(results: FetchResult, auth: AuthError | None, interval: timedelta) -> tuple[timedelta | None, str]:
    """How long the carrier told us to stay away (429, quota), or a rejected key's pause, with why.

    Only a wait for the whole call (an error without a number) blocks the carrier: a per-number one (17TRACK's
    monthly registration quota) delays that number alone, so numbers already registered keep being polled.
    """
    limited = [r for r in results.values() if isinstance(r, RateLimitedError) and not r.number]
    if limited:
        return max(imposed(r.retry_after) for r in limited), str(limited[0].args[0])
    if auth is not None:
        # Never retried: the key will not fix itself. A reload or restart (maybe with a new key) lifts the pause.
        return interval, str(auth.args[0] if auth.args else "credentials rejected")
    return None, ""


async def _fetch(carrier: Carrier, batch: list[str]) -> FetchResult:
    """The carrier's answers for a batch; whatever goes wrong becomes an error per number, never a crash."""
    try:
        # A hard limit per call: a carrier that hangs must not hold up the cycle or the scheduler.
        results = await asyncio.wait_for(carrier.fetch(batch), FETCH_TIMEOUT)
    except CarrierError as exc:
        return {n: exc for n in batch}
    except TimeoutError:
        return {n: UnavailableError(f"no answer within {FETCH_TIMEOUT:.0f} s", carrier=carrier.id) for n in batch}
    except Exception as exc:  # an adapter bug or garbage it did not catch must not stop the cycle
        log.error("%s: unexpected failure: %s: %s", carrier.id, type(exc).__name__, exc)
        return {n: UnavailableError(f"adapter failed: {type(exc).__name__}", carrier=carrier.id) for n in batch}
    out: FetchResult = {}
    for number in batch:
        res = results.get(number)
        if res is None:
            res = BadPayloadError("the answer did not mention this number", carrier=carrier.id, number=number)
        elif isinstance(res, Shipment) and res.number != number:
            res = replace(res, number=number)
        out[number] = res
    return out


def _log_transitions(carrier: str, results: FetchResult, before: dict) -> None:
    """Log a failing source once when it starts failing and once when it recovers, never every poll."""
    for number, res in results.items():
        st = before.get((carrier, number))
        was_failing = st is not None and st.failing_since is not None
        # Not failing: a clean "unknown number", or being told to wait. A rejected key is logged per carrier.
        failing = isinstance(res, CarrierError) and not isinstance(res, NotFoundError | RateLimitedError | AuthError)
        if failing and not was_failing:
            log.warning("%s %s: tracking source failing: %s", carrier, number, res.args[0] if res.args else res)
        elif was_failing and not failing:
            log.info("%s %s: tracking source recovered", carrier, number)


def order_histories(app: App, store: Store, now: datetime, orders: Sequence[Order] | None = None
                    ) -> dict[str, History]:
    """The stored tracking history of every order (or of `orders`), by order id, as the rules read it at `now`."""
    routes, handovers = store.routes(), store.handovers()
    chosen = app.watchlist.orders if orders is None else orders
    wanted, also = [], {}
    for o in chosen:
        source = app.source(o, routes)
        wanted.append((o.id, *(source or ("", o.tracking or ""))))
        if handovers and source in handovers and (follow := app.follow(handovers[source])):
            also[o.id] = follow  # the destination carrier's events join the order's history
    return store.histories(wanted, now, everything=orders is None, also=also)


def evaluate_all(app: App, store: Store, now: datetime, histories: dict[str, History] | None = None) -> list[Finding]:
    """Every finding that holds now, over all orders (an unfollowed number's too); pass `histories` when they were
    already read."""
    if histories is None:
        histories = order_histories(app, store, now)
    return evaluate_orders(app.policies, histories, now) + untracked(app, app.watchlist.orders, now)


def evaluate_orders(policies: Sequence[tuple[Order, Policy]], histories: dict[str, History], now: datetime
                    ) -> list[Finding]:
    """The rules over every order that is not archived (bench/rules.py times exactly this).

    Each order on its own: whatever goes wrong with one becomes a check_failed finding for it, and the other
    orders' alerts go out as usual.
    """
    out: list[Finding] = []
    empty = History()
    for order, policy in policies:
        try:
            # An archived order (by the buyer, or its windows are closed) has nothing left to warn about.
            out.extend(evaluate(order, histories.get(order.id, empty), now, policy, skip_closed=True))
        except Exception as exc:
            out.append(check_failed(order.id, policy.language, exc))
    return out


def check_failed(order_id: str, lang: str, exc: BaseException) -> Finding:
    """The finding for an order whose rules failed (logged once, when it is first queued)."""
    error = f"{type(exc).__name__}: {str(exc)[:200]}"
    texts = render(Kind.CHECK_FAILED.value, lang, order=order_id, error=error)
    return Finding(Kind.CHECK_FAILED, order_id, Severity.WARNING, texts, None,
                   f"{order_id}:{Kind.CHECK_FAILED}:{type(exc).__name__}")


def _polling_over(order: Order, now: datetime, zone: ZoneInfo, windows: WindowTable) -> bool | None:
    """lifecycle.polling_over; None when the order's dates cannot be worked with (check_failed says so)."""
    try:
        return polling_over(order, now, zone, windows)
    except (ArithmeticError, ValueError):
        return None


def unfollowed(app: App, orders: Sequence[Order], now: datetime) -> Iterator[Order]:
    """The orders with a number no configured source can ask, still worth following (not received, not archived,
    dates it can work with)."""
    zone = app.watchlist.monitor.zone
    for o in orders:
        if o.tracking and app.source(o) is None and _polling_over(o, now, zone, app.windows) is False:
            yield o


def untracked(app: App, orders: Sequence[Order], now: datetime) -> list[Finding]:
    """One untracked finding per unfollowed order, saying which carrier would know it and what to add."""
    lang = app.watchlist.monitor.language
    out = []
    for o in unfollowed(app, orders, now):
        title, message, action = render(Kind.UNTRACKED.value, lang, tracking=o.tracking, why=app.why_no_source(o))
        out.append(Finding(Kind.UNTRACKED, o.id, Severity.INFO, (titled(title, o), message, action), None,
                           f"{o.id}:{Kind.UNTRACKED}:{o.tracking}"))
    return out


def carrier_findings(app: App, store: Store) -> list[Finding]:
    """One finding per carrier whose credentials were rejected, naming it, until a reload clears it."""
    lang = app.watchlist.monitor.language
    out = []
    for cid, state in store.carrier_states().items():
        if state.auth_failed_since is None or cid not in app.carriers:
            continue
        count = sum(1 for o in app.watchlist.orders if (app.source(o) or ("",))[0] == cid)
        env = f"TRACKING_MONITOR_{env_id(cid)}_…"
        texts = render(Kind.CARRIER_REJECTED.value, lang, carrier=cid, error=state.block_reason or "?",
                       numbers=counted(count, "tracking number", lang), env=env)
        out.append(Finding(Kind.CARRIER_REJECTED, "", Severity.WARNING, texts, None,
                           f"carrier_rejected:{cid}:{state.auth_failed_since.isoformat()}"))
    return out


class Open(NamedTuple):
    """A finding as the daemon keeps it between ticks: what the status line reads, not what renders its texts."""

    order_id: str
    kind: Kind
    severity: Severity

    @classmethod
    def of(cls, finding: Finding) -> Open:
        """The Open of a finding."""
        return cls(finding.order_id, finding.kind, finding.severity)


# Orders evaluated and queued at a time: the findings of 100,000 orders, with what renders their texts, were
# tens of MB held at once; one transaction per part is a few more commits per cycle.
QUEUE_PART = 5_000
_T = TypeVar("_T")


def queue_findings(app: App, store: Store, now: datetime, orders: Sequence[Order] | None = None,
                   asking: Collection[str] = (), keep: Callable[[Finding], _T] = lambda f: f  # type: ignore[assignment,return-value]
                   ) -> tuple[list[_T], Queued]:
    """Evaluate every order (or only `orders`) on the stored history and queue what is new or due again, part
    by part; return `keep` of every finding (the finding itself by default) and what was queued.

    The alerts of orders whose number is being asked right now (`asking`) wait for the answer, so that a parcel
    delivered since the last poll does not first get a "late" alert; the caller queues them after the poll.
    """
    if orders is None:
        policies, histories = app.policies, order_histories(app, store, now)
    else:
        ids = {o.id for o in orders}
        policies = [(o, p) for o, p in app.policies if o.id in ids]
        histories = order_histories(app, store, now, orders)
    held = {o.id for o in orders_of(app, asking)} if asking else set()
    n = app.watchlist.notify
    kept: list[_T] = []
    new: list[Finding] = []
    repeated: list[Finding] = []

    def parts() -> Iterator[list[Finding]]:
        for i in range(0, len(policies), QUEUE_PART):
            yield evaluate_orders(policies[i : i + QUEUE_PART], histories, now)
        yield untracked(app, app.watchlist.orders if orders is None else orders, now) + carrier_findings(app, store)

    for findings in parts():
        queued = store.enqueue([f for f in findings if f.order_id not in held] if held else findings, app.routes,
                               now, lambda f, last: repeat_due(f, last, now, n.repeat_urgent, n.repeat_urgent_within))
        kept += map(keep, findings)
        new += queued.new
        repeated += queued.repeated
    for f in new:
        if f.kind is Kind.CHECK_FAILED:  # once when it starts, like a failing source, not at every cycle
            log.error("order %s could not be checked (%s); the other orders are checked as usual", f.order_id,
                      f.message)
    return kept, Queued(new, repeated)


def orders_of(app: App, numbers: Collection[str], handovers: dict[tuple[str, str], Handover] | None = None
              ) -> list[Order]:
    """The orders whose tracking number, or the number it was handed over to (`handovers`), is one of `numbers`."""
    handed = {n for (_, n), ho in (handovers or {}).items() if ho.number in numbers}
    return [o for o in app.watchlist.orders if o.tracking in numbers or o.tracking in handed]


def merged(before: list[_T], touched: Sequence[Order], after: list[_T]) -> list[_T]:
    """`before` with the findings of the `touched` orders, and the carrier-wide ones, replaced by `after`."""
    ids = {o.id for o in touched}
    return [f for f in before if f.order_id and f.order_id not in ids] + after  # type: ignore[attr-defined]


def asked_in(plan: dict[str, dict[str, list[str]]]) -> frozenset[str]:
    """The numbers a poll plan asks about."""
    return frozenset(n for numbers in plan.values() for n in numbers)


async def run_cycle(app: App, store: Store, now: datetime, notifier: Notifier | None, polling: bool = True
                    ) -> CycleResult:
    """Queue what the watchlist and the stored history already say, then poll what is due and queue the polled
    orders' findings; deliver after each step when a notifier is given (a dry run and the daemon pass none).
    Deadline alerts of orders not being polled never wait for a carrier. `polling=False` asks no carrier."""
    plan = begin_cycle(app, store, now) if polling else {}
    asking = asked_in(plan)
    findings, queued = queue_findings(app, store, now, asking=asking)
    if notifier is not None:
        await notifier.deliver(now)
    polled = await poll(app, store, now, plan)
    new, repeated = list(queued.new), list(queued.repeated)
    if touched := orders_of(app, asking | polled.numbers, store.handovers()):
        again, more = queue_findings(app, store, now, touched)
        findings = merged(findings, touched, again)
        new += more.new
        repeated += more.repeated
        if notifier is not None:
            await notifier.deliver(now)
    return CycleResult(polled.count, polled.new_events, findings, new, repeated)


def nothing_new(app: App, store: Store) -> str:
    """What a repeated check or start says when it has no new alert: how many went out before, where to see them."""
    sent = store.notified_by_order()
    count = sum(sent.get(o.id, 0) for o in app.watchlist.orders)
    command = "tracking-monitor" if app.path == resolve().config.path else f"tracking-monitor -c {app.path}"
    line = (f"nothing new: {counted(count, 'alert')} about these orders went out before; "
            f"`{command} status` shows what each order needs now, `{command} report ORDER_ID` one order's alerts")
    if app.state_dir.name == DEMO_STATE and app.watchlist.monitor.shift_dates_from is not None:
        line += f"; this demo keeps its state apart, in {app.state_dir}: remove that folder to see its alerts again"
    return line
