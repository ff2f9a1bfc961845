"""Delivers outbox rows: to Apprise URLs, or to the terminal when none is configured. Knows nothing of carriers."""
from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

import apprise

from monitor.config import TERMINAL, privacy_url
from monitor.messages import fmt_when
from monitor.store import OutboxRow, Store

log = logging.getLogger("tracking_monitor.notify")

_LABELS = {
    "en": {"order": "Order", "action": "What to do", "due": "Due"},
    "fr": {"order": "Commande", "action": "À faire", "due": "Échéance"},
}
_MAX_BACKOFF = timedelta(hours=6)


def compose(row: OutboxRow, lang: str, zone: ZoneInfo) -> tuple[str, str]:
    """(title, body) of one notification, in the finding's language."""
    labels = _LABELS[lang]
    lines = [f"{labels['order']} {row.order_id}", ""] if row.order_id else []
    lines += [row.message, "", f"{labels['action']}: {row.action}"]
    if row.due:
        lines.append(f"{labels['due']}: {fmt_when(row.due.astimezone(zone), lang)}")
    return row.title, "\n".join(lines)


def backoff(attempts: int) -> timedelta:
    """Wait before retrying a failed delivery: 1, 2, 4… minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** min(attempts, 16)), _MAX_BACKOFF)


class Notifier:
    """Sends every due outbox row and records each destination's answer."""

    def __init__(self, store: Store, destinations: dict[str, str | None], lang: str, zone: ZoneInfo,
                 out: TextIO | None = None) -> None:
        self.store, self.destinations, self.lang, self.zone = store, destinations, lang, zone
        self.out = out

    async def deliver(self, now: datetime) -> tuple[int, int]:
        """Try every due row once; return (sent, failed)."""
        sent = failed = 0
        for row in self.store.pending(now):
            error = await self._send(row)
            if error is None:
                self.store.mark_sent(row.id, now)
                sent += 1
            else:
                self.store.mark_failed(row.id, error, now + backoff(row.attempts))
                failed += 1
        return sent, failed

    async def _send(self, row: OutboxRow) -> str | None:
        """None when the destination confirmed, else the error text."""
        title, body = compose(row, self.lang, self.zone)
        if row.destination == TERMINAL:
            print_alert(row.severity, title, body, self.out or sys.stdout)
            return None
        url = self.destinations.get(row.destination)
        if url is None:
            return "destination no longer configured"
        ap = apprise.Apprise()
        if not ap.add(url):
            return f"not a usable Apprise URL: {privacy_url(url)}"
        try:
            result = await ap.async_notify(title=title, body=body)
        except Exception as exc:  # a plugin bug must not lose the row
            return f"{type(exc).__name__}: {exc}"
        if result:
            return None
        error = f"{privacy_url(url)} did not accept the notification"
        log.warning("%s", error)
        return error


def print_alert(severity: str, title: str, body: str, out: TextIO) -> None:
    """An alert on the terminal: one header line, the body indented."""
    out.write(f"[{severity.upper()}] {title}\n")
    for line in body.splitlines():
        out.write(f"    {line}\n" if line else "\n")
    out.write("\n")
    out.flush()
