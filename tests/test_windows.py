"""Protection windows by marketplace and payment (monitor/windows.py), as tables with an injected clock: every row
before, at and after its boundaries, in English and French, a typed date winning, and a watchlist's override."""
from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import ScriptedCarrier, invoke, make_app, write_watchlist
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_rules import PARIS, SEC, at, order
from test_rules_needed import NOW as NEEDED_NOW
from test_rules_needed import _event
from test_schema import as_json

from carriers.base import load_registry
from carriers.model import Status, TrackingEvent
from monitor.cycle import due_sources
from monitor.report import build, to_markdown
from monitor.rules import FUTURE_SLACK, Finding, History, Kind, Policy, Severity, evaluate, needed
from monitor.schema import watchlist_schema
from monitor.watchlist import Rules, load_watchlist
from monitor.windows import DEFAULT_TABLE, NAMES, WindowTable, table

# Each row of the shipped table: the order that opens it (placed 2026-06-01 in Paris), when it ends (local), and
# its name in English and in French, as the buyer reads it in the alert.
ROWS = [
    pytest.param("aliexpress_after_completion", {"shop": "AliExpress", "protection_ends": "2026-07-20"},
                 "2026-08-04", "AliExpress refund window after completion",
                 "Délai de remboursement AliExpress après clôture", id="aliexpress-15d-after-completion"),
    pytest.param("ebay_money_back", {"shop": "eBay", "promised_by": "2026-06-20"}, "2026-07-20",
                 "eBay Money Back Guarantee", "Garantie client eBay", id="ebay-30d-after-estimated-delivery"),
    pytest.param("amazon_a_to_z", {"shop": "AMAZON", "promised_by": "2026-06-25", "estimated_delivery": "2026-06-20"},
                 "2026-09-18", "Amazon A-to-z Guarantee", "Garantie A à Z d'Amazon",
                 id="amazon-90d-after-estimated-delivery"),
    pytest.param("temu_returns", {"shop": " temu "}, "2026-08-30", "Temu purchase protection",
                 "Protection des achats Temu", id="temu-90d-after-order"),
    pytest.param("paypal", {"paid_with": ["PayPal"]}, "2026-11-28", "PayPal Buyer Protection",
                 "Protection des achats PayPal", id="paypal-180d-after-payment"),
    pytest.param("card_chargeback", {"paid_with": ["card"], "promised_by": "2026-06-20"}, "2026-10-18",
                 "Card chargeback", "Rétrofacturation par carte", id="card-120d-after-estimated-delivery"),
    pytest.param("card_chargeback", {"paid_with": ["card", "marketplace"]}, "2026-09-29", "Card chargeback",
                 "Rétrofacturation par carte", id="card-120d-after-the-charge-without-a-date"),
]
# (how long before the end, step expected or "ended" or None, severity)
BOUNDARIES = [
    (timedelta(days=7) + SEC, None, None),
    (timedelta(days=7), "7d", Severity.WARNING),
    (timedelta(days=3) + SEC, "7d", Severity.WARNING),
    (timedelta(days=3), "3d", Severity.URGENT),
    (SEC, "1d", Severity.URGENT),
    (timedelta(0), "ended", Severity.URGENT),
]


def run(o: Any, now: datetime, lang: str = "en", windows: WindowTable = DEFAULT_TABLE, **rules: Any) -> list[Finding]:
    """Evaluate with the given window table; the holiday shift is off unless asked for, so boundaries are exact."""
    return evaluate(o, History(), now, Policy(o.rules(Rules(**{"holiday_shift": False, **rules})), PARIS, lang,
                                              windows))


def of_window(findings: list[Finding], name: str) -> list[Finding]:
    """The findings about one window."""
    return [f for f in findings if f.window == name]


