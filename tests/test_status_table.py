"""`status`: archived orders (by the buyer, or by themselves once their last window closed), and the output
fitted to the terminal, in words, in the watchlist's language."""
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
from rich.text import Text
from typer.testing import CliRunner

from carriers.model import EventKind, Status, TrackingEvent
from monitor.cli import cli
from monitor.lifecycle import STATUS_CODES, archived, closes_at, polling_over
from monitor.messages import STATUS_WORDS
from monitor.rules import History
from monitor.table import countdown, deadline_style, print_status, status_table
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
    assert "archived (closed 30 Oct 2026 at 00:00)" in table and "SHELVED-2" in table


def test_table_colours_by_urgency(watchlist: Path) -> None:
    """An urgent order's id and finding are bold red; its protection countdown (3 days) too."""
    rows = json.loads(invoke(watchlist, "status", "--now", "2026-11-21T10:00", "--json", "--all").stdout)
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="standard", width=160).print(status_table(rows, 0))
    text = out.getvalue()
    assert "\x1b[1;31mOPEN-1" in text and re.search(r"\x1b\[1;31m *in 3d", text)
    assert "\x1b[1;31murgent: Buyer protection ends in 3 days\x1b[0m" in text
    assert "\x1b[2m" in text  # the archived rows are dimmed


# ---------------------------------------------------------------- status fits the terminal, in words

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
NOW = "2026-11-21T10:00"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """The example watchlist in English and in French, each with its state after one check: (config, state)."""
    made = {}
    for lang in ("en", "fr"):
        where = tmp_path_factory.mktemp(f"example-{lang}")
        cfg = where / "config.toml"
        cfg.write_text(EXAMPLE.read_text(encoding="utf-8").replace('language = "en"', f'language = "{lang}"'),
                       encoding="utf-8")
        made[lang] = (cfg, where / "state")
        assert _status(made[lang], "check", "--now", NOW, "--json").exit_code == 0
    return made


def _status(example: tuple[Path, Path], *args: str, columns: int = 80):  # type: ignore[no-untyped-def]
    """The real CLI on a terminal of `columns` columns (COLUMNS, as a shell sets it)."""
    cfg, state = example
    return CliRunner().invoke(cli, ["--config", str(cfg), *(args or ("status", "--now", NOW))],
                              env={"COLUMNS": str(columns), "STATE_DIRECTORY": str(state)})


def _in_order(words: list[str], lines: list[str]) -> bool:
    """`words` appear whole and in this order when reading `lines` (wrapped text, other columns between)."""
    seen = iter(" ".join(lines).split())
    return all(any(w == s for s in seen) for w in words)


ORDERS = 14  # in config.example.toml


@pytest.mark.parametrize(
    ("columns", "lang", "most_lines"),
    [
        (60, "en", 2 * ORDERS), (60, "fr", 3 * ORDERS),  # compact: two lines an order (French wraps a few needs)
        (80, "en", 2 * ORDERS),
        (100, "en", 2 * ORDERS + 2), (100, "fr", 3 * ORDERS + 2),  # the table: header and rule, two lines an order
        (120, "en", 2 * ORDERS + 2), (120, "fr", 2 * ORDERS + 2 + 4),
        (200, "en", ORDERS + 2 + 1),  # room for each order on one line (two for the handover number)
    ],
)
def test_status_fits_the_terminal(example: dict[str, tuple[Path, Path]], columns: int, lang: str,
                                  most_lines: int) -> None:
    """Every order shows its whole id, its status in words and its most urgent need, within the width."""
    rows = json.loads(_status(example[lang], "status", "--now", NOW, "--json").stdout)
    assert len(rows) == ORDERS and all(r["status"] in STATUS_CODES for r in rows)  # --json keeps the codes
    result = _status(example[lang], columns=columns)
    lines = result.stdout.rstrip("\n").split("\n")
    assert result.exit_code == 0 and len(lines) <= most_lines, result.stdout
    assert max(Text(line.rstrip()).cell_len for line in lines) <= columns, result.stdout
    starts = [next(i for i, line in enumerate(lines) if line.startswith(r["order"] + " ")) for r in rows]
    for r, start, end in zip(rows, starts, [*starts[1:], len(lines)], strict=True):
        block = lines[start:end]
        assert _in_order(STATUS_WORDS[lang][r["status"]].split(), block), (r["status"], block)
        top = r["top_finding"]
        if top:  # the need, every word of it: never cut
            label = " · ".join(p for p in (r["shop"], r["item"]) if p)
            assert _in_order(top["title"].removesuffix(f" ({label})").split(), block), (top["title"], block)
        else:
            assert _in_order(["ok" if lang == "en" else "rien"], block)
        assert "_" not in " ".join(block), block  # no raw code such as in_transit or not_found


