"""One poison value anywhere, in the watchlist or in a carrier's answer: no traceback, exit 0 or 2, and every
other order's alerts come out exactly as they do without it (issue "Never silent")."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from monitor.cli import cli

NOW = "2026-12-01T09:00:00+00:00"
BASE = "https://laposte.test"
# (id, its [[orders]] lines); two ride La Poste, one has no number yet. Together they give most finding kinds.
ORDERS: list[tuple[str, list[str]]] = [
    ("O0", ['ordered_on = 2026-10-20', 'tracking = "6A18987654321"', 'carrier = "laposte"', 'promised_by = 2026-11-20',
            'protection_ends = 2026-12-03', 'item = "Lamp"']),
    ("O1", ['ordered_on = 2026-10-01', 'tracking = "RB123456785FR"', 'carrier = "laposte"',
            'protection_ends = 2026-12-10', 'refund_window = "15d"']),
    ("O2", ['ordered_on = 2026-11-20', 'protection_ends = 2026-12-02', 'shop = "AliExpress"']),
]
# Each number's La Poste events, newest first as La Poste sends them: (code, label, date).
EVENTS: dict[str, list[tuple[str, str, str]]] = {
    "6A18987654321": [("ET3", "Arrivé dans le pays de destination", "2026-11-18T10:00:00+01:00"),
                      ("ET2", "Parti du pays d'origine", "2026-11-10T08:00:00+08:00"),
                      ("PC1", "Pris en charge", "2026-11-02T09:00:00+08:00")],
    "RB123456785FR": [("DO3", "Retenu en douane", "2026-11-29T11:00:00+01:00"),
                      ("DO1", "Arrivé en douane", "2026-11-27T11:00:00+01:00"),
                      ("PC1", "Pris en charge", "2026-10-05T09:00:00+08:00")],
}

# What a watchlist value can be made of by mistake or malice (TOML text): out-of-range dates and durations,
# wrong types, control characters, huge numbers.
FILE_POISON = ["9999-12-31", "0001-01-01", "0001-01-01T00:00:00+23:59", "2100-01-01", "1999-12-31",
               '"999999999d"', '"9999999999d"', '"-5d"', '"0d"', '"\\u001b[2J"', '"\\u202e"', "1" * 400,
               "-1", "1e400", "true", "[]", "{}", '"abc"', '""']
FILE_KEYS = ["ordered_on", "promised_by", "protection_ends", "delivered_on", "tracking_since", "refund_window",
             "stalled_after", "long_wait_after", "protection_warn", "seller_contacted_on", "id", "tracking",
             "carrier", "item", "archived"]
# What a carrier can send in one event field, or instead of one answer.
EVENT_POISON: list[Any] = ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-05:00", "2099-12-31T23:59:59+00:00",
                           "0000-00-00T00:00:00", "", None, 0, 1e308, -1, [], {}, "\x1b]8;;http://x\x07y\x1b]8;;\x07",
                           "2026-02-30T10:00:00+01:00", "n" * 10_000]
ANSWER_POISON: list[Any] = [None, [], "garbage", {"returnCode": "abc"}, {"returnCode": 200, "shipment": None},
                            {"returnCode": 200, "shipment": {"idShip": "X", "event": "nope"}},
                            {"returnCode": 200, "shipment": {"event": [None, 5, "x"]}}]


def _watchlist(poison: tuple[int, str, str] | None) -> str:
    lines = ['[monitor]\ntimezone = "Europe/Paris"\n', f'[carriers.laposte]\nbase_url = "{BASE}"\n']
    for i, (oid, body) in enumerate(ORDERS):
        fields = {line.split(" = ")[0]: line for line in [f'id = "{oid}"', *body]}
        if poison and poison[0] == i:
            fields[poison[1]] = f"{poison[1]} = {poison[2]}"
        lines.append("[[orders]]\n" + "\n".join(fields.values()) + "\n")
    return "\n".join(lines)


def _answer(number: str, poison: tuple[str, int, str, Any] | tuple[str, Any] | None) -> Any:
    if number not in EVENTS:  # a number the watchlist's poison made up: La Poste's own "unknown"
        return {"returnCode": 404, "returnMessage": "Numéro de suivi inconnu", "idShip": number}
    events = [{"code": c, "label": label, "date": d} for c, label, d in EVENTS[number]]
    if poison and poison[0] == number:
        if len(poison) == 2:
            return poison[1]
        _, index, field, value = poison  # type: ignore[misc]
        events[index % len(events)][field] = value
    return {"lang": "fr_FR", "returnCode": 200,
            "shipment": {"idShip": number, "product": "Colissimo", "isFinal": False, "event": events}}


def _reply(request: httpx.Request, answer: Any) -> httpx.Response:
    """La Poste's shape: one id answers an object, several (comma-separated) an array."""
    items = [answer(n) for n in request.url.path.rsplit("/", 1)[1].split(",")]
    return httpx.Response(200, json=items[0] if len(items) == 1 else items)


