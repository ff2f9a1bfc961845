"""`status` as a table, and archived orders: by the buyer, or by themselves once their last window closed."""
from __future__ import annotations

import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from carriers.model import EventKind, Status, TrackingEvent
from monitor.lifecycle import archived, closes_at, polling_over
from monitor.rules import History
from monitor.table import countdown, deadline_style, status_table
from monitor.watchlist import Order
from tests.helpers import invoke

PARIS = ZoneInfo("Europe/Paris")


def order(**fields: Any) -> Order:
    return Order.model_validate({"id": "A1", "ordered_on": "2026-10-01", **fields})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


DELIVERED = History("demo", Status.DELIVERED, (
    TrackingEvent(at("2026-11-10T12:00"), EventKind.DELIVERED, "Delivered", source="demo"),))


@pytest.mark.parametrize(
    ("fields", "hist", "closes"),
    [
        ({"delivered_on": "2026-11-08", "refund_window": "15d"}, History(), "2026-11-23T00:00"),
        ({}, DELIVERED, "2026-11-24T12:00"),  # delivered by tracking: the 14 days to inspect it
        ({"protection_ends": "2026-12-01"}, DELIVERED, "2026-12-01T00:00"),  # "not as described" until then
        ({"protection_ends": "2026-12-01"}, History(), "2026-12-16T00:00"),  # 15 days of refunds after completion
        ({"protection_ends": "2026-12-01", "refund_window": "20d"}, History(), "2026-12-21T00:00"),
        ({"protection_ends": "2026-12-01", "dispute": {"opened_on": "2026-12-01", "wait_until": "2026-12-20"}},
         History(), "2026-12-21T00:00"),  # the whole mediator's day
        ({"protection_ends": "2026-12-01", "dispute": {"opened_on": "2026-12-01"}}, History(), None),
        ({}, History(), None),  # no deadline known: watched until the buyer archives it
        ({"delivered_on": "2027-11-08"}, History(), "2027-11-22T00:00"),  # a wrong year keeps it open
    ],
)
def test_when_the_last_window_closes(fields: dict[str, Any], hist: History, closes: str | None) -> None:
    """The last window of each kind of order."""
    got = closes_at(order(**fields), hist, PARIS)
    assert got == (at(closes) if closes else None)


@pytest.mark.parametrize(
    ("fields", "now", "by_user", "polled"),
    [
        ({"protection_ends": "2026-12-01", "tracking": "DEMO-TRANSIT"}, "2026-12-15T23:59", None, True),
        ({"protection_ends": "2026-12-01", "tracking": "DEMO-TRANSIT"}, "2026-12-16T00:00", False, False),
        ({"archived": True, "tracking": "DEMO-TRANSIT"}, "2026-10-02T00:00", True, False),
    ],
)
def test_archived_orders_are_not_polled(fields: dict[str, Any], now: str, by_user: bool | None, polled: bool) -> None:
    """Archived from the moment the window closes, or at once when the buyer says so; then no more polling."""
    o = order(**fields)
    state = archived(o, History(), at(now), PARIS)
    assert (state.by_user if state else None) == by_user
    assert polling_over(o, at(now), PARIS) is not polled


@pytest.mark.parametrize(
    ("days", "moot", "text", "style"),
    [(None, False, "-", "dim"), (0, False, "today", "bold red"), (3, False, "in 3d", "bold red"),
     (-2, False, "2d ago", "bold red"), (7, False, "in 7d", "yellow"), (8, False, "in 8d", ""),
     (2, True, "in 2d", "dim")],
)
def test_countdowns(days: int | None, moot: bool, text: str, style: str) -> None:
    """Red within three days or once passed, yellow within a week, dim when the parcel is here."""
    assert countdown(days) == text and deadline_style(days, moot) == style


WATCHLIST = """\
[monitor]
timezone = "Europe/Paris"
state_dir = "STATE"

[[orders]]
id = "OPEN-1"
shop = "AliExpress"
item = "USB-C hub"
ordered_on = 2026-10-05
tracking = "DEMO-TRANSIT"
protection_ends = 2026-11-24

[[orders]]
id = "SHELVED-2"
ordered_on = 2026-10-05
tracking = "DEMO-STALLED"
archived = true

[[orders]]
id = "CLOSED-3"
ordered_on = 2026-08-01
tracking = "DEMO-EXPORT"
protection_ends = 2026-10-15
"""


@pytest.fixture
def watchlist(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(WATCHLIST.replace("STATE", str(tmp_path / "state")), encoding="utf-8")
    return path


def test_archived_orders_are_quiet_and_hidden(watchlist: Path) -> None:
    """No alert and no poll for archived orders; status hides them and says so; --all shows them, dimmed."""
    found = json.loads(invoke(watchlist, "check", "--record", "--now", "2026-11-21T10:00", "--json").stdout)
    assert {f["order"] for f in found} == {"OPEN-1"}
    rows = json.loads(invoke(watchlist, "status", "--now", "2026-11-21T10:00", "--json").stdout)
    assert [r["order"] for r in rows] == ["OPEN-1"] and rows[0]["status"] == "in_transit"
    every = json.loads(invoke(watchlist, "status", "--now", "2026-11-21T10:00", "--json", "--all").stdout)
    assert [(r["order"], r["archived"], r["status"]) for r in every] == [
        ("OPEN-1", None, "in_transit"), ("SHELVED-2", "by_user", "pending"),
        ("CLOSED-3", "windows_closed", "pending")]
    assert every[2]["archived_since"] == "2026-10-30T00:00:00+01:00"
    table = invoke(watchlist, "status", "--now", "2026-11-21T10:00").stdout
    assert "OPEN-1" in table and "SHELVED-2" not in table and "2 archived orders not shown (--all shows them)" in table
    table = invoke(watchlist, "status", "--now", "2026-11-21T10:00", "--all").stdout
    assert "archived (closed 2026-10-30)" in table and "SHELVED-2" in table


def test_table_colours_by_urgency(watchlist: Path) -> None:
    """An urgent order's id and finding are bold red; its protection countdown (3 days) too."""
    rows = json.loads(invoke(watchlist, "status", "--now", "2026-11-21T10:00", "--json", "--all").stdout)
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="standard", width=160).print(status_table(rows, 0))
    text = out.getvalue()
    assert "\x1b[1;31mOPEN-1" in text and re.search(r"\x1b\[1;31m *in 3d", text)
    assert "\x1b[1;31murgent: Buyer protection ends in 3 days\x1b[0m" in text
    assert "\x1b[2m" in text  # the archived rows are dimmed
