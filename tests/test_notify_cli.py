"""`notify-test` and `outbox` as a user runs them, with a secret URL from a credentials directory."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import invoke, write_watchlist
from tests.notify_servers import Behaviour, http_server

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "hunter2secret"


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Behaviour, Behaviour, int]]:
    """A watchlist with a working ntfy destination and a broken one whose URL (with a token) is a credential."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    for var in ("TRACKING_MONITOR_NOTIFY_URLS", "TRACKING_MONITOR_SECRETS_DIR", "TRACKING_MONITOR_BROKEN_URL"):
        monkeypatch.delenv(var, raising=False)
    creds = tmp_path / "credentials"
    creds.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    with http_server() as (good_port, good), http_server() as (bad_port, bad):
        bad.fail = 10**6
        (creds / "broken_url").write_text(f"json://me:{TOKEN}@127.0.0.1:{bad_port}/hook\n")
        cfg = tmp_path / "config.toml"
        cfg.write_text('[monitor]\ntimezone = "Europe/Paris"\n'
                       f'[[notify.destinations]]\nname = "good"\nurl = "ntfy://127.0.0.1:{good_port}/parcels"\n'
                       '[[notify.destinations]]\nname = "broken"\nurl_secret = "broken_url"\nmin_severity = "urgent"\n'
                       '[[orders]]\nid = "8181000000000006"\nordered_on = 2026-10-05\nprotection_ends = 2026-11-23\n')
        yield cfg, good, bad, bad_port


def test_notify_test_reports_each_destination(servers: tuple[Path, Behaviour, Behaviour, int]) -> None:
    """One line per destination, the failure's reason under it, exit 1; the token is never shown."""
    cfg, good, _, bad_port = servers
    result = invoke(cfg, "notify-test")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok      good    ntfy://127.0.0.1:") and lines[0].endswith("/parcels")
    assert lines[1] == f"FAILED  broken  json://me:****@127.0.0.1:{bad_port}/hook"
    assert lines[2].startswith("        did not accept the notification: ")
    assert TOKEN not in result.output
    assert good.received[0].body["title"] == "tracking-monitor: test message"


@pytest.mark.parametrize(("args", "code", "expect"), [
    (["-d", "good"], 0, "ok      good"),
    (["--destination", "broken"], 1, "FAILED  broken"),
    (["-d", "goood"], 2, 'error: --destination "goood": no such destination; did you mean "good"?'),
])
def test_notify_test_one_destination(servers: tuple[Path, Behaviour, Behaviour, int], args: list[str], code: int,
                                     expect: str) -> None:
    """--destination picks one by name; an unknown name is a usage error with a suggestion."""
    result = invoke(servers[0], "notify-test", *args)
    assert result.exit_code == code and expect in result.output and len(result.output.splitlines()) <= 2


def test_notify_test_on_the_terminal() -> None:
    """With no destination configured the test message is printed, and that counts as delivered."""
    result = invoke(ROOT / "config.example.toml", "notify-test")
    assert result.exit_code == 0
    assert result.stdout.startswith("[INFO] tracking-monitor: test message\n")
    assert result.stdout.splitlines()[-1] == "ok      terminal  printed above"


def test_outbox_shows_what_waits_and_why(servers: tuple[Path, Behaviour, Behaviour, int]) -> None:
    """After a check the broken destination's alert is listed with its last error; the delivered ones are not."""
    cfg, good, _, _ = servers
    assert invoke(cfg, "outbox").stdout == "outbox empty: every alert was delivered\n"
    assert invoke(cfg, "check", "--record", "--now", "2026-11-21T10:00").exit_code == 0
    assert [r.body["title"][:26] for r in good.received] == ["Buyer protection ends in 2"]  # a digest of two
    result = invoke(cfg, "outbox")
    assert result.exit_code == 0 and TOKEN not in result.output
    first, second, error = result.stdout.splitlines()
    assert first.startswith("retrying URGENT  8181000000000006  Buyer protection ends in 2 days (8181000000000006)")
    assert second.startswith("         to broken (json://me:****@127.0.0.1:") and "1 attempt; next try" in second
    assert error.startswith("         last error: broken (json://me:****@") and "did not accept" in error
    [row] = json.loads(invoke(cfg, "outbox", "--json").stdout)
    assert row["state"] == "retrying" and row["attempts"] == 1 and row["severity"] == "urgent"


def test_outbox_says_quiet_hours_end_at_midnight_with_the_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Quiet hours ending at 00:00: the held alert waits "until 22 Nov 2026 at 00:00", not "until 22 Nov 2026",
    which reads as the end of that day."""
    night = datetime(2026, 11, 21, 22, 30, tzinfo=ZoneInfo("Europe/Paris"))
    monkeypatch.setattr("monitor.cli._now", lambda: night)
    cfg = write_watchlist(tmp_path, '[monitor]\ntimezone = "Europe/Paris"\nstate_dir = "STATE"\n'
                                    '[notify]\nquiet_hours = "22:00-00:00"\n'
                                    '[[notify.destinations]]\nname = "phone"\nurl = "json://127.0.0.1:9/hook"\n'
                                    '[[orders]]\nid = "A1"\nordered_on = 2026-11-01\n')
    assert invoke(cfg, "check").exit_code == 0
    lines = invoke(cfg, "outbox").stdout.splitlines()
    assert lines[0].startswith("held     WARNING A1  No tracking number yet")
    assert lines[1].endswith("; quiet hours until 22 Nov 2026 at 00:00"), lines
