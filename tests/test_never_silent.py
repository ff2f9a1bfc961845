"""One bad order, one hung carrier: every other order's alerts still go out, on time."""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from carriers.errors import RateLimitedError
from monitor.cycle import evaluate_orders, run_cycle
from monitor.daemon import Daemon
from monitor.rules import Finding, Kind, Severity, order_policies
from monitor.store import Store
from monitor.watchlist import Rules, Watchlist
from tests.helpers import ScriptedCarrier, invoke, make_app

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GOOD = {"id": "GOOD", "ordered_on": "2026-11-01", "protection_ends": "2026-12-03", "promised_by": "2026-11-20"}


def _findings(orders: list[dict[str, object]], poison: dict[str, object] | None = None) -> list[Finding]:
    """The findings over `orders`, with `poison` forced into the last order past validation (as a bug would)."""
    wl = Watchlist.model_validate({"monitor": {"timezone": "Europe/Paris"}, "orders": orders})
    if poison:
        wl.orders[-1] = wl.orders[-1].model_copy(update=poison)
    return evaluate_orders(order_policies(wl.orders, Rules(), wl.monitor.zone, "en"), {}, NOW)


def _seen(findings: list[Finding], order_id: str) -> list[tuple[object, ...]]:
    return [(f.kind, f.key, f.severity, f.due, f.title, f.message, f.action) for f in findings if f.order_id == order_id]


@pytest.mark.parametrize("poison", [
    {"protection_ends": date(9999, 12, 31)},
    {"promised_by": date(9999, 12, 31)},
    {"long_wait_after": timedelta(days=999_999_999)},
    {"refund_window": timedelta(days=999_999_999), "delivered_on": date(2026, 11, 20)},
    {"ordered_on": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))},
], ids=["protection_ends", "promised_by", "long_wait_after", "refund_window", "ordered_on"])
def test_one_order_that_cannot_be_evaluated_costs_only_itself(poison: dict[str, object]) -> None:
    """The other order's urgent "protection ends in 2 days" comes out exactly as without the bad order; the bad
    one gets a check_failed finding naming it."""
    bad = {"id": "BAD", "ordered_on": "2026-11-01"}
    alone = _seen(_findings([GOOD]), "GOOD")
    assert any(k is Kind.PROTECTION_ENDING for k, *_ in alone)
    both = _findings([GOOD, bad], poison)
    assert _seen(both, "GOOD") == alone
    # Failing in the rules: one check_failed finding; failing only when its texts are written: the finding
    # stays, its text says what went wrong.
    bad = [f for f in both if f.order_id == "BAD"]
    assert bad and all(f.title == "Order BAD could not be checked" and "Error" in f.message for f in bad)


