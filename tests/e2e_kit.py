"""Running `tracking-monitor check` as a user does: a subprocess with its own state directory."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path


def at(text: str) -> datetime:
    """A UTC instant from an ISO text without offset."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def check(path: Path, tmp_path: Path, now: str, *args: str,
          extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`tracking-monitor --config PATH check --now NOW ARGS` with the state kept under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKING_MONITOR_")}
    env.update(XDG_STATE_HOME=str(tmp_path / "xdg"), STATE_DIRECTORY=str(tmp_path / "state"), **(extra_env or {}))
    env.pop("CREDENTIALS_DIRECTORY", None)
    return subprocess.run(
        [sys.executable, "-c", "from monitor.cli import entry; entry()", "--config", str(path), "check", "--record", "--now", now,
         *args], capture_output=True, text=True, env=env, timeout=120, check=False)
