"""Never silent: a hostile value in the watchlist, on the command line or from a carrier is refused in one line
(`file:line: field: what was expected`, exit 2) or shown harmlessly; it never crashes a cycle, never echoes a
secret, and never reaches the terminal as an escape sequence. What `validate` accepts, a cycle computes with."""
from __future__ import annotations

import io
import re
import typing
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from rich.console import Console

from carriers.model import EventKind, Shipment, Status, TrackingEvent
from monitor.config import Destination
from monitor.cycle import run_cycle
from monitor.notify import Notifier, print_alert
from monitor.store import Store
from monitor.table import status_table
from monitor.watchlist import (
    FIRST_DAY,
    LAST_DAY,
    Dispute,
    MonitorSection,
    NotifyDestination,
    NotifySection,
    Order,
    Rules,
    load_watchlist,
    shifted,
)
from tests.helpers import UTC, ScriptedCarrier, invoke, make_app
from tests.test_watchlist_errors import wl_isolated_env  # noqa: F401  (autouse: a state dir per test, no env leaks)

WINDOW = f"between {FIRST_DAY} and {LAST_DAY}"


# ---------------------------------------------------------------- an otherwise valid watchlist of two orders

# Each table of the file and the keys it needs; a poisoned key is set in (or replaces one of) these.
SECTIONS: dict[str, tuple[str, type[BaseModel], dict[str, str]]] = {
    # section: (header line, model, required keys)
    "monitor": ("[monitor]", MonitorSection, {"timezone": '"Europe/Paris"'}),
    "notify": ("[notify]", NotifySection, {}),
    "notify.destinations": ("[[notify.destinations]]", NotifyDestination,
                            {"name": '"phone"', "url": '"ntfy://ntfy.sh/hostile-test"'}),
    "rules": ("[rules]", Rules, {}),
    "orders": ("[[orders]]", Order, {"id": '"B2"', "ordered_on": "2026-11-10", "tracking": '"DEMO-TRANSIT"'}),
    "orders.dispute": ("[orders.dispute]", Dispute, {"opened_on": "2026-11-20"}),
}
FIRST_ORDER = '[[orders]]\nid = "A1"\nordered_on = 2026-11-10\n'


def watchlist(section: str, key: str, value: str) -> tuple[str, int, str]:
    """The two-order watchlist with `key = value` in `section`: (its text, the key's line, the key's field path)."""
    lines: list[str] = []
    line = 0
    for name, (header, _, keys) in SECTIONS.items():
        if name == "orders":
            lines += FIRST_ORDER.splitlines()
        lines.append(header)
        for k, v in ({**keys, key: value} if name == section else keys).items():
            lines.append(f"{k} = {v}")
            line = len(lines) if name == section and k == key else line
    index = {"orders": "orders[1]", "orders.dispute": "orders[1].dispute", "notify.destinations": "notify.destinations[0]"}
    return "\n".join(lines) + "\n", line, f"{index.get(section, section)}.{key}"


def _holds(annotation: object, kind: type) -> bool:
    """Whether a field's type is, or contains, `kind` (date | None, list[timedelta], Annotated[...])."""
    return annotation is kind or any(_holds(a, kind) for a in typing.get_args(annotation))


def fields_holding(kind: type) -> list[tuple[str, str]]:
    """(section, key) of every field of the watchlist that holds this type: found in the models, so a field
    added later is poisoned too."""
    return [(section, name) for section, (_, model, _) in SECTIONS.items()
            for name, f in model.model_fields.items() if _holds(f.annotation, kind)]


DATE_FIELDS = fields_holding(date)
DURATION_FIELDS = fields_holding(timedelta)


def test_every_date_and_duration_field_is_poisoned() -> None:
    """The models are read right: every date field and every duration field named in the issue is in the table."""
    dates = {f"{s}.{k}" for s, k in DATE_FIELDS}
    assert dates >= {"monitor.shift_dates_from", "orders.ordered_on", "orders.tracking_since", "orders.promised_by",
                     "orders.protection_ends", "orders.delivered_on", "orders.seller_contacted_on",
                     "orders.dispute.opened_on", "orders.dispute.wait_until"}
    durations = {f"{s}.{k}" for s, k in DURATION_FIELDS}
    rule_keys = [k for k, f in Rules.model_fields.items() if _holds(f.annotation, timedelta)]
    assert len(rule_keys) == 11  # pickup_hold included
    assert durations >= {"monitor.poll_interval", "notify.expire_after", "notify.repeat_urgent",
                         "notify.repeat_urgent_within", "notify.send_timeout", "orders.refund_window",
                         *(f"rules.{k}" for k in rule_keys), *(f"orders.{k}" for k in rule_keys)}