async def test_a_failing_order_is_logged_once_and_notified_once(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """Cycle after cycle: one log line and one alert when it starts, the other order's alert as usual."""
    app = make_app({"monitor": {"timezone": "Europe/Paris"},
                    "orders": [GOOD, {"id": "BAD", "ordered_on": "2026-11-01"}]})
    app.watchlist.orders[-1] = app.watchlist.orders[-1].model_copy(update={"protection_ends": date(9999, 12, 31)})
    store = Store.in_dir(tmp_path)
    try:
        with caplog.at_level(logging.ERROR, logger="tracking_monitor.cycle"):
            first = await run_cycle(app, store, NOW, None)
            second = await run_cycle(app, store, NOW + timedelta(minutes=5), None)
    finally:
        store.close()
    assert {(f.order_id, f.kind) for f in first.new} >= {("BAD", Kind.CHECK_FAILED), ("GOOD", Kind.PROTECTION_ENDING)}
    assert not second.new
    assert len([r for r in caplog.records if "BAD" in r.getMessage()]) == 1


def test_texts_that_cannot_be_rendered_still_give_the_alert() -> None:
    """A finding whose texts fail to render keeps its kind, key and due date, with a text that says so."""
    def broken() -> tuple[str, str, str]:
        raise OverflowError("date value out of range")

    f = Finding(Kind.PROTECTION_ENDING, "A1", Severity.URGENT, broken, NOW, "A1:protection_ending:x")
    assert "A1" in f.title and "OverflowError" in f.message and f.action
    assert f.kind is Kind.PROTECTION_ENDING and f.key == "A1:protection_ending:x"


@pytest.fixture
def tarpit() -> Iterator[int]:
    """A local server that accepts connections and never answers (a hung carrier)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


async def test_a_hung_carrier_does_not_delay_another_orders_deadline(tmp_path: Path, tarpit: int,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """La Poste hangs (a real HTTP request to a server that never answers): the other order's protection alert
    is queued by the tick itself and printed, while La Poste's poll is still waiting."""
    monkeypatch.setenv("TRACKING_MONITOR_LAPOSTE_API_KEY", "test-key")
    cfg = tmp_path / "watchlist.toml"
    cfg.write_text(f'[monitor]\ntimezone = "UTC"\nstate_dir = "{tmp_path / "state"}"\n'
                   f'[carriers.laposte]\nbase_url = "http://127.0.0.1:{tarpit}"\ntimeout = 60\n'
                   '[[orders]]\nid = "HUNG"\nordered_on = 2026-11-01\ntracking = "RB123456785FR"\ncarrier = "laposte"\n'
                   '[[orders]]\nid = "GOOD"\nordered_on = 2026-11-01\nprotection_ends = 2026-12-03\n')
    daemon = Daemon(cfg, lambda: NOW)
    try:
        await asyncio.wait_for(daemon.tick(), 5)
        assert "laposte" in daemon._polls and not daemon._polls["laposte"].done()  # still hanging
        assert any(k.startswith("GOOD:protection_ending:") for k in daemon.store.notified_keys())
        await asyncio.wait_for(asyncio.gather(*daemon._deliveries), 5)
        assert "Buyer protection ends in 2 days (GOOD)" in capsys.readouterr().out
        assert not daemon._polls["laposte"].done()
    finally:
        for task in daemon._polls.values():
            task.cancel()
        await asyncio.gather(*daemon._polls.values(), return_exceptions=True)
        await daemon.app.aclose()
        daemon.store.close()



async def test_a_carrier_that_keeps_us_waiting_is_cut_to_a_day_and_said_to_be_failing(tmp_path: Path) -> None:
    """A 429 asking for 10^20 s (or a year-9999 wait left in the state) blocks the carrier one day at most; a
    carrier that has kept every answer away for source_failing_after gives source_failing for each of its
    orders, once."""
    carrier = ScriptedCarrier()
    numbers = ["NUM0", "NUM1"]
    for n in numbers:
        carrier.answers[n] = RateLimitedError("rate limited (HTTP 429)", carrier="fake", retry_after=1e20)
    app = make_app({"monitor": {"timezone": "UTC"}, "orders": [
        {"id": f"O{i}", "ordered_on": "2026-11-20", "tracking": n, "carrier": "fake"} for i, n in enumerate(numbers)]},
        carrier)
    store = Store.in_dir(tmp_path)
    try:
        await run_cycle(app, store, NOW, None)
        assert store.carrier_states()["fake"].blocked_until == NOW + timedelta(days=1)
        store.db.execute("UPDATE carriers SET blocked_until='9999-12-31T23:59:59+00:00'")  # an older build's wait
        assert not (await run_cycle(app, store, NOW + timedelta(hours=1), None)).new
        assert store.carrier_states()["fake"].blocked_until == NOW + timedelta(hours=25)
        later = await run_cycle(app, store, NOW + timedelta(hours=26), None)
        again = await run_cycle(app, store, NOW + timedelta(hours=27), None)
    finally:
        store.close()
    assert later.polled == 2 and {(f.order_id, f.kind) for f in later.new} == {
        ("O0", Kind.SOURCE_FAILING), ("O1", Kind.SOURCE_FAILING)}
    assert "rate limited" in later.new[0].message and not again.new


HOSTILE = "A\x1b[2JB\x1b]8;;http://evil\x07C\x07"


def test_log_lines_and_the_outbox_listing_carry_no_escape_sequence(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A carrier's text reaches the log and the outbox listing as text: no screen clearing, no hidden link."""
    from monitor.cli import _setup_logging

    _setup_logging(False)
    logging.getLogger("tracking_monitor.cycle").warning("laposte X: tracking source failing: %s", HOSTILE)
    cfg = tmp_path / "watchlist.toml"
    cfg.write_text(f'[monitor]\ntimezone = "UTC"\nstate_dir = "{tmp_path / "state"}"\n'
                   '[[orders]]\nid = "A1"\nordered_on = 2026-11-01\n')
    store = Store.in_dir(tmp_path / "state")
    store.enqueue([Finding(Kind.EXCEPTION, "A1", Severity.URGENT, (HOSTILE, HOSTILE, HOSTILE), None, "A1:x")],
                  lambda f: ["terminal"], NOW)
    store.mark_failed([r.id for r in store.outbox()], HOSTILE, NOW + timedelta(hours=1))
    store.close()
    listing = invoke(cfg, "outbox")
    err = capsys.readouterr().err
    assert "tracking source failing: ABC" in err and "\x1b" not in err
    assert listing.exit_code == 0 and "ABC" in listing.stdout and "\x1b" not in listing.stdout, listing.stdout
