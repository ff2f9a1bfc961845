"""`tracking-monitor check` end to end against the fake FedEx API: what a user sees, with OAuth credentials."""
from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e_kit import check as run_check
from tests.fakes.fedex import FedexApi
from tests.fakes.server import FakeCarrierServer, Stage, Step, World
from tests.fakes.ups import UpsApi

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HELD, DELIVERED, UNKNOWN = "776094337676", "399368623212", "123456789012"
SECRET = "fedex-e2e-secret-5f1c"


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    """A fake FedEx (and UPS) with one parcel held in customs and one delivered; a third number is unknown."""
    world = World(now=lambda: NOW)
    world.add(HELD, Step(NOW - 6 * DAY, Stage.PICKED_UP, "Picked up", "Shenzhen", "CN"),
              Step(NOW - 5 * DAY, Stage.EXPORTED, "Left FedEx origin facility", "Guangzhou", "CN"),
              Step(NOW - 2 * DAY, Stage.CUSTOMS_HELD, "Clearance delay - Import", "Memphis", "US"))
    world.add(DELIVERED, Step(NOW - 4 * DAY, Stage.PICKED_UP, "Picked up", "Paris", "FR"),
              Step(NOW - DAY - timedelta(hours=3), Stage.OUT_FOR_DELIVERY, "On FedEx vehicle", "Lyon", "FR"),
              Step(NOW - DAY, Stage.DELIVERED, "Delivered", "Lyon", "FR"))
    with FakeCarrierServer(world, [FedexApi(world, client_secret=SECRET), UpsApi(world)]) as srv:
        yield srv


def watchlist(tmp_path: Path, carriers: str) -> Path:
    """Three FedEx orders and the given [carriers] tables."""
    orders = "".join(f"""
[[orders]]
id = "{oid}"
shop = "AliExpress"
item = "{item}"
ordered_on = 2026-11-01
tracking = "{number}"
tracking_since = 2026-11-10
carrier = "{carrier}"
protection_ends = 2026-12-20
""" for oid, item, number, carrier in (("A-1", "Lamp", HELD, "fedex"), ("A-2", "Cable", DELIVERED, "fedex"),
                                     ("A-3", "Case", UNKNOWN, "fedex")))
    path = tmp_path / "watchlist.toml"
    path.write_text(f'[monitor]\ntimezone = "Europe/Paris"\nlanguage = "en"\n{carriers}\n{orders}', encoding="utf-8")
    return path


def check(tmp_path: Path, config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `check --now ... --json` as a user would, with its own state directory."""
    return run_check(config, tmp_path, NOW.isoformat(), "--json", extra_env=env)


def kinds(result: subprocess.CompletedProcess[str]) -> dict[str, set[str]]:
    """Finding kinds by order from the JSON output."""
    assert result.returncode == 0, result.stderr
    found: dict[str, set[str]] = {}
    for f in json.loads(result.stdout):
        found.setdefault(f["order"], set()).add(f["kind"])
    return found


def fedex_table(server: FakeCarrierServer, secret: str | None = SECRET) -> str:
    """A [carriers.fedex] table, with or without credentials."""
    creds = f'client_id = "test-id"\nclient_secret = "{secret}"\n' if secret else ""
    return f'[carriers.fedex]\nbase_url = "{server.url("fedex")}"\n{creds}'


def test_check_reports_what_fedex_says(tmp_path: Path, server: FakeCarrierServer) -> None:
    result = check(tmp_path, watchlist(tmp_path, fedex_table(server)))
    found = kinds(result)
    assert "exception" in found["A-1"]  # held in customs: the buyer must act
    assert "delivered" in found["A-2"]
    assert "tracking_unknown" in found["A-3"]  # FedEx does not know it, 11 days after it was given
    held = next(f for f in json.loads(result.stdout) if f["order"] == "A-1" and f["kind"] == "exception")
    assert "Clearance delay" in held["message"]
    sent = server.requests("fedex")
    assert [(r.method, r.path) for r in sent] == [("POST", "/oauth/token"), ("POST", "/track/v1/trackingnumbers")]
    assert len(json.loads(sent[1].body)["trackingInfo"]) == 3  # one batched call for the three orders
    assert SECRET not in result.stdout + result.stderr


def test_credentials_from_the_environment(tmp_path: Path, server: FakeCarrierServer) -> None:
    config = watchlist(tmp_path, fedex_table(server, secret=None))
    result = check(tmp_path, config, TRACKING_MONITOR_FEDEX_CLIENT_ID="test-id",
                   TRACKING_MONITOR_FEDEX_CLIENT_SECRET=SECRET)
    assert "exception" in kinds(result)["A-1"]
    assert [r.path for r in server.requests("fedex")][0] == "/oauth/token"


def test_a_carrier_without_credentials_is_skipped_with_one_line(tmp_path: Path, server: FakeCarrierServer) -> None:
    ups = f'[carriers.ups]\nbase_url = "{server.url("ups")}"\n'
    config = watchlist(tmp_path, fedex_table(server) + ups)
    config.write_text(config.read_text(encoding="utf-8") + """
[[orders]]
id = "U-1"
shop = "eBay"
item = "Boots"
ordered_on = 2026-11-01
tracking = "1Z999AA10123456784"
carrier = "ups"
""", encoding="utf-8")
    result = check(tmp_path, config)
    assert "exception" in kinds(result)["A-1"]  # FedEx orders still work
    logged = [line for line in result.stderr.splitlines() if "ups" in line.lower() and " WARNING " in line]
    assert len(logged) == 1 and "skipped" in logged[0] and "TRACKING_MONITOR_UPS_CLIENT_ID" in logged[0], result.stderr
    assert kinds(result)["U-1"] == {"untracked"}  # and the buyer is told once, with what to add
    assert server.requests("ups") == []


def test_a_wrong_secret_names_fedex_and_never_prints_the_secret(tmp_path: Path, server: FakeCarrierServer) -> None:
    wrong = "not-the-secret-9a7e"
    result = check(tmp_path, watchlist(tmp_path, fedex_table(server, secret=wrong)))
    assert result.returncode == 0, result.stderr
    assert "fedex" in result.stderr and "rejected" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert [r.path for r in server.requests("fedex")] == ["/oauth/token"]  # refused once, not retried
