"""The daemon's own error tree: everything here ends as one clear line, never a traceback.

MonitorError
├── ConfigError   the watchlist or the environment is wrong (exit 2); carries one Problem per mistake
└── StateError    the state database cannot be opened or is damaged (exit 1)
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake: where it is (file:line or field path) and what was expected."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class MonitorError(Exception):
    """Base of the daemon's errors."""

    exit_code = 1


class ConfigError(MonitorError):
    """The watchlist is invalid; `problems` lists every mistake found."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


class StateError(MonitorError):
    """The state database is unusable."""
