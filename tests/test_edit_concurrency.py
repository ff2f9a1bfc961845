"""Edits of one watchlist at the same time, by separate processes: each waits for the one before, none is lost."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from monitor import edit
from tests.helpers import invoke, write_watchlist

EXE = [sys.executable, "-c", "from monitor.cli import entry; entry()"]
WRITERS = 8


@pytest.fixture
def watchlist(tmp_path: Path) -> Path:
    return write_watchlist(tmp_path)


def _ids(path: Path) -> list[str]:
    return [o["id"] for o in tomllib.loads(path.read_text(encoding="utf-8"))["orders"]]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_adds_all_land(watchlist: Path, round_: int) -> None:
    """Eight `add` commands started together all say saved, and all eight orders are in the file afterwards."""
    ids = [f"R{round_}-{n}" for n in range(WRITERS)]
    procs = [subprocess.Popen([*EXE, "--config", str(watchlist), "add", i, "--ordered-on", "2026-11-20"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in ids]
    outputs = [(p.wait(60), p.stdout.read()) for p in procs]  # type: ignore[union-attr]
    assert all(code == 0 and "saved" in out for code, out in outputs), outputs
    assert sorted(_ids(watchlist)) == sorted(["A", *ids])
    assert invoke(watchlist, "validate").exit_code == 0
    assert sorted(p.name for p in watchlist.parent.iterdir()) == ["config.toml", "config.toml.bak"]


@pytest.mark.parametrize("args", [["add", "N1", "--ordered-on", "2026-11-20"], ["set", "A", "shop=Temu"],
                                  ["archive", "A"], ["remove", "A"]])
def test_an_edit_that_waits_too_long_writes_nothing(watchlist: Path, monkeypatch: pytest.MonkeyPatch,
                                                    args: list[str]) -> None:
    """While another edit holds the lock past the wait, an edit exits 1 with one line and leaves the file alone."""
    monkeypatch.setattr(edit, "LOCK_WAIT", 0.2)
    before = watchlist.read_bytes()
    lock = watchlist.with_name("config.toml.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = invoke(watchlist, *args)
    finally:
        os.close(fd)
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1
    assert "another edit of this watchlist is still running" in result.output
    assert "nothing was written" in result.output
    assert watchlist.read_bytes() == before and not watchlist.with_name("config.toml.bak").exists()


def test_a_lock_file_left_by_a_killed_edit_does_not_block(watchlist: Path) -> None:
    """A killed edit leaves its lock file but no lock (the kernel drops it): the next edit goes ahead and tidies up."""
    watchlist.with_name("config.toml.lock").touch()
    assert invoke(watchlist, "set", "A", "shop=Temu").exit_code == 0
    assert sorted(p.name for p in watchlist.parent.iterdir()) == ["config.toml", "config.toml.bak"]
