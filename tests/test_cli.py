"""The command line as a user meets it: the example watchlist, exit codes, JSON output, the daemon."""
from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_app
from monitor.daemon import Daemon

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
NOW = "2026-11-21T10:00"
ALL_KINDS = {
    "tracking_missing", "tracking_unknown", "stalled", "dark_after_export", "promised_passed", "protection_ending",
    "protection_ended", "exception", "delivered", "refund_window_ending", "dispute_followup", "long_wait",
    "source_failing", "untracked", "pickup_waiting",
}


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    for var in ("TRACKING_MONITOR_CONFIG", "TRACKING_MONITOR_NOTIFY_URLS", "TRACKING_MONITOR_SECRETS_DIR",
                "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    return state


def invoke(*args: str, config: Path | None = EXAMPLE):  # type: ignore[no-untyped-def]
    pre = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, [*pre, *args])


# The day the example's dates were written, then later days (shift_dates_from moves its dates along): past
# midnight, Chinese New Year 2027, a DST change, Golden Week 2030, late in the evening years later.
@pytest.mark.parametrize("now", [NOW, "2026-11-22T00:20", "2027-02-06T13:00", "2027-03-28T02:30",
                                 "2030-10-01T09:00", "2033-06-30T23:40"])
def test_first_check_shows_every_kind_then_nothing(now: str) -> None:
    """The example shows every finding kind on a first run, whatever the day; a second check right after prints []."""
    first = invoke("check", "--record", "--now", now, "--json")
    assert first.exit_code == 0, first.output
    found = json.loads(first.stdout)
    assert {f["kind"] for f in found} == ALL_KINDS and len(found) == 17
    # A protection finding also names its window (the typed protection_ends, or a marketplace or payment one).
    assert all(set(f) == {"order", "kind", "severity", "message", "action", "due"}
               | ({"window"} if f["kind"].startswith("protection_") else set()) for f in found)
    assert "[URGENT]" in first.stderr  # terminal alerts moved to stderr under --json
    second = invoke("check", "--record", "--now", now, "--json")
    assert second.exit_code == 0 and json.loads(second.stdout) == []


def test_dry_run_records_nothing() -> None:
    """--dry-run shows what would be sent and leaves the state as it was."""
    dry = invoke("check", "--now", NOW, "--dry-run", "--json")
    assert {f["kind"] for f in json.loads(dry.stdout)} == ALL_KINDS
    assert "[URGENT]" not in dry.stderr  # nothing was sent
    real = invoke("check", "--record", "--now", NOW, "--json")
    assert len(json.loads(real.stdout)) == len(json.loads(dry.stdout))


def test_alerts_print_to_the_terminal_without_urls() -> None:
    """With no notification URL, a plain check prints the alerts on stdout."""
    result = invoke("check", "--record", "--now", NOW)
    assert result.exit_code == 0
    assert "[URGENT] Buyer protection ends in 3 days (AliExpress · USB-C hub)" in result.stdout
    assert "What to do: Open a dispute now" in result.stdout


def test_french(tmp_path: Path) -> None:
    """language = "fr" gives French alerts."""
    cfg = tmp_path / "fr.toml"
    cfg.write_text(EXAMPLE.read_text(encoding="utf-8").replace('language = "en"', 'language = "fr"'), encoding="utf-8")
    found = json.loads(invoke("check", "--record", "--now", NOW, "--json", config=cfg).stdout)
    by_kind = {f["kind"]: f for f in found}
    assert "aucun numéro de suivi" in by_kind["tracking_missing"]["message"]
    assert by_kind["protection_ending"]["action"].startswith("Ouvrez un litige maintenant")


