"""Builders shared by the per-carrier tests: an adapter wired for respx, fixtures, and a sleep recorder."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carriers.http import HttpCarrier

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
