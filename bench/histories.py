"""Benchmark of reading the state's histories for 100,000 orders: the first read, then the cycles after it.

Run `python bench/histories.py` (see bench/README.md). It reports figures; the issue sets no target for them.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

from rules import NOW, build  # bench/rules.py, next to this file: the same orders and histories

from carriers.model import EventKind, Shipment, Status, TrackingEvent
from monitor.store import PollOutcome, Store


def _rss_mib() -> float:
    """The process's current resident set, from /proc (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def main() -> int:
    """Build a state file as a daemon would have written it, then time store.histories."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--moved", type=int, default=1_000, help="numbers with one new event before the last read")
    args = ap.parse_args()

    orders, histories = build(args.orders)
    wanted = [(o.id, "bench", o.tracking or "") for o in orders]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        writer = Store(path)
        seen = NOW.isoformat()
        rows = [("bench", o.tracking, e.key, e.time.astimezone(UTC).isoformat(), e.kind.value, e.code, e.description,
                 e.location, seen) for o in orders for e in histories[o.id].events]
        with writer.transaction() as db:
            db.executemany("INSERT INTO events(carrier, number, key, time, kind, code, description, location,"
                           " first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        print(f"state: {len(rows):,} events of {args.orders:,} orders, {path.stat().st_size / 2**20:.0f} MiB")
        del rows

        store = Store(path)
        before = _rss_mib()
        t = time.perf_counter()
        first = store.histories(wanted, NOW)
        cold = time.perf_counter() - t
        kept = _rss_mib() - before
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            again = store.histories(wanted, NOW)
            warm.append(time.perf_counter() - t)
        assert again == first

        # One cycle's news: `moved` numbers with one new scan each, written by the poll path.
        moved = [o for o in orders if o.tracking][: args.moved]
        later = NOW + timedelta(hours=1)
        results = {o.tracking: Shipment(o.tracking, "bench", Status.IN_TRANSIT,
                                        (TrackingEvent(later, EventKind.IN_TRANSIT, "Processed", "", "X", "bench"),))
                   for o in moved if o.tracking}
        writer.record_poll("bench", PollOutcome(results, dict.fromkeys(results)), later)
        t = time.perf_counter()
        news = store.histories(wanted, later)
        after_poll = time.perf_counter() - t
        # Each moved number's latest event is now the new one (what the rules read of it).
        assert all(news[o.id].events[-1].description == "Processed" for o in moved)
        writer.close()
        store.close()

    print(f"first read (start, or after a reload of the state): {cold:.2f} s; kept in memory: {kept:.0f} MiB")
    print(f"a cycle with no new event: {', '.join(f'{w:.2f}' for w in warm)} s")
    print(f"a cycle after {len(results):,} numbers got a new event: {after_poll:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
