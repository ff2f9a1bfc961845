"""A number no configured source can ask is said once (`untracked`, info), with what to add; never silence."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.daemon import Daemon
from tests.helpers import invoke

NOW = "2026-12-01T09:00"
LP = "LP00712345678901"  # an AliExpress (Cainiao) number: Cainiao is off by default, the aggregators need a key


def _watchlist(tmp_path: Path, order: str, language: str = "en") -> Path:
    cfg = tmp_path / "watchlist.toml"
    cfg.write_text(f'[monitor]\ntimezone = "UTC"\nlanguage = "{language}"\nstate_dir = "{tmp_path / "state"}"\n'
                   f'[[orders]]\nid = "A1"\nordered_on = 2026-11-20\n{order}\n', encoding="utf-8")
    return cfg


def _no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    for name in ("TRACKING_MONITOR_17TRACK_API_KEY", "TRACKING_MONITOR_AFTERSHIP_API_KEY",
                 "TRACKING_MONITOR_LAPOSTE_API_KEY", "TRACKING_MONITOR_NOTIFY_URLS", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def _found(cfg: Path) -> list[dict[str, object]]:
    result = invoke(cfg, "check", "--record", "--now", NOW, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# (case, the order's keys, environment, untracked expected, words the message must hold)
CASES = [
    ("lp-no-key", f'tracking = "{LP}"', {}, True, ["cainiao", "enabled = true", "17track or aftership"]),
    ("lp-with-17track-key", f'tracking = "{LP}"', {"TRACKING_MONITOR_17TRACK_API_KEY": "k"}, False, []),
    ("named-carrier-no-key", 'tracking = "RB123456785FR"\ncarrier = "laposte"', {}, True,
     ["laposte", "api_key", "TRACKING_MONITOR_LAPOSTE_API_KEY"]),
    ("demo-carrier", 'tracking = "DEMO-TRANSIT"', {}, False, []),
    ("no-number", "", {}, False, []),
    ("received", f'tracking = "{LP}"\ndelivered_on = 2026-11-28', {}, False, []),
    ("archived", f'tracking = "{LP}"\narchived = true', {}, False, []),
]


# The buyer's language: the alert's title, and how its message starts.
LANGS = {"en": ("Tracking number not followed:", "No tracking source"),
         "fr": ("Numéro de suivi non suivi :", "Aucune source de suivi")}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("order", "env", "expected", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_untracked_when_no_source_can_ask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str,
                                          env: dict[str, str], expected: bool, words: list[str], lang: str) -> None:
    """Once, as info, naming the carrier that would know and what to add, in the buyer's language; a second
    check says nothing new."""
    _no_keys(monkeypatch, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = _watchlist(tmp_path, order, lang)
    title, opening = LANGS[lang]
    preview = invoke(cfg, "check", "--now", NOW, "--dry-run").stdout  # records nothing
    assert (title in preview and "(A1)" in preview) is expected, preview
    found = [f for f in _found(cfg) if f["kind"] == "untracked"]
    assert bool(found) is expected
    if expected:
        [f] = found
        assert f["severity"] == "info" and f["message"].startswith(opening), f["message"]
        assert all(w in f["message"] + f["action"] for w in words), f["message"]
        assert not [f for f in _found(cfg) if f["kind"] == "untracked"]  # once
        rows = json.loads(invoke(cfg, "status", "--now", NOW, "--json").stdout)
        # Said once, but status still shows what the order needs, not "ok".
        assert rows[0]["status"] == "no source" and rows[0]["top_finding"]["kind"] == "untracked"


async def test_the_daemon_logs_it_once_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """`run` names the unfollowed number and what to add in one log line when it starts, not at every cycle."""
    _no_keys(monkeypatch, tmp_path)
    daemon = Daemon(_watchlist(tmp_path, f'tracking = "{LP}"'), lambda: datetime(2026, 12, 1, 9, tzinfo=UTC))
    stop = asyncio.Event()
    stop.set()  # serve() says what it says at start, then stops at once
    with caplog.at_level(logging.INFO):
        for _ in range(2):  # cycles say nothing of it
            await daemon.tick()
            await daemon.polls_done()
        assert await daemon.serve(stop) == 0
    said = [r for r in caplog.records if LP in r.getMessage() and "no source can track" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING, caplog.text
    assert "enabled = true" in said[0].getMessage()