@pytest.mark.parametrize(("before", "step", "severity"), BOUNDARIES)
@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize(("name", "fields", "ends", "title_en", "title_fr"), ROWS)
def test_every_row_at_its_boundaries(name: str, fields: dict[str, Any], ends: str, title_en: str, title_fr: str,
                                     lang: str, before: timedelta, step: str | None, severity: Severity | None) -> None:
    """Each window gets the protection_ending steps and then protection_ended, under its own name, with its end as
    `due`, the `window` key in --json, and the words saying the date is computed (or an estimate), and from what."""
    end = at(f"{ends} 00:00")
    found = of_window(run(order(**fields), end - before, lang), name)
    if step is None:
        assert found == []
        return
    (f,) = found
    title = title_fr if lang == "fr" else title_en
    assert f.title.startswith(title) and f.message.startswith(title)
    assert f.severity is severity and f.due == end
    assert f.as_json()["window"] == name and f.as_json()["due"] == end.isoformat()
    if step == "ended":
        assert f.kind is Kind.PROTECTION_ENDED and f.key == f"A1:protection_ended:{name}:{end.isoformat()}"
    else:
        assert f.kind is Kind.PROTECTION_ENDING and f.key == f"A1:protection_ending:{name}:{end.isoformat()}:{step}"
    words = {("en", False): "Computed: ", ("en", True): "An estimate, not a published limit: ",
             ("fr", False): "Date calculée : ", ("fr", True): "Une estimation, pas une limite publiée : "}
    assert words[lang, name == "card_chargeback"] in f.message


# A delivered order: the windows counted from the delivery warn once, refund_window_warn before they close.
AFTER_DELIVERY = [
    pytest.param("ebay_money_back", "eBay", "2026-07-10", "eBay Money Back Guarantee", "Garantie client eBay",
                 id="ebay-30d-after-delivery"),
    pytest.param("alibaba_trade_assurance", "Alibaba", "2026-07-10", "Alibaba Trade Assurance",
                 "Alibaba Trade Assurance", id="alibaba-30d-after-receipt"),
]


@pytest.mark.parametrize(("before", "fires"), [(timedelta(days=3) + SEC, False), (timedelta(days=3), True),
                                               (SEC, True), (timedelta(0), False)])
@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize(("name", "shop", "ends", "title_en", "title_fr"), AFTER_DELIVERY)
def test_windows_counted_from_the_delivery(name: str, shop: str, ends: str, title_en: str, title_fr: str, lang: str,
                                           before: timedelta, fires: bool) -> None:
    """Delivered on 10 Jun: eBay's guarantee and Trade Assurance run 30 days from the actual delivery."""
    end = at(f"{ends} 00:00")
    o = order(shop=shop, promised_by="2026-06-05", delivered_on="2026-06-10")
    found = of_window(run(o, end - before, lang), name)
    assert [f.kind for f in found] == ([Kind.REFUND_WINDOW_ENDING] if fires else [])
    if fires:
        assert found[0].title.startswith(title_fr if lang == "fr" else title_en) and found[0].due == end
        assert found[0].key == f"A1:refund_window_ending:{name}:{end.isoformat()}"


def test_windows_counted_from_the_delivery_keep_the_order_watched() -> None:
    """An eBay order delivered on 10 Jun is not archived before its guarantee's warning (the typed window: 14 days)."""
    o = order(shop="eBay", delivered_on="2026-06-10")
    assert of_window(evaluate(o, History(), at("2026-07-08 12:00"), Policy(Rules(), PARIS), skip_closed=True),
                     "ebay_money_back")


