"""Words a person reads: counts with the right plural (en, fr), and deadlines at midnight that cannot be read a day
late, in alerts, in the report and in the logs."""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from carriers.model import EventKind, Status, TrackingEvent
from monitor.daemon import Daemon
from monitor.messages import counted, days
from monitor.rules import History, Kind, Policy, evaluate
from monitor.watchlist import Order, Rules
from tests.helpers import invoke, write_watchlist

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("n", "noun", "lang", "text"),
    [
        (0, "order", "en", "0 orders"), (1, "order", "en", "1 order"), (2, "order", "en", "2 orders"),
        (0, "order", "fr", "0 commande"), (1, "order", "fr", "1 commande"), (2, "order", "fr", "2 commandes"),
        (0, "day", "en", "0 days"), (1, "day", "en", "1 day"), (2, "day", "en", "2 days"),
        (0, "day", "fr", "0 jour"), (1, "day", "fr", "1 jour"), (2, "day", "fr", "2 jours"),
        (-1, "day", "fr", "-1 jour"), (-2, "day", "en", "-2 days"),
        (0, "alert", "en", "0 alerts"), (1, "alert", "fr", "1 alerte"), (2, "alert", "fr", "2 alertes"),
        (1, "hour", "en", "1 hour"), (0, "hour", "fr", "0 heure"), (2, "hour", "fr", "2 heures"),
        (1, "tracking number", "en", "1 tracking number"), (2, "tracking number", "fr", "2 numéros de suivi"),
        (1, "other", "en", "1 more"), (1, "other", "fr", "1 autre"), (2, "other", "fr", "2 autres"),
    ],
)
def test_counts_agree_with_their_noun(n: int, noun: str, lang: str, text: str) -> None:
    """English takes the singular for 1 only; French for 0 and 1 too."""
    assert counted(n, noun, lang) == text


def test_days_is_a_count_of_days() -> None:
    """Every "N days" of the alerts and the report goes through the same rule."""
    assert [days(n, "fr") for n in (0, 1, 2)] == ["0 jour", "1 jour", "2 jours"]


@pytest.mark.parametrize(("orders", "says"), [(1, "ok, 1 order"), (2, "ok, 2 orders")])
def test_validate_counts_orders(tmp_path: Path, orders: int, says: str) -> None:
    """`validate` on a one-order watchlist does not say "1 orders"."""
    text = '[monitor]\nstate_dir = "STATE"\n' + "".join(
        f'[[orders]]\nid = "A{i}"\nordered_on = 2026-11-01\n' for i in range(orders))
    result = invoke(write_watchlist(tmp_path, text), "validate")
    assert result.exit_code == 0 and result.stdout.rstrip().endswith(says)


