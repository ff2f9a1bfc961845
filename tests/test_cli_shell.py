"""The command line in a shell: completion of commands and order ids, and log times that say their offset."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
PROG = [sys.executable, "-c", "import sys; from monitor.cli import entry; sys.argv[0] = 'tracking-monitor'; entry()"]


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of `words`, through click's own protocol."""
    env = {**os.environ, "_TRACKING_MONITOR_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    return subprocess.run(PROG, env=env, capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize(("words", "offered", "not_offered"), [
    ("tracking-monitor sta", ["status"], ["check"]),
    ("tracking-monitor pa", ["paths"], []),
    (f"tracking-monitor -c {EXAMPLE} report 8181000000000006", ["8181000000000006"], ["8181000000000001"]),
    (f"tracking-monitor -c {EXAMPLE} set EB", ["EB-2211-5"], []),
    ("tracking-monitor -c /nowhere.toml report ", [], []),
])
def test_completion(words: str, offered: list[str], not_offered: list[str]) -> None:
    """Commands complete by prefix; order ids complete from the watchlist the command would read."""
    found = complete(words)
    assert all(w in found for w in offered) and not any(w in found for w in not_offered), found


def test_log_lines_say_their_offset(tmp_path: Path) -> None:
    """A log line's time carries its UTC offset, since alerts speak another zone (the watchlist's)."""
    cfg = tmp_path / "w.toml"
    cfg.write_text('[[notify.destinations]]\nname = "phone"\nurl_secret = "phone_url"\n\n'
                   '[[orders]]\nid = "A"\nordered_on = 2026-11-01\n')  # a secret status warns about
    done = subprocess.run([*PROG, "-c", str(cfg), "status"], capture_output=True, text=True,
                          env={**os.environ, "STATE_DIRECTORY": str(tmp_path / "s"), "TZ": "Asia/Shanghai"})
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0800 WARNING ", done.stderr, re.M), done.stderr