DATE_POISON = ["1999-12-31", "1900-01-01", "2100-01-01", "9999-12-31", "0001-01-01", '"9999-12-31"',
               "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2100-01-01T00:00:00"]
DURATION_POISON = ['"3651d"', '"87601h"', '"522w"', '"3650d1s"', '"9999999999d"', '"' + "9" * 5000 + 'd"']
_LINE = re.compile(r"^error: (?P<path>.+?):(?P<line>\d+)(?::\d+)?: (?P<rest>.*)$")


def assert_one_line(result: Any, path: Path, line: int | None, *expect: str) -> str:
    """Exit 2, nothing on stdout, one plain line on stderr at path:line, with the expected words; returns it."""
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert result.exit_code == 2, output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert len(lines[0]) < 400, lines[0][:400]  # a long value is cut, not repeated in full
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in lines[0]), repr(lines[0])
    m = _LINE.match(lines[0]) if line else None
    assert m or not line, f"no file:line in {lines[0]!r}"
    if m:
        assert m["path"] == str(path) and int(m["line"]) == line, lines[0]
    for text in expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert "expected" in lines[0] or "did you mean" in lines[0], lines[0]
    return lines[0]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchlist.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", DATE_POISON)
@pytest.mark.parametrize(("section", "key"), DATE_FIELDS, ids=[f"{s}.{k}" for s, k in DATE_FIELDS])
def test_a_date_outside_the_window_is_refused(tmp_path: Path, section: str, key: str, value: str) -> None:
    """Every date field, given a date a cycle cannot compute with, fails validation in one located line."""
    text, line, field = watchlist(section, key, value)
    path = _write(tmp_path, text)
    day_only = not _holds(SECTIONS[section][1].model_fields[key].annotation, datetime)
    # A day-only field refuses a time of day before looking at the date; a naive midnight is that day.
    says = "without a time" if day_only and re.search(r"T.*[+-]\d\d:\d\d$", value) else WINDOW
    assert_one_line(invoke(path, "validate"), path, line, f"{field}: ", says)


@pytest.mark.parametrize("value", DURATION_POISON)
@pytest.mark.parametrize(("section", "key"), DURATION_FIELDS, ids=[f"{s}.{k}" for s, k in DURATION_FIELDS])
def test_a_duration_over_ten_years_is_refused(tmp_path: Path, section: str, key: str, value: str) -> None:
    """Every duration field (a protection_warn step too), given more than 10 years, fails in one located line."""
    is_list = key == "protection_warn"
    text, line, field = watchlist(section, key, f'["7d", {value}]' if is_list else value)
    path = _write(tmp_path, text)
    assert_one_line(invoke(path, "validate"), path, line, f"{field}{'[1]' if is_list else ''}: ", 'at most "3650d"')


def test_the_base_watchlist_is_valid(tmp_path: Path) -> None:
    """The poisoned cases fail because of the poison: the same file with a harmless value validates."""
    path = _write(tmp_path, watchlist("orders", "promised_by", "2026-12-01")[0])
    result = invoke(path, "validate")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- what validate accepts, a cycle computes with

def _extremes(day: date, edge: str, shift_from: date | None, zone: str) -> str:
    """Every date at one end of the window, every duration at its maximum, in a zone far from UTC."""
    shift = f"shift_dates_from = {shift_from}\n" if shift_from else ""
    rules = "\n".join(f'{k} = "3650d"' for k, f in Rules.model_fields.items()
                      if _holds(f.annotation, timedelta) and k != "protection_warn")
    return (f'[monitor]\ntimezone = "{zone}"\npoll_interval = "3650d"\n{shift}'
            '[notify]\nexpire_after = "3650d"\nrepeat_urgent = "3650d"\nrepeat_urgent_within = "3650d"\n'
            f'[rules]\n{rules}\nprotection_warn = ["3650d", "1d"]\n'
            f'[[orders]]\nid = "A1"\nordered_on = {edge}\ntracking = "DEMO-TRANSIT"\npromised_by = {day}\n'
            f'protection_ends = {day}\ntracking_since = {day}\nseller_contacted_on = {day}\nrefund_window = "3650d"\n'
            f'[orders.dispute]\nopened_on = {day}\nwait_until = {day}\n'
            f'[[orders]]\nid = "B2"\nordered_on = {day}\ndelivered_on = {edge}\nrefund_window = "3650d"\n'
            f'long_wait_after = "3650d"\nprotection_ends = {day}\n'
            '[[orders]]\nid = "C3"\nordered_on = 2026-11-10\ntracking = "DEMO-STALLED"\n')