async def test_daemon_start_log_counts_orders(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The daemon's first log line: "watching 1 order", not "watching 1 orders"."""
    caplog.set_level(logging.INFO, logger="tracking_monitor")
    cfg = write_watchlist(tmp_path, '[monitor]\nstate_dir = "STATE"\n[[orders]]\nid = "A"\nordered_on = 2026-11-01\n')
    daemon = Daemon(cfg, lambda: datetime(2026, 11, 21, 10, tzinfo=PARIS))
    stop = asyncio.Event()
    stop.set()  # serve() says what it watches, then stops at once
    assert await daemon.serve(stop) == 0
    assert f"watching 1 order from {cfg}" in caplog.text


# ---------------------------------------------------------------- a deadline at midnight

def _order(**fields: Any) -> Order:
    return Order.model_validate({"id": "A1", "shop": "Shop", "item": "Lamp", "ordered_on": "2026-10-01", **fields})


def _export(when: str) -> History:
    event = TrackingEvent(datetime.fromisoformat(when).replace(tzinfo=PARIS), EventKind.EXPORTED, "Departed",
                          source="demo")
    return History(carrier="demo", status=Status.IN_TRANSIT, events=(event,))


ENDS_3_DEC = {"protection_ends": "2026-12-03"}  # protection is over at 3 Dec 00:00: 2 Dec is the last day
DEADLINES = [
    # (order, history, now, kind, the words in English, in French)
    (_order(**ENDS_3_DEC), History(), "2026-12-01T10:00", Kind.PROTECTION_ENDING,
     "can be opened only before 3 Dec 2026 at 00:00", "ne peut être ouvert qu'avant le 3 déc. 2026 à 00:00"),
    (_order(delivered_on="2026-11-20", refund_window="13d"), History(), "2026-12-01T10:00", Kind.REFUND_WINDOW_ENDING,
     "can be requested only before 3 Dec 2026 at 00:00", "ne peut être demandé qu'avant le 3 déc. 2026 à 00:00"),
    (_order(delivered_on="2026-11-30", refund_window="3d"), History(), "2026-12-01T10:00", Kind.DELIVERED,
     "can still be requested before 3 Dec 2026 at 00:00", "peut encore être demandé avant le 3 déc. 2026 à 00:00"),
    (_order(promised_by="2026-11-20", **ENDS_3_DEC), History(), "2026-11-25T10:00", Kind.PROMISED_PASSED,
     "(deadline: before 3 Dec 2026 at 00:00)", "(échéance : avant le 3 déc. 2026 à 00:00)"),
    (_order(tracking="DEMO-EXPORT", **ENDS_3_DEC), _export("2026-11-20T08:00"), "2026-11-25T10:00",
     Kind.DARK_AFTER_EXPORT, "buyer protection (to use before 3 Dec 2026 at 00:00)",
     "la protection acheteur (à utiliser avant le 3 déc. 2026 à 00:00)"),
]


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize(("order", "hist", "now", "kind", "en", "fr"), DEADLINES)
def test_a_midnight_deadline_is_not_read_a_day_late(order: Order, hist: History, now: str, kind: Kind, en: str,
                                                    fr: str, lang: str) -> None:
    """Each alert that names a deadline ending at 3 Dec 00:00 says "before 3 Dec … 00:00", never a bare "3 Dec"."""
    found = evaluate(order, hist, datetime.fromisoformat(now).replace(tzinfo=PARIS),
                     Policy(order.rules(Rules()), PARIS, lang))
    (f,) = [f for f in found if f.kind is kind]
    text = f"{f.title}\n{f.message}\n{f.action}"
    assert (en if lang == "en" else fr) in text
    assert not re.search(r"3 (Dec|déc\.) 2026(?! (at|à) 00:00)", text), text


@pytest.mark.parametrize(("lang", "fact", "checklist"), [
    ("en", "| Buyer protection ends | 2026-12-03 00:00 |", "Buyer protection ends on 3 Dec 2026 at 00:00"),
    ("fr", "| Fin de la protection acheteur | 2026-12-03 00:00 |", "se termine le 3 déc. 2026 à 00:00"),
])
def test_the_report_gives_the_deadline_its_time(tmp_path: Path, lang: str, fact: str, checklist: str) -> None:
    """The report's facts table and the buyer's notes (on stderr) say 00:00, so the mediator and the buyer read the
    same instant."""
    cfg = write_watchlist(tmp_path, '[monitor]\ntimezone = "Europe/Paris"\nstate_dir = "STATE"\n[[orders]]\nid = "A1"\n'
                                    'ordered_on = 2026-10-01\nprotection_ends = 2026-12-03\n')
    result = invoke(cfg, "report", "A1", "--now", "2026-11-25T10:00", "--language", lang)
    assert result.exit_code == 0 and fact in result.stdout and checklist in result.stderr
    assert not re.search(r"3 (Dec|déc\.) 2026(?! (at|à) 00:00)|2026-12-03(?! 00:00)", result.stdout + result.stderr)


def test_archived_report_says_when_the_last_window_closed(tmp_path: Path) -> None:
    """An order archived by itself: the report says its windows closed at 00:00 of that day."""
    cfg = write_watchlist(tmp_path, '[monitor]\ntimezone = "Europe/Paris"\nstate_dir = "STATE"\n[[orders]]\nid = "A1"\n'
                                    'ordered_on = 2026-10-01\ndelivered_on = 2026-11-01\nrefund_window = "15d"\n')
    out = invoke(cfg, "report", "A1", "--now", "2026-12-11").stdout
    assert "every window closed on 16 Nov 2026 at 00:00" in out
