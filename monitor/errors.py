"""The daemon's own error tree: everything here ends as one clear line, never a traceback.

MonitorError
├── ConfigError   the watchlist or the environment is wrong (exit 2); carries one Problem per mistake
│   └── UnknownOrder  an order id that is not in the watchlist; names the closest ids (exit 2)
├── StateError    the state database cannot be opened or is damaged (exit 1)
├── WriteError    a file (the watchlist, its backup, a report) cannot be written (exit 1)
<<<<<<< HEAD
└── MailError     a mail source (file, Maildir, IMAP mailbox) cannot be read (exit 1)
=======
└── ToolMissing   a program a command needs (a browser to print a PDF) is not installed; says how to get it (exit 2)
>>>>>>> report-kit
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.messages import counted


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


class UnknownOrder(ConfigError):
    """No order has this id; the message names the closest ids."""

    def __init__(self, path: object, order_id: str, known: Sequence[str]) -> None:
        close = difflib.get_close_matches(order_id, known, n=3, cutoff=0.3)
        hint = f"; closest: {', '.join(map(_quote, close))}" if close else f" ({counted(len(known), 'order')}; `status --all` lists them)"
        super().__init__([Problem(str(path), f"no order with id {_quote(order_id)}{hint}")])
        self.order_id = order_id


class WriteError(MonitorError):
    """A file could not be written; the original is left as it was."""


class MailError(MonitorError):
    """A mail source cannot be read: the message names it and why, never a password."""


class ToolMissing(MonitorError):
    """A program the command needs is not on PATH; the message says how to get it."""

    exit_code = 2


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