@pytest.mark.parametrize("shop", ["eBay", "Amazon", "Temu", "Alibaba"])
def test_a_typed_protection_ends_wins_over_the_marketplace_window(shop: str) -> None:
    """The buyer typed the marketplace's date: only that one is alerted, with the keys it always had, so alerts
    already sent under them are not sent again."""
    o = order(shop=shop, promised_by="2026-06-20", protection_ends="2026-08-10", delivered_on=None)
    for now, key in ((at("2026-08-03 00:00"), "A1:protection_ending:2026-08-10T00:00:00+02:00:7d"),
                     (at("2026-08-10 00:00"), "A1:protection_ended:2026-08-10T00:00:00+02:00")):
        found = [f for f in run(o, now) if f.kind in (Kind.PROTECTION_ENDING, Kind.PROTECTION_ENDED)]
        assert [(f.key, f.window) for f in found] == [(key, "protection_ends")]
    # A payment's window is not the marketplace's: the typed date does not replace it.
    paid = order(shop=shop, protection_ends="2026-08-10", paid_with=["paypal"])
    assert of_window(run(paid, at("2026-11-21 00:00")), "paypal")


def test_the_typed_date_of_aliexpress_starts_its_after_completion_window() -> None:
    """AliExpress's 15 days after completion are counted from the typed protection_ends, and move with it."""
    for typed, end, shown in (("2026-07-20", "2026-08-04", "20 Jul"), ("2026-07-30", "2026-08-14", "30 Jul")):
        (f,) = of_window(run(order(shop="AliExpress", protection_ends=typed), at(f"{end} 00:00") - SEC),
                         "aliexpress_after_completion")
        assert f.due == at(f"{end} 00:00")
        assert f"Computed: 15 days after the order's completion (protection_ends) ({shown} 2026)" in f.message


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "Buyer protection ended on 20 Jul 2026 at 00:00 and the parcel was not delivered. PayPal Buyer "
     "Protection is still open until 28 Nov 2026 at 00:00."),
    ("fr", "Reste possible : Protection des achats PayPal, jusqu'au 28 nov. 2026 à 00:00."),
])
def test_an_ended_window_names_the_next_one_still_open(lang: str, message: str) -> None:
    """Temu's protection (typed) has ended, the parcel is not here: PayPal's is still open, and the alert says so."""
    o = order(shop="Temu", protection_ends="2026-07-20", paid_with=["paypal"])
    (f,) = [f for f in run(o, at("2026-07-21 09:00"), lang) if f.kind is Kind.PROTECTION_ENDED]
    assert message in f.message


@pytest.mark.parametrize(("lang", "message", "action"), [
    ("en", "AliExpress refund window after completion ended on 4 Aug 2026 at 00:00 and the parcel was not "
     "delivered.", "Open a dispute in PayPal's Resolution Center"),
    ("fr", "PayPal, jusqu'au 28 nov. 2026 à 00:00.", "Ouvrez un litige dans le centre de résolution PayPal"),
])
def test_the_ended_alert_says_what_to_do_in_the_next_window(lang: str, message: str, action: str) -> None:
    """When AliExpress's last window closes, the action is the next window's: open a PayPal dispute."""
    o = order(shop="AliExpress", protection_ends="2026-07-20", paid_with=["paypal"])
    (f,) = of_window(run(o, at("2026-08-04 08:00"), lang), "aliexpress_after_completion")
    assert f.kind is Kind.PROTECTION_ENDED and message in f.message and f.action.startswith(action)


def test_a_window_not_open_yet_is_named_with_its_opening() -> None:
    """Amazon's A-to-z Guarantee opens 3 days after the estimated delivery: the alert says from when."""
    short = table({"card_chargeback": {"length": timedelta(days=1), "counted_from": ["ordered"]}})
    o = order(shop="Amazon", estimated_delivery="2026-06-20", paid_with=["card"])
    (f,) = of_window(run(o, at("2026-06-03 00:00"), windows=short), "card_chargeback")
    assert ("Amazon A-to-z Guarantee opens on 23 Jun 2026 and stays open until 18 Sep 2026 at 00:00." in f.message
            and f.action.startswith("Contact the seller and wait 48 hours"))


def test_no_other_window_left() -> None:
    """The last window closed: the alert says no other is known, never names one already over."""
    (f,) = of_window(run(order(shop="temu"), at("2026-09-01 00:00")), "temu_returns")
    assert f.action.startswith("No other protection window is known")


