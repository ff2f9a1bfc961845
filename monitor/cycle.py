"""One monitoring cycle: poll what is due, store it, evaluate the rules, queue and send notifications."""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from carriers.base import Carrier, FetchResult
from carriers.errors import BadPayloadError, CarrierError, NotFoundError, UnavailableError
from carriers.model import Shipment
from monitor.config import App
from monitor.notify import Notifier, repeat_due
from monitor.rules import Finding, History, Policy, evaluate
from monitor.store import ShipmentState, Store

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


def due_sources(app: App, states: dict[tuple[str, str], ShipmentState], now: datetime) -> dict[str, list[str]]:
    """Numbers to poll now, by carrier: never polled, or their next poll time has come."""
    due: dict[str, set[str]] = defaultdict(set)
    for order in app.watchlist.orders:
        src = app.source(order)
        if src is None or order.delivered_on is not None:
            continue  # the buyer has the parcel: no call to spend on it
        st = states.get(src)
        if st is None or (st.next_poll is not None and st.next_poll <= now):
            due[src[0]].add(src[1])
    return {c: sorted(n) for c, n in due.items()}


async def poll(app: App, store: Store, now: datetime) -> tuple[int, int]:
    """Ask every carrier about its due numbers, batch by batch; return (numbers polled, new events)."""
    before = store.shipment_states()
    due = due_sources(app, before, now)
    next_poll = now + app.watchlist.monitor.poll_interval
    totals = [0, 0]

    async def one_carrier(carrier: Carrier, numbers: list[str]) -> None:
        for i in range(0, len(numbers), carrier.max_batch):
            batch = numbers[i : i + carrier.max_batch]
            results = await _fetch(carrier, batch)
            _log_transitions(carrier.id, results, before)
            # One transaction per poll result: a crash loses at most the batch in flight.
            totals[1] += store.record_poll(carrier.id, results, now, next_poll)
            totals[0] += len(batch)

    await asyncio.gather(*(one_carrier(app.carriers[c], n) for c, n in due.items()))
    return totals[0], totals[1]


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
            res = Shipment(number, res.carrier, res.status, res.events, res.raw_status, res.estimated_delivery)
        out[number] = res
    return out


def _log_transitions(carrier: str, results: FetchResult, before: dict) -> None:
    """Log a failing source once when it starts failing and once when it recovers, never every poll."""
    for number, res in results.items():
        st = before.get((carrier, number))
        was_failing = st is not None and st.failing_since is not None
        failing = isinstance(res, CarrierError) and not isinstance(res, NotFoundError)
        if failing and not was_failing:
            log.warning("%s %s: tracking source failing: %s", carrier, number, res.args[0] if res.args else res)
        elif was_failing and not failing:
            log.info("%s %s: tracking source recovered", carrier, number)


def order_histories(app: App, store: Store) -> dict[str, History]:
    """The stored tracking history of every order, by order id."""
    return store.histories([(o.id, *(app.source(o) or ("", o.tracking or ""))) for o in app.watchlist.orders])


def evaluate_all(app: App, store: Store, now: datetime, histories: dict[str, History] | None = None) -> list[Finding]:
    """Every finding that holds now, over all orders; pass `histories` when they were already read."""
    wl = app.watchlist
    if histories is None:
        histories = order_histories(app, store)
    zone, lang = wl.monitor.zone, wl.monitor.language
    out: list[Finding] = []
    for order in wl.orders:
        policy = Policy(order.rules(wl.rules), zone, lang)
        out.extend(evaluate(order, histories.get(order.id, History()), now, policy))
    return out


async def run_cycle(app: App, store: Store, now: datetime, notifier: Notifier | None) -> CycleResult:
    """Poll, store, evaluate, queue; then deliver when a notifier is given (a dry run and the daemon pass none)."""
    store.note_numbers([(o.id, o.tracking) for o in app.watchlist.orders if o.tracking], now)
    polled, new_events = await poll(app, store, now)
    findings = evaluate_all(app, store, now)
    n = app.watchlist.notify
    queued = store.enqueue(findings, app.routes, now,
                           lambda f, last: repeat_due(f, last, now, n.repeat_urgent, n.repeat_urgent_within))
    if notifier is not None:
        await notifier.deliver(now)
    return CycleResult(polled, new_events, findings, queued.new, queued.repeated)
