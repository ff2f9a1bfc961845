"""End to end: `tracking-monitor check` against the fake DHL API, as a user runs it."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e_kit import at, check
from tests.fakes.dhl import DhlApi
from tests.fakes.server import FakeCarrierServer, Stage, Step, World

HELD, DELIVERED = "00340434292135100124", "00340434292135100131"
OTHERS = ["00340434292135100148", "00340434292135100155", "00340434292135100162"]


def world(clock: list[datetime]) -> World:
    w = World(now=lambda: clock[0])
    w.add(HELD,
          Step(at("2026-11-15T17:00"), Stage.INFO_RECEIVED, "label", "", "DE"),
          Step(at("2026-11-16T09:30"), Stage.PICKED_UP, "posted", "Bonn", "DE"),
          Step(at("2026-11-18T05:41"), Stage.ARRIVED, "in France", "Paris", "FR"),
          Step(at("2026-11-19T08:20"), Stage.CUSTOMS_HELD, "held", "Paris", "FR"))
    w.add(DELIVERED,
          Step(at("2026-11-16T10:00"), Stage.PICKED_UP, "posted", "Bonn", "DE"),
          Step(at("2026-11-20T06:05"), Stage.OUT_FOR_DELIVERY, "out", "Lyon", "FR"),
          Step(at("2026-11-20T10:42"), Stage.DELIVERED, "delivered", "Lyon", "FR"))
    for n in OTHERS:
        w.add(n, Step(at("2026-11-17T12:00"), Stage.PICKED_UP, "posted", "Bonn", "DE"))
    return w


def watchlist(tmp_path: Path, server: FakeCarrierServer, numbers: list[str], extra: str = "",
              key: str = "test-key") -> Path:
    orders = "".join(
        f'[[orders]]\nid = "O{i}"\nshop = "eBay"\nitem = "Item {i}"\nordered_on = 2026-11-14\n'
        f'tracking = "{n}"\ncarrier = "dhl"\nprotection_ends = 2027-01-31\n\n'
        for i, n in enumerate(numbers, 1))
    path = tmp_path / "watchlist.toml"
    path.write_text(
        '[monitor]\ntimezone = "Europe/Paris"\nlanguage = "en"\npoll_interval = "6h"\n\n'
        f'[carriers.dhl]\napi_key = "{key}"\nbase_url = "{server.url("dhl")}"\n{extra}\n' + orders,
        encoding="utf-8")
    return path


@pytest.fixture
def clock() -> list[datetime]:
    return [at("2026-11-21T09:00")]


def test_exception_and_delivery_reach_the_user_once(tmp_path: Path, clock: list[datetime]) -> None:
    w = world(clock)
    with FakeCarrierServer(w, [DhlApi(w)]) as server:
        path = watchlist(tmp_path, server, [HELD, DELIVERED])
        first = check(path, tmp_path, "2026-11-21T10:00", "--json")
        assert first.returncode == 0, first.stderr
        found = {(f["order"], f["kind"]) for f in json.loads(first.stdout)}
        assert ("O1", "exception") in found
        assert ("O2", "delivered") in found
        held = next(f for f in json.loads(first.stdout) if f["kind"] == "exception")
        assert "held by customs" in held["message"]
        assert len(server.requests("dhl")) == 2  # one number a call
        assert all(r.headers["dhl-api-key"] == "test-key" for r in server.requests("dhl"))

        again = check(path, tmp_path, "2026-11-21T10:05", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == []
        assert len(server.requests("dhl")) == 2  # not due yet; the delivered parcel is never asked again


def test_a_wrong_key_is_said_once_and_not_retried(tmp_path: Path, clock: list[datetime]) -> None:
    w = world(clock)
    with FakeCarrierServer(w, [DhlApi(w)]) as server:
        path = watchlist(tmp_path, server, [HELD, DELIVERED, *OTHERS], key="wrong-key")
        run = check(path, tmp_path, "2026-11-21T10:00", "--json")
        assert run.returncode == 0, run.stderr
        assert [r.status for r in server.requests("dhl")] == [401]  # one call: no retry, no other number tried
        lines = [line for line in run.stderr.splitlines() if "dhl" in line and " ERROR " in line]
        assert len(lines) == 1, run.stderr
        assert "credentials rejected (HTTP 401)" in lines[0] and "[carriers.dhl]" in lines[0]
        rejected = [f for f in json.loads(run.stdout) if f["kind"] == "carrier_rejected"]
        assert len(rejected) == 1 and "dhl refused the credentials" in rejected[0]["message"]
        assert "wrong-key" not in run.stderr + run.stdout


def test_daily_budget_stops_requests_until_the_next_utc_day(tmp_path: Path, clock: list[datetime]) -> None:
    numbers = [HELD, DELIVERED, *OTHERS]
    w = world(clock)
    with FakeCarrierServer(w, [DhlApi(w)]) as server:
        path = watchlist(tmp_path, server, numbers, extra="daily_budget = 3")
        first = check(path, tmp_path, "2026-11-21T10:00", "--json")
        assert first.returncode == 0, first.stderr
        asked_first_day = [r.query["trackingNumber"][0] for r in server.requests("dhl")]
        assert len(asked_first_day) == 3

        evening = check(path, tmp_path, "2026-11-21T23:30", "--json")  # 22:30 UTC: same UTC day
        assert evening.returncode == 0, evening.stderr
        assert len(server.requests("dhl")) == 3

        clock[0] = at("2026-11-22T00:30")
        next_day = check(path, tmp_path, "2026-11-22T01:30", "--json")  # 00:30 UTC: a new quota
        assert next_day.returncode == 0, next_day.stderr
        asked = [r.query["trackingNumber"][0] for r in server.requests("dhl")]
        assert len(asked) == 6
        assert set(numbers) - set(asked_first_day) <= set(asked[3:])  # the two left over are asked first thing
