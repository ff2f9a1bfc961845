"""Every test runs with a normal user's paths, also as root (CI runs as root): no test reads or writes the
service's /etc/tracking-monitor or /var/lib/tracking-monitor. Tests of the paths themselves set their own."""
from __future__ import annotations

import pytest

from monitor.paths import SYSTEM_ENV


@pytest.fixture(autouse=True)
def _user_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SYSTEM_ENV, "0")