def test_now_moves_time(tmp_path: Path) -> None:
    """--now previews another day: a week later, the 3-day protection step has become 'ended'. (In a real file:
    the example's shift_dates_from would move its dates along.)"""
    cfg = tmp_path / "real.toml"
    cfg.write_text(re.sub(r"(?m)^shift_dates_from.*\n", "", EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    assert not re.search(r"(?m)^shift_dates_from", cfg.read_text(encoding="utf-8"))
    later = json.loads(invoke("check", "--now", "2026-11-28T10:00", "--json", "--dry-run", config=cfg).stdout)
    assert ("8181000000000006", "protection_ended") in {(f["order"], f["kind"]) for f in later}
    shifted = json.loads(invoke("check", "--now", "2026-11-28T10:00", "--json", "--dry-run").stdout)
    assert ("8181000000000006", "protection_ending") in {(f["order"], f["kind"]) for f in shifted}


def test_status_lists_every_order() -> None:
    """status: one row per order, with the most urgent finding."""
    invoke("check", "--record", "--now", NOW, "--json")
    rows = json.loads(invoke("status", "--now", NOW, "--json").stdout)
    assert len(rows) == 14
    handed = next(r for r in rows if r["order"] == "8181000000000013")
    # Both numbers; the local carrier's latest scan is the order's latest news.
    assert handed["handover"] == {"carrier": "demo", "number": "DEMO-LASTMILE"}
    assert handed["tracking"] == "DEMO-HANDOVER" and handed["last_event"]["description"] == "At the delivery office"
    assert next(r for r in rows if r["order"] == "8181000000000012")["top_finding"]["kind"] == "pickup_waiting"
    assert next(r for r in rows if r["order"] == "8181000000000011")["status"] == "no source"
    hub = next(r for r in rows if r["order"] == "8181000000000006")
    assert hub["days_to_protection_end"] == 3 and hub["top_finding"]["kind"] == "protection_ending"
    assert next(r for r in rows if r["order"] == "AB-77120")["status"] == "failing"
    text = invoke("status", "--now", NOW)
    assert text.exit_code == 0 and all(r["order"] in text.stdout for r in rows)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["validate"], 0, "ok, 14 orders"),
        (["check", "--now", "next tuesday"], 2, "--now: expected an ISO date"),
        (["frobnicate"], 2, "No such command"),
        (["check", "--bogus"], 2, "No such option"),
        (["--version"], 0, "tracking-monitor "),
    ],
)
def test_exit_codes(args: list[str], code: int, says: str) -> None:
    """0 ok, 2 bad config or usage."""
    result = invoke(*args)
    assert result.exit_code == code and says in result.output


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """$TRACKING_MONITOR_CONFIG is used without --config; a missing default file is a clear exit 2."""
    monkeypatch.setenv("TRACKING_MONITOR_CONFIG", str(EXAMPLE))
    assert invoke("validate", config=None).exit_code == 0
    monkeypatch.setenv("TRACKING_MONITOR_CONFIG", str(tmp_path / "nope.toml"))
    missing = invoke("validate", config=None)
    assert missing.exit_code == 2 and "nope.toml: no such file" in missing.stderr


