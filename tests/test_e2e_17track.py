"""`tracking-monitor check` end to end against the fake 17TRACK server: what a user sees, and the quota kept."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e_kit import check as run_check
from tests.fakes.server import FakeCarrierServer, Response, Stage, Step, World
from tests.fakes.track17 import Track17Api

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
HELD, STALLED, DELIVERED = "RB123456785CN", "RR111111115CN", "LP00000000000001"


def days_ago(n: float) -> datetime:
    return T0 - timedelta(days=n)


@pytest.fixture
def world() -> World:
    world = World(now=lambda: T0)
    world.add(HELD,
              Step(days_ago(10), Stage.PICKED_UP, "Posted", "Shenzhen", "CN"),
              Step(days_ago(8), Stage.EXPORTED, "Departed from the office of exchange", "Guangzhou", "CN"),
              Step(days_ago(3), Stage.ARRIVED, "Arrived in the destination country", "Roissy", "FR"),
              Step(days_ago(1), Stage.CUSTOMS_HELD, "Held by customs: invoice required", "Roissy", "FR"))
    world.add(STALLED,
              Step(days_ago(12), Stage.PICKED_UP, "Posted", "Yiwu", "CN"),
              Step(days_ago(9), Stage.IN_TRANSIT, "Sorted at the processing centre", "Hangzhou", "CN"))
    world.add(DELIVERED,
              Step(days_ago(9), Stage.PICKED_UP, "Posted", "Shenzhen", "CN"),
              Step(days_ago(2), Stage.OUT_FOR_DELIVERY, "Out for delivery", "Paris", "FR"),
              Step(days_ago(1), Stage.DELIVERED, "Delivered to the recipient", "Paris", "FR"))
    return world


@pytest.fixture
def server(world: World) -> Iterator[tuple[FakeCarrierServer, Track17Api]]:
    api = Track17Api(world)
    with FakeCarrierServer(world, [api]) as srv:
        yield srv, api


@pytest.fixture
def config(tmp_path: Path, server: tuple[FakeCarrierServer, Track17Api]) -> Path:
    # With 17track the only configured carrier, "auto" sends an S10 and a Cainiao LP number to it.
    orders = "\n".join(f'''
[[orders]]
id = "{order}"
shop = "AliExpress"
ordered_on = 2026-11-05
tracking = "{number}"
carrier = "{carrier}"
''' for order, number, carrier in (("A-HELD", HELD, "auto"), ("A-STALLED", STALLED, "17track"),
                                   ("A-DELIVERED", DELIVERED, "auto")))
    path = tmp_path / "watchlist.toml"
    path.write_text(f'''
[monitor]
timezone = "Europe/Paris"
poll_interval = "6h"

[carriers.17track]
api_key = "test-key"
base_url = "{server[0].url("17track")}"
{orders}''', encoding="utf-8")
    return path


def check(config: Path, at: datetime) -> list[dict[str, str]]:
    """Run `check --now AT --json` as a user would and return the findings it printed."""
    done = run_check(config, config.parent, at.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    assert "test-key" not in done.stdout + done.stderr
    return json.loads(done.stdout)


def registered(srv: FakeCarrierServer) -> list[str]:
    """Every number sent to /register, repeats included."""
    return sorted(i["number"] for r in srv.requests("17track") if r.path == "/register" for i in json.loads(r.body))


def test_check_against_17track(config: Path, server: tuple[FakeCarrierServer, Track17Api]) -> None:
    """First check: a customs hold alert, a stalled parcel, a delivery; a second check prints []; each number is
    registered once; a 429 with Retry-After keeps the next checks away until that time, then polling resumes."""
    srv, api = server
    first = check(config, T0)
    assert {(f["order"], f["kind"]) for f in first} == {
        ("A-HELD", "exception"), ("A-STALLED", "stalled"), ("A-DELIVERED", "delivered")}
    held = next(f for f in first if f["kind"] == "exception")
    assert held["severity"] == "urgent" and "Held by customs" in held["message"]
    assert check(config, T0) == []
    assert registered(srv) == sorted([HELD, STALLED, DELIVERED]) == sorted(api.registrations)

    srv.force("17track", Response(429, {"code": 429, "message": "Too Many Requests"}, {"Retry-After": "7200"}))
    before = len(srv.requests("17track"))
    check(config, T0 + timedelta(hours=7))  # the held and stalled parcels are due again: answered 429
    assert [r.status for r in srv.requests("17track")[before:]] == [429]  # no retry within the call either
    check(config, T0 + timedelta(hours=8, minutes=59))  # still within Retry-After, read back from the state
    assert len(srv.requests("17track")) == before + 1
    check(config, T0 + timedelta(hours=9, minutes=1))
    resumed = srv.requests("17track")[before + 1:]
    assert [(r.path, r.status) for r in resumed] == [("/gettrackinfo", 200)]
    assert {i["number"] for i in json.loads(resumed[0].body)} == {HELD, STALLED}  # delivered: no longer asked
    assert len(registered(srv)) == 3