def test_the_holiday_shift_moves_a_window_warning_earlier() -> None:
    """PayPal's 180 days from 8 Apr 2026 end on 5 Oct, inside National Day week: the 7-day step comes 4 days early
    (1-4 Oct are off in China)."""
    o = order(ordered_on="2026-04-08", paid_with=["paypal"])
    assert not of_window(run(o, at("2026-09-24 00:00") - SEC, holiday_shift=True), "paypal")
    (f,) = of_window(run(o, at("2026-09-24 00:00"), holiday_shift=True), "paypal")
    assert f.key.endswith(":7d") and "Warned 4 days early: National Day" in f.message


@pytest.mark.parametrize("shop", ["", "Banggood", "AliExpress.com", "ebay uk"])
def test_an_unknown_shop_gets_no_marketplace_window(shop: str) -> None:
    """Only the five marketplaces are recognised; anything else keeps today's behaviour."""
    findings = run(order(shop=shop, promised_by="2026-06-20", protection_ends="2026-07-20"), at("2026-12-01 00:00"))
    assert {f.window for f in findings if f.window} == {"protection_ends"}


def test_an_order_without_a_known_end_stays_quiet() -> None:
    """Alibaba's Trade Assurance counts from the receipt: not received yet, so no date and no alert."""
    assert not [f for f in run(order(shop="Alibaba"), at("2027-06-01 00:00")) if f.window]


def test_an_open_payment_window_keeps_the_order_watched() -> None:
    """Protection ended long ago, but PayPal still covers the buyer: the order is not archived yet."""
    o = order(shop="AliExpress", protection_ends="2026-07-20", paid_with=["paypal"])
    found = evaluate(o, History(), at("2026-11-25 00:00"), Policy(Rules(), PARIS), skip_closed=True)
    assert of_window(found, "paypal")
    without = order(shop="AliExpress", protection_ends="2026-07-20")
    assert evaluate(without, History(), at("2026-11-25 00:00"), Policy(Rules(), PARIS), skip_closed=True) == []


# ---------------------------------------------------------------- the watchlist: overrides, status, report

OVERRIDES = """\
[monitor]
timezone = "Europe/Paris"
state_dir = "STATE"

[windows.paypal]
length = "90d"

[windows.temu_returns]
enabled = false

[windows.ebay_money_back]
counted_from = "ordered"
title = "eBay: garantie"

[[orders]]
id = "T1"
shop = "Temu"
ordered_on = 2026-06-01
paid_with = ["paypal"]

[[orders]]
id = "E1"
shop = "eBay"
ordered_on = 2026-06-01
promised_by = 2026-06-20
"""


def test_an_override_row_in_the_watchlist(tmp_path: Path) -> None:
    """PayPal shortened to 90 days, Temu's row switched off, eBay counted from the order: alerts and status follow,
    and the source says the figures are the buyer's own."""
    path = write_watchlist(tmp_path, OVERRIDES)
    result = invoke(path, "check", "--json", "--now", "2026-08-30T00:00:00+02:00")
    assert result.exit_code == 0, result.output
    found = {(f["order"], f["window"]): f for f in json.loads(result.stdout) if "window" in f}
    assert set(found) == {("T1", "paypal"), ("E1", "ebay_money_back")}
    assert found["T1", "paypal"]["kind"] == "protection_ended" and found["T1", "paypal"]["due"] == "2026-08-30T00:00:00+02:00"
    assert "Computed: 90 days after the order date (1 Jun 2026); source: [windows.paypal] in the watchlist." in (
        found["T1", "paypal"]["message"])
    assert found["E1", "ebay_money_back"]["message"].startswith("eBay: garantie ended on 1 Jul 2026")
    status = {row["order"]: row["windows"] for row in json.loads(invoke(path, "status", "--json", "--now",
                                                                        "2026-08-01T00:00:00+02:00").stdout)}
    assert [(w["window"], w["ends"]) for w in status["T1"]] == [("paypal", "2026-08-30T00:00:00+02:00")]
    assert status["E1"][0]["source"] == "[windows.ebay_money_back] in the watchlist"


