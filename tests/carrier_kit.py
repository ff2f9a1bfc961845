"""Builders shared by the per-carrier tests: an adapter wired for respx, fixtures, and a sleep recorder."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from carriers.http import HttpCarrier
from monitor.cycle import CycleResult, run_cycle
from monitor.store import Store
from tests.fakes.server import FakeApi, FakeCarrierServer, Logged
from tests.helpers import make_app

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def fixture(carrier: str, name: str) -> Any:
    """A real-shaped payload from tests/fixtures/<carrier>/<name>.json."""
    return json.loads((FIXTURES / carrier / f"{name}.json").read_text(encoding="utf-8"))


def build(cls: type[HttpCarrier], base_url: str = "https://carrier.test", **settings: Any) -> HttpCarrier:
    """An adapter with test credentials, a fixed clock and sleeps recorded instead of slept."""
    fields = cls.Settings.model_fields
    creds = {k: v for k, v in {"api_key": "test-key", "client_id": "test-id", "client_secret": "test-secret"}.items()
             if k in fields}
    carrier = cls(cls.Settings.model_validate({**creds, "base_url": base_url, **settings}), clock=lambda: NOW)
    carrier.slept = []  # type: ignore[attr-defined]

    async def record(seconds: float) -> None:
        carrier.slept.append(seconds)  # type: ignore[attr-defined]

    carrier.sleep = record
    return carrier


async def cycles_with_restarts(tmp_path: Path, cls: type[HttpCarrier], api: FakeApi,
                               cycles: int = 3) -> tuple[list[CycleResult], list[Logged]]:
    """One cycle per restart (a fresh adapter, the same state) over every parcel of the API's world, 7 h apart.

    Returns each cycle's result and the server's request log (an adapter that forgets what it registered or
    created shows as a repeat in the log).
    """
    orders = [{"id": f"O{i}", "ordered_on": "2026-11-01", "tracking": n, "carrier": cls.id}
              for i, n in enumerate(api.world.parcels)]
    results = []
    with FakeCarrierServer(api.world, [api]) as server:
        for cycle in range(cycles):
            carrier = build(cls, base_url=server.url(cls.id))
            app = make_app({"monitor": {"timezone": "Europe/Paris", "poll_interval": "6h"}, "orders": orders}, carrier)
            store = Store.in_dir(tmp_path)
            results.append(await run_cycle(app, store, NOW + timedelta(hours=7 * cycle), None))
            store.close()
        return results, server.requests(cls.id)
