"""Benchmark: 30 simulated days, 500 orders, default cadence, against the local fake carrier server.

Measures what quotas and buyers care about: how many times each parcel is looked up per day (target at
most 6) and how long after a carrier event its alert is queued (target: under the cadence interval that
was in force: the one for the status the monitor had last seen when the event happened).
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carriers.model import Status  # noqa: E402
from monitor.config import load_app  # noqa: E402
from monitor.cycle import CADENCE, run_cycle  # noqa: E402
from monitor.store import Store  # noqa: E402
from tests.fakes.laposte import LaPosteApi  # noqa: E402
from tests.fakes.server import FakeCarrierServer, Stage, Step, World  # noqa: E402

START = datetime(2026, 10, 1, tzinfo=UTC)
INTERVAL = timedelta(hours=6)  # the default poll_interval


def journey(rng: random.Random, start: datetime) -> list[Step]:
    """A plausible cross-border parcel: 70% delivered, 10% held or returned, 20% stalling after export."""
    t, steps = start, []

    def step(stage: Stage, lo: float, hi: float) -> None:
        nonlocal t
        t += timedelta(hours=rng.uniform(lo, hi))
        steps.append(Step(t, stage, stage.value.replace("_", " "), "", ""))

    step(Stage.INFO_RECEIVED, 0, 24)
    step(Stage.PICKED_UP, 12, 72)
    step(Stage.EXPORTED, 24, 96)
    fate = rng.random()
    if fate < 0.2:
        return steps  # tracked only to the border
    step(Stage.ARRIVED, 48, 240)
    if fate < 0.25:
        step(Stage.CUSTOMS_HELD, 4, 48)
        return steps
    if fate < 0.3:
        step(Stage.RETURNING, 24, 96)
        return steps
    step(Stage.CUSTOMS, 4, 48)
    step(Stage.IN_TRANSIT, 12, 72)
    step(Stage.OUT_FOR_DELIVERY, 12, 60)
    if fate < 0.35:
        step(Stage.DELIVERY_FAILED, 3, 9)
        return steps
    step(Stage.DELIVERED, 2, 9)
    return steps


def watchlist(n: int, base_url: str) -> str:
    """n orders on La Poste numbers with the default cadence."""
    parts = ['[monitor]\ntimezone = "Europe/Paris"\n',
             f'[carriers.laposte]\napi_key = "test-key"\nbase_url = "{base_url}"\n']
    parts += [f'[[orders]]\nid = "S{i:04d}"\nordered_on = 2026-09-28\ntracking = "6A{i:011d}"\ncarrier = "laposte"\n'
              for i in range(n)]
    return "\n".join(parts)


async def simulate(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    clock = [START]
    world = World(now=lambda: clock[0])
    scripts = {f"6A{i:011d}": journey(rng, START + timedelta(days=rng.uniform(0, 10))) for i in range(args.orders)}
    for number, steps in scripts.items():
        world.add(number, *steps)
    tick = timedelta(minutes=args.tick)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as d, FakeCarrierServer(world, [LaPosteApi(world)]) as server:
        cfg = Path(d) / "config.toml"
        cfg.write_text(watchlist(args.orders, server.url("laposte")))
        app = load_app(cfg, lambda: clock[0])
        store = Store(Path(d) / "state.sqlite3")
        lookups = 0
        seen: dict[str, list[tuple[datetime, Status | None]]] = defaultdict(lambda: [(START, None)])
        while clock[0] < START + timedelta(days=args.days):
            polled = (await run_cycle(app, store, clock[0], None)).polled
            lookups += polled
            if polled:
                for (_c, number), st in store.shipment_states().items():
                    if seen[number][-1][1] is not st.status:
                        seen[number].append((clock[0], st.status))
            clock[0] += tick
        await app.aclose()
        requests = len(server.requests("laposte"))
        queued = defaultdict(list)
        for order_id, kind, first_at in store.db.execute("SELECT order_id, kind, first_at FROM notified"):
            queued[(order_id, kind)].append(datetime.fromisoformat(first_at))
        store.close()
    alert_kind = {Stage.CUSTOMS_HELD: "exception", Stage.RETURNING: "exception", Stage.DELIVERY_FAILED: "exception",
                  Stage.DELIVERED: "delivered"}
    delays: dict[Stage, list[tuple[float, float]]] = defaultdict(list)  # (delay, cadence in force) in hours
    missed = 0
    for i, (number, steps) in enumerate(scripts.items()):
        for s in steps:
            if s.stage in alert_kind and s.at < START + timedelta(days=args.days) - INTERVAL:
                times = [q for q in queued.get((f"S{i:04d}", alert_kind[s.stage]), []) if q >= s.at]
                known = [st for t, st in seen[number] if t <= s.at][-1]
                cadence = INTERVAL.total_seconds() / 3600 * CADENCE.get(known, 1.0)
                if times:
                    delays[s.stage].append(((min(times) - s.at).total_seconds() / 3600, cadence))
                else:
                    missed += 1
    per_day = lookups / args.orders / args.days
    print(f"{args.orders} orders, {args.days} simulated days, {args.tick} min ticks, "
          f"{time.perf_counter() - wall:.0f} s of wall time")
    print(f"lookups per order per day: {per_day:.2f} (target <= 6); "
          f"HTTP requests per order per day: {requests / args.orders / args.days:.2f} (10 numbers per request)")
    ok = per_day <= 6 and not missed
    for stage, pairs in sorted(delays.items()):
        late = sum(d > c + args.tick / 60 for d, c in pairs)
        ok &= not late
        values = [d for d, _ in pairs]
        print(f"  {stage.value:<16} n={len(values):<4} delay median {statistics.median(values):.2f} h, "
              f"max {max(values):.2f} h; over the cadence in force (+{args.tick} min tick): {late}")
    print(f"alerts never queued: {missed}")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, default=500)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--tick", type=int, default=15, help="minutes between cycles (the daemon: 5)")
    ap.add_argument("--seed", type=int, default=7)
    return asyncio.run(simulate(ap.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