@pytest.mark.parametrize(("lang", "row"), [
    ("en", "| PayPal Buyer Protection | 28 Nov 2026 at 00:00. Computed: 180 days after the order date (1 Jun 2026); "
           "source: PayPal buyer-protection FAQ (may vary by country). |"),
    ("fr", "| Rétrofacturation par carte | 29 sept. 2026 à 00:00. Une estimation, pas une limite publiée : 120 jours "
           "après la date de commande (1 juin 2026) ; source : "),
])
def test_report_lists_each_window_with_its_date_and_source(lang: str, row: str) -> None:
    """The evidence report's facts list the windows; the typed protection stays the one fact it always was."""
    o = order(shop="AliExpress", protection_ends="2026-07-20", paid_with=["paypal", "card"])
    r = build(o, History(), [], [], [], carrier="", polled=False, zone=PARIS, now=at("2026-07-01 00:00"), lang=lang)
    text = to_markdown(r)
    assert row in text
    assert [w["window"] for w in r.as_json()["summary"]["windows"]] == [
        "protection_ends", "aliexpress_after_completion", "paypal", "card_chargeback"]


def test_status_lists_typed_and_computed_windows(tmp_path: Path) -> None:
    """`status --json`: every window with its end and its source; an unknown end (not delivered yet) is null."""
    text = OVERRIDES.split("[windows.paypal]")[0] + (
        '[[orders]]\nid = "A1"\nshop = "Alibaba"\nordered_on = 2026-06-01\nprotection_ends = 2026-07-20\n'
        '[[orders]]\nid = "A2"\nshop = "alibaba"\nordered_on = 2026-06-01\n')
    rows = {r["order"]: r["windows"] for r in json.loads(invoke(write_watchlist(tmp_path, text), "status", "--json",
                                                                "--now", "2026-07-01T00:00:00+02:00").stdout)}
    assert rows["A1"] == [{"window": "protection_ends", "title": "Buyer protection", "opens": None,
                           "ends": "2026-07-20T00:00:00+02:00", "source": "protection_ends in the watchlist",
                           "computed": None, "estimate": False}]
    assert [(w["window"], w["ends"]) for w in rows["A2"]] == [("alibaba_trade_assurance", None)]


def test_the_table_holds_every_row_of_domain_md() -> None:
    """eBay, Amazon, Temu, Alibaba, AliExpress after completion, PayPal and the card (an estimate), each sourced."""
    assert set(NAMES) == {"aliexpress_after_completion", "ebay_money_back", "amazon_a_to_z", "temu_returns",
                          "alibaba_trade_assurance", "paypal", "card_chargeback"}
    assert all(w.source and w.action[0] and w.action[1] for w in DEFAULT_TABLE.rows)
    assert [w.name for w in DEFAULT_TABLE.rows if w.estimate] == ["card_chargeback"]


def test_a_watchlist_without_windows_uses_the_shipped_table(tmp_path: Path) -> None:
    """No [windows.…] table: the shipped rows, unchanged."""
    path = write_watchlist(tmp_path, OVERRIDES.split("[windows.paypal]")[0])
    assert load_watchlist(path).window_table() is DEFAULT_TABLE


WINDOWED = order(shop="eBay", promised_by="2026-06-20", paid_with=["paypal", "card"], tracking="LP00123456789CN")


