"""Benchmark: one `tracking-monitor check` over 10,000 orders against the local fake carrier server.

The fake answers every request after 50 ms (rate limits lifted); the floor is latency x requests /
allowed concurrency, the target a cycle within 2x of it and a peak RSS of the checking process under 200 MB.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.laposte import MAX_IDS, LaPosteApi  # noqa: E402
from tests.fakes.server import FakeCarrierServer, Stage, Step, World  # noqa: E402

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
STAGES = [Stage.INFO_RECEIVED, Stage.PICKED_UP, Stage.EXPORTED, Stage.ARRIVED, Stage.CUSTOMS, Stage.IN_TRANSIT]


def world(n: int) -> World:
    """n parcels, each with 3-6 events over the last days (none final, so all are polled)."""
    w = World(now=lambda: NOW)
    for i in range(n):
        steps = [Step(NOW - timedelta(days=6 - k, hours=i % 11), STAGES[k], f"step {k}", "Paris", "FR")
                 for k in range(3 + i % 4)]
        w.add(f"6A{i:011d}", *steps)
    return w


def watchlist(n: int, base_url: str, concurrency: int) -> str:
    """n orders on La Poste numbers, rate limit lifted, `concurrency` requests in flight."""
    parts = ['[monitor]\ntimezone = "Europe/Paris"\npoll_interval = "6h"\n',
             f'[carriers.laposte]\napi_key = "test-key"\nbase_url = "{base_url}"\nrate = 100000\n'
             f"concurrency = {concurrency}\n"]
    for i in range(n):
        parts.append(f'[[orders]]\nid = "P{i:06d}"\nordered_on = 2026-11-10\ntracking = "6A{i:011d}"\n'
                     f'carrier = "laposte"\nprotection_ends = 2027-01-20\n')
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--latency", type=float, default=0.050)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    parcels = world(args.orders)
    with tempfile.TemporaryDirectory() as d, FakeCarrierServer(parcels, [LaPosteApi(parcels)], args.latency) as server:
        tmp = Path(d)
        cfg = tmp / "config.toml"
        cfg.write_text(watchlist(args.orders, server.url("laposte"), args.concurrency))
        env = {**os.environ, "STATE_DIRECTORY": str(tmp / "state")}
        cmd = [sys.executable, "-m", "monitor", "--config", str(cfg), "check", "--now", NOW.isoformat()]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        requests = len(server.requests("laposte"))
        wrong = [r for r in server.requests("laposte") if r.status != 200]
    expected = -(-args.orders // MAX_IDS)
    floor = args.latency * requests / args.concurrency
    print(f"{args.orders} orders, {requests} requests (expected {expected}, {len(wrong)} not 200), "
          f"{args.latency * 1000:.0f} ms latency, concurrency {args.concurrency}, peak in flight {server.peak_in_flight}")
    print(f"cycle {elapsed:.2f} s, floor {floor:.2f} s, ratio {elapsed / floor:.2f} (target <= 2.0); "
          f"peak RSS of the check process {rss_mb:.0f} MB (target < 200 MB)")
    return 0 if requests == expected and not wrong and elapsed <= 2 * floor and rss_mb < 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