def _check(watchlist: str, answer: Any) -> tuple[int, list[dict[str, Any]] | None, str]:
    """`check --json` on a fresh state with La Poste answering from `answer(number)`."""
    with tempfile.TemporaryDirectory() as tmp, respx.mock(assert_all_called=False) as mock:
        mock.get(url__startswith=f"{BASE}/idships/").mock(side_effect=lambda request: _reply(request, answer))
        path = Path(tmp) / "watchlist.toml"
        path.write_text(watchlist, encoding="utf-8")
        env = {"STATE_DIRECTORY": str(Path(tmp) / "state"), "TRACKING_MONITOR_LAPOSTE_API_KEY": "test-key",
               "TRACKING_MONITOR_NOTIFY_URLS": "", "TRACKING_MONITOR_CONFIG": "", "CREDENTIALS_DIRECTORY": ""}
        result = CliRunner().invoke(cli, ["--config", str(path), "check", "--record", "--now", NOW, "--json"], env=env)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output, output
    found = json.loads(result.stdout) if result.exit_code == 0 else None
    return result.exit_code, found, output


def _by_order(found: list[dict[str, Any]], skip: str) -> list[tuple[Any, ...]]:
    """The alerts of every order but `skip` (whose id itself may be the poisoned value)."""
    others = {oid for oid, _ in ORDERS} - {skip}
    return sorted((f["order"], f["kind"], f["severity"], f["message"], f["action"], f["due"])
                  for f in found if f["order"] in others)


_BASELINE: list[dict[str, Any]] = []


def _baseline() -> list[dict[str, Any]]:
    if not _BASELINE:
        code, found, output = _check(_watchlist(None), lambda n: _answer(n, None))
        assert code == 0 and found, output
        _BASELINE.extend(found)
    return _BASELINE


def test_the_baseline_has_alerts_for_every_order() -> None:
    """Without poison each order has alerts of its own, so "the others are unchanged" is a real comparison."""
    assert {f["order"] for f in _baseline()} == {"O0", "O1", "O2"}
    assert {"protection_ending", "exception", "promised_passed"} <= {f["kind"] for f in _baseline()}


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.integers(0, len(ORDERS) - 1), st.sampled_from(FILE_KEYS), st.sampled_from(FILE_POISON))
def test_a_poison_value_in_the_watchlist_costs_at_most_its_own_order(order: int, key: str, value: str) -> None:
    """Refused with exit 2 and a line naming the field, or accepted, and then the other orders' alerts are as
    without it."""
    code, found, output = _check(_watchlist((order, key, value)), lambda n: _answer(n, None))
    assert code in (0, 2), output
    if code == 2:
        assert "orders[" in output or "TOML" in output, output
    else:
        assert found is not None
        skip = ORDERS[order][0]
        assert _by_order(found, skip) == _by_order(_baseline(), skip)


@_SETTINGS
@given(st.sampled_from(sorted(EVENTS)), st.one_of(
    st.tuples(st.integers(0, 2), st.sampled_from(["date", "code", "label"]), st.sampled_from(EVENT_POISON)),
    st.tuples(st.sampled_from(ANSWER_POISON))))
def test_a_poison_value_in_a_carrier_answer_costs_at_most_its_own_number(number: str, poison: tuple[Any, ...]
                                                                         ) -> None:
    """The check runs (exit 0) and the orders of the other number, and the one without a number, get their alerts
    exactly as without it."""
    code, found, output = _check(_watchlist(None), lambda n: _answer(n, (number, *poison)))  # type: ignore[arg-type]
    assert code == 0 and found is not None, output
    skip = next(oid for oid, body in ORDERS if f'tracking = "{number}"' in body)
    assert _by_order(found, skip) == _by_order(_baseline(), skip)