@settings(max_examples=200, deadline=None)
@given(st.lists(_event, max_size=12), st.sampled_from(list(Status)), st.integers(0, 40 * 24))
def test_windows_need_no_other_events_than_rules_needed(events: list[TrackingEvent], status: Status,
                                                        later: int) -> None:
    """The windows read only the last delivery of a history, which rules.needed keeps: the same findings either way."""
    ordered = tuple(sorted(events, key=lambda e: e.time))
    kept = needed(ordered, NEEDED_NOW + FUTURE_SLACK)
    for now in (NEEDED_NOW, NEEDED_NOW + timedelta(hours=later)):
        seen = [[(f.kind, f.key, f.due, f.message) for f in evaluate(WINDOWED, History("demo", status, h), now,
                                                                      Policy(Rules(), PARIS))] for h in (kept, ordered)]
        assert seen[0] == seen[1]


@pytest.mark.parametrize(("override", "polled"), [
    pytest.param({}, False, id="shipped-paypal-180d-closed-on-28-nov"),
    pytest.param({"paypal": {"length": "400d"}}, True, id="override-paypal-400d-still-open"),
])
def test_polling_follows_the_overridden_windows(override: dict[str, Any], polled: bool) -> None:
    """The cycle asks the carrier while the watchlist's own windows keep the order open, not the shipped ones."""
    carrier = ScriptedCarrier()
    order_data = {"id": "A1", "shop": "AliExpress", "ordered_on": "2026-06-01", "protection_ends": "2026-07-20",
                  "paid_with": ["paypal"], "tracking": "NUM1", "carrier": "fake"}
    app = make_app({"monitor": {"timezone": "Europe/Paris"}, "windows": override, "orders": [order_data]}, carrier)
    assert ("NUM1" in due_sources(app, (), at("2026-12-15 00:00")).get("fake", {})) is polled


@pytest.mark.parametrize(("lang", "fields", "now", "text"), [
    ("en", {"paid_with": ["paypal"]}, "2026-11-25 00:00",
     "PayPal Buyer Protection is running out and the parcel is not delivered: use it before 28 Nov 2026 at 00:00."),
    ("fr", {"paid_with": ["paypal"]}, "2026-11-25 00:00", "Protection des achats PayPal arrive à sa fin et le colis "
     "n'est pas livré : à utiliser avant le 28 nov. 2026 à 00:00."),
    ("en", {"shop": "eBay", "delivered_on": "2026-06-10"}, "2026-07-08 00:00",
     "eBay Money Back Guarantee is running out: use it before 10 Jul 2026 at 00:00."),
    ("fr", {"shop": "eBay", "delivered_on": "2026-06-10"}, "2026-07-08 00:00",
     "Garantie client eBay arrive à sa fin : à utiliser avant le 10 juil. 2026 à 00:00."),
])
def test_a_window_warning_reads_as_a_sentence(lang: str, fields: dict[str, Any], now: str, text: str) -> None:
    """The last moment to act, in words that read: never "ends on before 28 Nov" nor "se termine le avant le"."""
    (f,) = [f for f in run(order(**fields), at(now), lang) if f.window and f.window != "protection_ends"]
    assert f.message.startswith(text)


@pytest.mark.parametrize(("lang", "shop", "paid_with", "action"), [
    ("en", "eBay", ["paypal"], "dispute at once. Open a dispute in PayPal's Resolution Center"),
    ("fr", "Temu", ["paypal"], "« non reçu ». Ouvrez un litige dans le centre de résolution PayPal"),
    ("en", "Amazon", [], "dispute at once. No other protection window is known for this order"),
    ("en", "AliExpress", [], "dispute at once. Ask for a refund on the completed order"),
    ("fr", "AliExpress", [], "« non reçu ». Demandez un remboursement sur la commande clôturée"),
])
def test_the_typed_protection_ended_says_what_the_next_window_asks(lang: str, shop: str, paid_with: list[str],
                                                                   action: str) -> None:
    """The typed date has passed: the action is the next open window's (AliExpress's 15 days only on AliExpress)."""
    o = order(shop=shop, protection_ends="2026-07-20", paid_with=paid_with)
    (f,) = [f for f in run(o, at("2026-07-21 09:00"), lang) if f.kind is Kind.PROTECTION_ENDED]
    assert action in f.action
    assert shop == "AliExpress" or "AliExpress" not in f.action