LATEST = (LAST_DAY, f"{LAST_DAY}T23:59:59-23:59")
EARLIEST = (FIRST_DAY, f"{FIRST_DAY}T00:00:00+23:59")


@pytest.mark.parametrize("text", [
    pytest.param(_extremes(*LATEST, None, "Pacific/Kiritimati"), id="last-day"),
    pytest.param(_extremes(*EARLIEST, None, "Etc/GMT+12"), id="first-day"),
    pytest.param(_extremes(*LATEST, FIRST_DAY, "Pacific/Kiritimati"), id="last-day-shifted-a-century-on"),
    pytest.param(_extremes(*EARLIEST, LAST_DAY, "Etc/GMT+12"), id="first-day-shifted-a-century-back"),
])
@pytest.mark.parametrize("now", [f"{FIRST_DAY}", f"{LAST_DAY}T23:59", "2026-11-21T10:00"])
def test_the_extremes_validate_accepts_run_a_cycle(tmp_path: Path, text: str, now: str) -> None:
    """Dates at both ends of the window, 10-year durations and a shift across the whole window: every command
    that computes with them runs to the end."""
    path = _write(tmp_path, text)
    assert invoke(path, "validate").exit_code == 0
    for args in (["check", "--dry-run"], ["check"], ["status"], ["status", "--json", "--all"], ["report", "B2"]):
        result = invoke(path, *args, "--now", now)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
        assert result.exit_code == 0, (args, result.output)


@pytest.mark.parametrize("today", [date(1970, 1, 1), date(1, 1, 1), date(9999, 12, 31), LAST_DAY])
def test_shifting_never_leaves_the_calendar(tmp_path: Path, today: date) -> None:
    """shift_dates_from far from a wrong clock: the dates move by at most the window's width, never overflow."""
    wl = load_watchlist(_write(tmp_path, _extremes(LAST_DAY, str(LAST_DAY), FIRST_DAY, "UTC")), ["demo"])
    moved = shifted(wl, today)
    assert moved.orders[0].protection_ends == LAST_DAY + (min(max(today, FIRST_DAY), LAST_DAY) - FIRST_DAY)


# ---------------------------------------------------------------- hostile files: one line each, never a traceback

ORDER = '[[orders]]\nid = "A1"\nordered_on = 2026-11-10\n'  # lines 1-3


def hostile(case_id: str, text: str, line: int, *expect: str):  # type: ignore[no-untyped-def]
    return pytest.param(text, line, expect, id=case_id)


