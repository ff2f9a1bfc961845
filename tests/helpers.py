"""Shared builders for tests: a fake carrier driven by the test, and an App without a file."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from carriers.base import Carrier, CarrierSettings, FetchResult
from carriers.errors import CarrierError, NotFoundError
from carriers.model import Shipment
from monitor.cli import cli
from monitor.config import App, Destination
from monitor.watchlist import Watchlist

UTC = UTC


class ScriptedCarrier(Carrier):
    """A carrier whose answers the test sets in `answers`; it records every call."""

    id = "fake"
    label = "Fake"
    max_batch = 3
    needs_credentials = False

    def __init__(self) -> None:
        super().__init__(CarrierSettings(), clock=lambda: datetime.now(UTC))
        self.answers: dict[str, Shipment | CarrierError] = {}
        self.calls: list[list[str]] = []

    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """Answer from `answers`; unknown numbers are not found."""
        self.calls.append(list(numbers))
        return {n: self.answers.get(n, NotFoundError("unknown", carrier=self.id, number=n)) for n in numbers}


def make_app(data: dict[str, Any], carrier: Carrier | None = None, destinations: list[Destination] | None = None,
             path: Path = Path("watchlist.toml")) -> App:
    """An App from a watchlist dict, with the given carrier as its only source; the terminal when no destination."""
    wl = Watchlist.model_validate(data)
    carriers = {carrier.id: carrier} if carrier else {}
    dests = destinations or [Destination.for_url(None)]
    return App(path, wl, carriers, {}, {d.id: d for d in dests})


# A watchlist with one order and its state under the test's directory (STATE is replaced by write_watchlist).
ONE_ORDER = """\
[monitor]
timezone = "UTC"
state_dir = "STATE"

[[orders]]
id = "A"
ordered_on = 2026-11-01
"""


def write_watchlist(directory: Path, text: str = ONE_ORDER) -> Path:
    """`directory`/config.toml with this text, its state_dir "STATE" made `directory`/state."""
    path = directory / "config.toml"
    path.write_text(text.replace("STATE", str(directory / "state")), encoding="utf-8")
    return path


def invoke(config: Path, *args: str):  # type: ignore[no-untyped-def]
    """`tracking-monitor --config CONFIG ARGS…` in this process."""
    return CliRunner().invoke(cli, ["--config", str(config), *args])