@pytest.mark.parametrize(("windows", "says"), [
    (DEFAULT_TABLE, "AliExpress still takes a refund request for 15 days after completion (until 4 Aug 2026 at 00:00"),
    (table({"aliexpress_after_completion": {"length": timedelta(days=30)}}),
     "AliExpress still takes a refund request for 30 days after completion (until 19 Aug 2026 at 00:00"),
    (table({"aliexpress_after_completion": {"enabled": False}}), None),
])
def test_the_report_notes_quote_the_same_table_as_the_alerts(windows: WindowTable, says: str | None) -> None:
    """The buyer's notes and the alerts read one table: an override of AliExpress's 15 days shows in both."""
    o = order(shop="AliExpress", protection_ends="2026-07-20")
    notes = build(o, History(), [], [], [], carrier="", polled=False, zone=PARIS, now=at("2026-07-25 00:00"),
                  lang="en", windows=windows).checklist()
    quoted = [n for n in notes if "after completion" in n]
    assert (quoted == []) if says is None else (len(quoted) == 1 and says in quoted[0]), notes


@pytest.mark.parametrize(("keys", "accepted"), [
    ('paid_with = ["PayPal", " card "]\n', True),
    ('[windows.paypal]\ncounted_from = "Ordered"\n', True),
    ('[windows.paypal]\ncounted_from = ["ordered", "ESTIMATED_DELIVERY"]\n', True),
    ('paid_with = ["bitcoin"]\n', False),
    ('paid_with = ["paypal card"]\n', False),
    ('[windows.paypal]\ncounted_from = ["delivered"]\n', False),
])
def test_the_schema_takes_what_validate_takes(tmp_path: Path, keys: str, accepted: bool) -> None:
    """Payment and anchor names in any case, one anchor for a list of one: a TOML editor flags exactly what
    `validate` refuses."""
    order_keys, _, windows = keys.partition("[windows.")
    text = f'[[orders]]\nid = "A"\nordered_on = 2026-11-01\n{order_keys}' + (f"[windows.{windows}" if windows else "")
    validator = Draft202012Validator(watchlist_schema(load_registry()))
    assert (not list(validator.iter_errors(as_json(tomllib.loads(text))))) is accepted
    path = tmp_path / "w.toml"
    path.write_text(f'[monitor]\ntimezone = "UTC"\nstate_dir = "{tmp_path}"\n{text}', encoding="utf-8")
    assert (invoke(path, "validate").exit_code == 0) is accepted