def test_notify_urls_from_environment_and_secret_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Notification URLs may come from the environment or a secrets directory instead of the TOML."""
    monkeypatch.setenv("TRACKING_MONITOR_NOTIFY_URLS", "ntfy://ntfy.sh/a-topic")
    secrets = tmp_path / "creds"
    secrets.mkdir()
    (secrets / "notify_urls").write_text("json://localhost/hook\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(secrets))
    app = load_app(EXAMPLE, lambda: datetime.now(UTC))
    assert [d.url for d in app.destinations.values()] == ["ntfy://ntfy.sh/a-topic"]
    monkeypatch.delenv("TRACKING_MONITOR_NOTIFY_URLS")
    app = load_app(EXAMPLE, lambda: datetime.now(UTC))
    assert [d.url for d in app.destinations.values()] == ["json://localhost/hook"]


async def test_daemon_picks_up_watchlist_edits(tmp_path: Path) -> None:
    """An edited date is used on the next tick without a restart; a broken edit keeps the last good file."""
    cfg = tmp_path / "w.toml"
    base = '[monitor]\ntimezone = "UTC"\n[[orders]]\nid = "A"\nordered_on = 2026-11-01\ntracking = "DEMO-TRANSIT"\n'
    cfg.write_text(base + "protection_ends = 2026-12-30\n")
    now = datetime(2026, 11, 21, 10, tzinfo=UTC)
    daemon = Daemon(cfg, lambda: now)
    await daemon.tick()
    await daemon.polls_done()
    cfg.write_text(base + "protection_ends = 2026-11-23\n")
    os.utime(cfg, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    await daemon.watch_file()
    await daemon.tick()
    await daemon.polls_done()
    assert daemon.app.watchlist.orders[0].protection_ends.isoformat() == "2026-11-23"
    assert "A:protection_ending:2026-11-23T00:00:00+00:00:3d" in daemon.store.notified_keys()
    cfg.write_text(base + "protection_ends = 23/11/2026\n")
    os.utime(cfg, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    await daemon.watch_file()
    assert daemon.app.watchlist.orders[0].protection_ends.isoformat() == "2026-11-23"
    daemon.store.close()


async def test_a_daemon_on_the_example_moves_its_dates_at_midnight() -> None:
    """Left running for days, the example keeps up with its demo shipments: its dates move on each new day."""
    clock = [datetime(2026, 11, 21, 22, 50, tzinfo=UTC)]  # 23:50 in Paris
    daemon = Daemon(EXAMPLE, lambda: clock[0])
    await daemon.tick()
    await daemon.polls_done()
    assert daemon.last is not None and {f.kind.value for f in daemon.last.findings} == ALL_KINDS
    clock[0] += timedelta(minutes=30)
    await daemon.tick()
    await daemon.polls_done()
    assert daemon.app.watchlist.orders[0].ordered_on.isoformat() == "2026-11-11"  # 2026-11-10 in the file
    assert {f.kind.value for f in daemon.last.findings} == ALL_KINDS and len(daemon.last.findings) == 17
    # A month on, the deadlines still come round. (The parcel delivered a month ago is no news any more: the
    # state remembers its delivery, and a delivered parcel is not asked again.)
    clock[0] += timedelta(days=30)
    await daemon.tick()
    await daemon.polls_done()
    assert daemon.app.watchlist.orders[0].ordered_on.isoformat() == "2026-12-11"
    assert {"protection_ending", "protection_ended", "dispute_followup", "refund_window_ending", "promised_passed",
            "tracking_missing", "long_wait"} <= {f.kind.value for f in daemon.last.findings}
    daemon.store.close()


def test_daemon_runs_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`run` prints the example's alerts within seconds and exits 0 on SIGTERM."""
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "d")}
    exe = [sys.executable, "-c", "from monitor.cli import entry; entry()"]
    proc = subprocess.Popen([*exe, "--config", str(EXAMPLE), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        lines: list[str] = []
        # select() so a daemon that prints nothing fails the test instead of hanging it
        while time.monotonic() < deadline and not any(x.startswith("[URGENT]") for x in lines):
            if select.select([proc.stdout], [], [], 1)[0]:
                lines.append(proc.stdout.readline())  # type: ignore[union-attr]
        assert any(line.startswith("[URGENT]") for line in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "stopped" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()


@pytest.mark.parametrize(("lang", "args", "head"), [
    ("en", ["--now", "2026-12-08"], "[URGENT] (preview at 8 Dec 2026) order A1: Buyer protection has ended"),
    ("fr", ["--now", "2026-12-08"], "[URGENT] (aperçu au 8 déc. 2026) commande A1 : La protection acheteur est terminée"),
    ("en", ["--now", "2026-12-08", "--dry-run"], "[URGENT] (dry run) order A1: Buyer protection has ended"),
    ("fr", ["--now", "2026-12-08", "--dry-run"], "[URGENT] (essai à blanc) commande A1 : La protection acheteur est"),
])
def test_a_preview_names_each_order_in_the_watchlists_language(tmp_path: Path, lang: str, args: list[str],
                                                              head: str) -> None:
    """A French watchlist's preview reads French from the first word, and names the order each alert is about."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[monitor]\ntimezone = "Europe/Paris"\nlanguage = "{lang}"\n'
                   '[[orders]]\nid = "A1"\nordered_on = 2026-11-01\ntracking = "DEMO-TRANSIT"\nprotection_ends = 2026-12-03\n')
    result = invoke("check", *args, config=cfg)
    assert result.exit_code == 0 and head in result.stdout, result.stdout