@pytest.mark.parametrize("columns", [60, 100, 200])
def test_status_shows_the_destination_carriers_number(tmp_path: Path, columns: int) -> None:
    """A parcel handed over to the local carrier shows that carrier's number beside its status, in every form:
    the number the local counter and hotline know."""
    polled = (EXAMPLE, tmp_path / "state")
    assert _status(polled, "check", "--now", NOW, "--record", "--json").exit_code == 0  # the demo carrier asked
    lines = _status(polled, columns=columns).stdout.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("8181000000000013 "))
    assert _in_order(["in", "transit", "DEMO-LASTMILE"], lines[start:start + 2]), lines[start:start + 2]
    assert not any("DEMO-LASTMILE" in line for line in lines[:start] + lines[start + 2:])


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "urgent: Buyer protection ends in 3 days · before 24 Nov 2026 at 00:00"),
    ("fr", "urgent : La protection acheteur se termine dans 3 jours · avant le 24 nov. 2026 à 00:00"),
])
def test_status_gives_the_deadline_so_it_is_not_read_a_day_late(example: dict[str, tuple[Path, Path]], lang: str,
                                                                words: str) -> None:
    """With room on the line, the need says until when: "before 24 Nov … 00:00" for protection ending 24 Nov."""
    assert words in _status(example[lang], columns=96 if lang == "fr" else 80).stdout


@pytest.mark.parametrize(("hidden", "lang", "columns", "says"), [
    (1, "en", 60, "1 archived order not shown (--all shows them)"),
    (2, "en", 120, "2 archived orders not shown (--all shows them)"),
    (1, "fr", 60, "1 commande archivée hors de la liste (--all pour tout voir)"),
    (2, "fr", 120, "2 commandes archivées hors de la liste (--all pour tout voir)"),
])
def test_hidden_orders_are_counted_in_words(hidden: int, lang: str, columns: int, says: str) -> None:
    """The note under the orders agrees with its count, in both forms and both languages."""
    out = io.StringIO()
    print_status([], hidden, lang, console=Console(file=out, width=columns, force_terminal=True, no_color=True))
    assert says in out.getvalue()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_status_code_has_words(lang: str) -> None:
    """One table, code to words, in each language: every code tracking_state can give has its words."""
    assert set(STATUS_WORDS[lang]) == set(STATUS_CODES)


@pytest.mark.parametrize("columns", [100, 120, 200])
@pytest.mark.parametrize("oid", ["PO-211-12345678901234", "12-34567-89012", "113-1234567-1234567"])
def test_a_marketplace_order_id_stays_on_one_line(tmp_path: Path, oid: str, columns: int) -> None:
    """Temu, eBay and Amazon ids, longer than the order column's least, are shown whole on one line."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[monitor]\ntimezone = "Europe/Paris"\n\n[[orders]]\nid = "{oid}"\nshop = "Temu"\n'
                   'item = "Desk lamp"\nordered_on = 2026-11-01\n', encoding="utf-8")
    out = _status((cfg, tmp_path / "state"), "status", "--now", NOW, columns=columns)
    assert out.exit_code == 0 and re.search(rf"^{re.escape(oid)}\s", out.stdout, re.M), out.stdout