@pytest.mark.parametrize(("override", "error"), [
    ('length = "0d"', 'w.toml:9: windows.paypal.length: expected a duration longer than zero'),
    ('title = " "', "w.toml:9: windows.paypal.title: expected some text, got an empty one"),
    ('action = ""', "w.toml:9: windows.paypal.action: expected some text, got an empty one"),
    ('length = "abc"', 'w.toml:9: windows.paypal.length: expected a duration like "7d"'),
    ('counted_from = ["delivered"]', 'w.toml:9: windows.paypal.counted_from[0]: expected "ordered", "delivery"'),
])
def test_a_bad_override_is_named_by_line_and_field(tmp_path: Path, override: str, error: str) -> None:
    """An override that would give alerts with no name, or a window of no length, is refused in one line."""
    path = tmp_path / "w.toml"
    path.write_text(f'[monitor]\ntimezone = "UTC"\nstate_dir = "{tmp_path}"\n[[orders]]\nid = "A"\n'
                    f'ordered_on = 2026-11-01\npaid_with = ["paypal"]\n[windows.paypal]\n{override}\n', encoding="utf-8")
    result = invoke(path, "validate")
    assert result.exit_code == 2 and error in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(("now", "lang", "text"), [
    (at("2026-06-23 00:00") - SEC, "en",
     "Amazon A-to-z Guarantee opens on 23 Jun 2026 and stays open until 18 Sep 2026 at 00:00."),
    (at("2026-06-23 00:00") - SEC, "fr",
     "Reste possible : Garantie A à Z d'Amazon, du 23 juin 2026 au 18 sept. 2026 à 00:00."),
    (at("2026-06-23 00:00"), "en", "Amazon A-to-z Guarantee is still open until 18 Sep 2026 at 00:00."),
    (at("2026-06-23 00:00"), "fr", "Reste possible : Garantie A à Z d'Amazon, jusqu'au 18 sept. 2026 à 00:00."),
])
def test_amazon_a_to_z_opens_3_days_after_the_estimated_delivery(now: datetime, lang: str, text: str) -> None:
    """Estimated 20 Jun: A-to-z opens on 23 Jun at 00:00 (a second before, the alert says when it opens; from then,
    that it is open) and closes 90 days after the estimate."""
    short = table({"card_chargeback": {"length": timedelta(days=1), "counted_from": ["ordered"]}})
    o = order(shop="Amazon", estimated_delivery="2026-06-20", paid_with=["card"])
    (f,) = of_window(run(o, now, lang, windows=short), "card_chargeback")
    assert text in f.message


@pytest.mark.parametrize(("lang", "fields", "deadline"), [
    ("en", {"shop": "Temu"}, "(deadline: Temu purchase protection, before 30 Aug 2026 at 00:00)"),
    ("fr", {"shop": "Temu"}, "(échéance : Protection des achats Temu, avant le 30 août 2026 à 00:00)"),
    ("en", {"shop": "Temu", "paid_with": ["card"]},  # the charge's 120 days close later than Temu's 90
     "(deadline: Temu purchase protection, before 30 Aug 2026 at 00:00)"),
    ("en", {"shop": "Temu", "protection_ends": "2026-07-10"}, "(deadline: before 10 Jul 2026 at 00:00)"),  # typed
    ("en", {"shop": "Other"}, "(deadline: not set)"),
])
def test_a_late_parcel_names_the_first_window_to_close(lang: str, fields: dict[str, Any], deadline: str) -> None:
    """Late against the promise, the buyer is given the deadline that closes first, computed when none was typed."""
    (f,) = [f for f in run(order(promised_by="2026-06-20", **fields), at("2026-06-25 12:00"), lang)
            if f.kind == Kind.PROMISED_PASSED]
    assert deadline in f.action


@pytest.mark.parametrize(("fields", "window", "days", "column"), [
    ('shop = "Temu"\npaid_with = ["paypal"]\n', "temu_returns", 60, "in 60d"),  # Temu's 90 days close first
    ('shop = "Temu"\nprotection_ends = 2026-07-10\n', "protection_ends", 9, "in 9d"),  # a typed date wins
    ('shop = "Other"\npaid_with = ["paypal"]\n', "paypal", 150, "in 150d"),
    ('shop = "Other"\nprotection_ends = 2026-06-20\n', None, None, "11d ago"),  # ended, no other window: the typed end
])
def test_status_counts_down_to_the_first_window_to_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: str,
                                                         window: str | None, days: int | None, column: str) -> None:
    """`status`'s protection column and `next_window` follow the window that closes first, computed ones included."""
    path = write_watchlist(tmp_path, f'[[orders]]\nid = "A1"\nordered_on = 2026-06-01\n{fields}')
    at = ("--now", "2026-07-01T12:00:00+02:00")
    (row,) = json.loads(invoke(path, "status", "--json", *at).stdout)
    assert (row["next_window"] or {}).get("window") == window and (row["next_window"] or {}).get("days") == days
    monkeypatch.setenv("COLUMNS", "120")
    table = invoke(path, "status", *at).stdout
    assert re.search(rf"\s{re.escape(column)}\s", table), table