HOSTILE = [
    hostile("lists-nested-5000-deep", "x = " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than 20 levels"),
    hostile("tables-nested-3000-deep", ORDER + "item = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", 4,
            "nested more than 20 levels"),
    hostile("nested-deep-but-parseable", '[carriers.demo]\nx = ' + "[" * 30 + "]" * 30 + "\n", 2,
            "nested more than 20 levels"),
    hostile("timezone-100000-characters", '[monitor]\ntimezone = "' + "a" * 100_000 + '"\n', 2,
            "monitor.timezone: unknown time zone", "..."),
    hostile("timezone-a-folder", '[monitor]\ntimezone = "Europe"\n', 2, 'unknown time zone "Europe"'),
    hostile("timezone-nul", '[monitor]\ntimezone = "Europe/\\u0000Paris"\n', 2, "unknown time zone", "\\u0000"),
    hostile("id-5000-digit-integer", '[[orders]]\nid = ' + "7" * 5000 + "\nordered_on = 2026-11-10\n", 2,
            "more than 4300 digits", "order number in quotes"),
    hostile("id-150-digit-integer", '[[orders]]\nid = ' + "7" * 150 + "\nordered_on = 2026-11-10\n", 2,
            "orders[0].id: is 150 characters long", "at most 100"),
    hostile("id-101-characters", '[[orders]]\nid = "' + "X" * 101 + '"\nordered_on = 2026-11-10\n', 2,
            "orders[0].id: is 101 characters long"),
    hostile("id-with-escape", '[[orders]]\nid = "A\\u001b[2J1"\nordered_on = 2026-11-10\n', 2,
            "orders[0].id: has the control or invisible character U+001B", "\\u001b"),
    hostile("id-with-newline", '[[orders]]\nid = "A\\n1"\nordered_on = 2026-11-10\n', 2, "U+000A"),
    hostile("id-with-bidi-override", '[[orders]]\nid = "A\\u202e1"\nordered_on = 2026-11-10\n', 2, "U+202E"),
    hostile("id-with-zero-width-space", '[[orders]]\nid = "A\\u200b1"\nordered_on = 2026-11-10\n', 2, "U+200B"),
    hostile("id-differs-in-case", '[[orders]]\nid = "ABC123"\nordered_on = 2026-11-10\n'
            '[[orders]]\nid = "abc123"\nordered_on = 2026-11-10\n', 5,
            'orders[1].id: "abc123" is already the id of orders[0] ("ABC123"'),
    hostile("id-differs-in-case-and-space", '[[orders]]\nid = "ABC123"\nordered_on = 2026-11-10\n'
            '[[orders]]\nid = " abc123 "\nordered_on = 2026-11-10\n', 5, "is already the id of orders[0]"),
    hostile("id-differs-in-width", '[[orders]]\nid = "ABC123"\nordered_on = 2026-11-10\n'
            '[[orders]]\nid = "ＡＢＣ１２３"\nordered_on = 2026-11-10\n', 5, "is already the id of orders[0]"),
    hostile("stalled-after-overflow", '[rules]\nstalled_after = "9999999999d"\n', 2,
            'rules.stalled_after: expected a duration of at most "3650d"'),
    hostile("shift-dates-from-9999", '[monitor]\nshift_dates_from = 9999-12-31\n' + ORDER, 2,
            "monitor.shift_dates_from: ", WINDOW),
    hostile("state-dir-with-nul", '[monitor]\nstate_dir = "/tmp/\\u0000state"\n', 2,
            "monitor.state_dir: has the control character U+0000"),
    hostile("unknown-key-with-bidi", '[monitor]\n"a\\u202eb" = 1\n', 2, 'unknown key "a\\u202eb"'),
]


@pytest.mark.parametrize(("text", "line", "expect"), HOSTILE)
def test_hostile_file(tmp_path: Path, text: str, line: int, expect: tuple[str, ...]) -> None:
    """Each hostile file: exit 2 and one plain line naming file:line, for validate and for check alike."""
    path = _write(tmp_path, text)
    for args in (["validate"], ["check", "--dry-run"]):
        assert_one_line(invoke(path, *args), path, line, *expect)


@pytest.mark.parametrize("command", [["check", "--dry-run"], ["status"], ["report", "A1"]])
@pytest.mark.parametrize("now", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01T00:00",
                                 "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_now_outside_the_window(tmp_path: Path, command: list[str], now: str) -> None:
    """--now far from today: exit 2 and one line saying which dates it takes."""
    result = invoke(_write(tmp_path, ORDER), *command, "--now", now)
    assert_one_line(result, tmp_path, None, f"--now: expected a date {WINDOW}")


# ---------------------------------------------------------------- a syntax error never quotes a secret

SECRET = "SECRETbareKEY123"


@pytest.mark.parametrize("text", [
    pytest.param(f"[carriers.17track]\napi_key = {SECRET}\n", id="carrier-api-key"),
    pytest.param(f"[carriers.demo]\nenabled = {SECRET}\n", id="carrier-any-key"),
    pytest.param(f'[carriers.17track]\napi_key = "{SECRET}\n', id="carrier-unclosed-quote"),
    pytest.param(f"[notify]\nurls = ntfy://{SECRET}\n", id="notify-bare-url"),
    pytest.param(f"[notify]\nurls = [ntfy://ntfy.sh/{SECRET}]\n", id="notify-bare-url-in-list"),
    pytest.param(f"[notify]\nquiet_hours = {SECRET}\n", id="notify-any-key"),
    pytest.param(f'[[notify.destinations]]\nname = "phone"\nurl = tgram://{SECRET}/42\n', id="destination-url"),
    pytest.param(f"notify.urls = ntfy://{SECRET}\n", id="dotted-key"),
    pytest.param(f"[monitor]\ntoken = {SECRET}\n", id="token-key-anywhere"),
    pytest.param(f'[rules]\nstalled_after = "7d"\n[[orders]]\nid = "A1"\nshop = https://me.example/{SECRET}token\n',
                 id="url-with-token-in-an-order"),
    pytest.param(f'[monitor]\ntimezone = "https://me:{SECRET}@example.com"\n', id="url-with-password-as-zone"),
    pytest.param(f'{ORDER}carrier = "ntfy://me:{SECRET}@ntfy.sh"\n', id="url-with-password-as-carrier"),
])
def test_error_never_quotes_a_secret(tmp_path: Path, text: str) -> None:
    """A credential written without quotes, or a URL with credentials where it does not belong: the error names
    the line and the key, and the secret appears nowhere in the output."""
    path = _write(tmp_path, text)
    for args in (["validate"], ["check", "--dry-run"]):
        result = invoke(path, *args)
        assert SECRET.lower() not in (result.stdout + result.stderr).lower()  # a carrier id is lowercased
        assert_one_line(result, path, text[: text.index(SECRET)].count("\n") + 1)


# ---------------------------------------------------------------- carrier and watchlist text on the terminal

EVIL = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \x1b[2J\x9b31mred\u202eevil\x00"
MARKUP = "[bold red]x[/]"
# Whatever a terminal would act on: ESC, BEL, NUL, C1 controls, bidi overrides.
ACTS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_print_alert_shows_text_not_controls() -> None:
    """An alert's title and body keep their words and their lines, and lose every control."""
    out = io.StringIO()
    print_alert("urgent", f"Stalled: {EVIL}", f"Last event: {EVIL}\n\tline two", out)
    text = out.getvalue()
    assert not ACTS.search(text), repr(text)
    assert text == ("[URGENT] Stalled: click redevil\n"
                    "    Last event: click redevil\n"
                    "     line two\n\n")


@dataclass
class Row:
    """One status row; only the text fields matter here."""

    description: str = EVIL
    item: str = MARKUP

    def as_dict(self) -> dict[str, Any]:
        return {"order": "A1", "shop": "Shop", "item": self.item, "status": "in_transit", "archived": None,
                "archived_since": None, "last_event": {"description": self.description, "location": EVIL},
                "last_event_age_days": 1, "days_to_promised": 3, "days_to_protection_end": 10,
                "top_finding": {"kind": "stalled", "severity": "warning", "title": f"Stalled: {MARKUP} {EVIL}"}}


@pytest.mark.parametrize("colour", [True, False])
def test_status_table_shows_text_not_controls_or_markup(colour: bool) -> None:
    """Carrier text and the item in the table: no control reaches the terminal, and [brackets] stay text."""
    out = io.StringIO()
    Console(file=out, force_terminal=colour, color_system="standard" if colour else None, width=200).print(
        status_table([Row().as_dict()], 0))
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # rich's own colours, when it colours
    assert not ACTS.search(text), repr(text)
    assert f"Shop · {MARKUP}" in text and "click redevil" in text and f"Stalled: {MARKUP}" in text


async def test_a_cycle_prints_carrier_text_harmlessly(tmp_path: Path) -> None:
    """End to end: a carrier's hostile description and a hostile item reach the terminal alert as plain words."""
    carrier = ScriptedCarrier()
    t0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    carrier.answers["NUM0001"] = Shipment("NUM0001", "fake", Status.IN_TRANSIT, (
        TrackingEvent(t0 - timedelta(days=30), EventKind.IN_TRANSIT, EVIL, EVIL, "X", "fake"),))
    app = make_app({"monitor": {"timezone": "Europe/Paris"}, "orders": [
        {"id": "O1", "ordered_on": "2026-10-01", "tracking": "NUM0001", "carrier": "fake",
         "item": f"{MARKUP} \u202eLamp\x1b[5m"}]}, carrier, [Destination.for_url(None)])
    out = io.StringIO()
    store = Store.in_dir(tmp_path)
    try:
        result = await run_cycle(app, store, t0, Notifier.for_app(app, store, out))
    finally:
        store.close()
    text = out.getvalue()
    assert result.findings and "click redevil" in text and MARKUP in text, text
    assert not ACTS.search(text), repr(text)
