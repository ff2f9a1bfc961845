"""Delivers outbox rows: per destination, concurrently, as one digest, in the channel's format. Knows nothing of carriers.

A row is marked sent only when its destination confirmed it; a failure keeps it for a retry with backoff, across
restarts, until it expires. Quiet hours hold all but urgent alerts. The next message that gets through says what
was delayed and what expired.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from monitor.config import App, Destination, apprise_silenced
from monitor.durations import format_duration
from monitor.messages import counted, days, fmt_due, fmt_when
from monitor.rules import Finding, Severity
from monitor.store import OutboxRow, Store
from monitor.textsafe import printable
from monitor.watchlist import QuietHours

log = logging.getLogger("tracking_monitor.notify")

_MAX_BACKOFF = timedelta(hours=6)
DIGEST_MAX = 20  # alerts per message: beyond that a phone notification or a chat message is unreadable
_FAR = datetime.max.replace(tzinfo=UTC)

_TEXTS = {
    "en": {
        "order": "Order", "action": "What to do:", "due": "Due:", "reminder": "Reminder: ",
        "more": " (+{n})", "digest": "{n} alerts, most urgent first:",
        "late": "Sent late: {n} of these alerts waited since {since} because this destination did not answer.",
        "late_one": "Sent late: this alert waited since {since} because this destination did not answer.",
        "expired": "Not delivered, given up after {after} without an answer from this destination:",
        "queued": "queued {when}",
        "test_title": "tracking-monitor: test message",
        "test_body": "If you can read this, tracking-monitor's alerts reach this destination ({name}).",
        "severity": {"urgent": "URGENT", "warning": "WARNING", "info": "INFO"},
    },
    "fr": {
        "order": "Commande", "action": "À faire :", "due": "Échéance :", "reminder": "Rappel : ",
        "more": " (+{n})", "digest": "{n} alertes, la plus urgente d'abord :",
        "late": "Envoyé en retard : sur ces alertes, {n} en attente depuis le {since}, cette destination ne répondait pas.",
        "late_one": "Envoyé en retard : cette alerte attendait depuis le {since}, cette destination ne répondait pas.",
        "expired": "Non remis, abandonnés après {after} sans réponse de cette destination :",
        "queued": "en file depuis le {when}",
        "test_title": "tracking-monitor : message de test",
        "test_body": "Si vous lisez ceci, les alertes de tracking-monitor arrivent à cette destination ({name}).",
        "severity": {"urgent": "URGENT", "warning": "ATTENTION", "info": "INFO"},
    },
}
# ntfy shows these tags as emoji; priority makes an urgent alert ring through and an info one stay quiet.
_NTFY = {"urgent": ("high", "rotating_light"), "warning": ("default", "warning"), "info": ("low", "package")}
# Services that deliver e-mail: their title is a subject line, read among hundreds in an inbox.
_EMAIL_SCHEMES = frozenset({"mailto", "mailtos", "mailgun", "sendgrid", "ses", "sparkpost", "postmark", "resend",
                            "brevo", "smtp2go", "mailersend", "o365", "azure", "sendpulse"})
_MARKDOWN_SPECIALS = str.maketrans({c: "\\" + c for c in "\\*_`[]<>"})


def backoff(attempts: int) -> timedelta:
    """Wait before retrying a failed delivery: 1, 2, 4… minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** min(attempts, 16)), _MAX_BACKOFF)


def repeat_due(finding: Finding, last_at: datetime, now: datetime, every: timedelta, within: timedelta) -> bool:
    """A reminder of an urgent deadline is due: the deadline is ahead and at most `within` away, and `every` has
    passed since the last message about it. Zero `every` turns reminders off."""
    due = finding.due
    if not every or finding.severity is not Severity.URGENT or due is None:
        return False
    return now < due and due - now <= within and now - last_at >= every


def urgency(row: OutboxRow) -> tuple[int, datetime, int]:
    """Sort key: most severe first, then the nearest deadline, then the oldest."""
    return -Severity(row.severity).rank, row.due or _FAR, row.id


@dataclass(frozen=True)
class Message:
    """One message to one destination: its title and body, in the channel's format."""

    title: str
    body: str
    severity: Severity


class Composer:
    """Writes messages in the configured language, as Markdown or plain text."""

    def __init__(self, lang: str, zone: ZoneInfo, expire_after: timedelta) -> None:
        self.t, self.lang, self.zone, self.expire_after = _TEXTS[lang], lang, zone, expire_after

    def when(self, value: datetime) -> str:
        """An instant as the buyer reads it, in the watchlist's zone."""
        return fmt_when(value.astimezone(self.zone), self.lang)

    def title(self, row: OutboxRow) -> str:
        """A row's title; a reminder says so."""
        return (self.t["reminder"] if row.repeat else "") + row.title

    def compose(self, rows: Sequence[OutboxRow], expired: Sequence[OutboxRow], markdown: bool, email: bool) -> Message:
        """One message for rows sorted most urgent first, with notes on delays and on expired rows."""
        t, top = self.t, rows[0]
        severity = Severity(top.severity)
        more = t["more"].format(n=counted(len(rows) - 1, "other", self.lang)) if len(rows) > 1 else ""
        title = self.title(top) + more
        if email:  # "[tracking-monitor] URGENT 8181… Buyer protection ends in 1 day": sorts and threads by order
            title = " ".join(p for p in ("[tracking-monitor]", t["severity"][severity.value], top.order_id, title) if p)
        text = _Text(markdown)
        if len(rows) == 1:
            blocks = [self._alert(top, text, heading=False)]
        else:
            blocks = [text.plain(t["digest"].format(n=len(rows))), *(self._alert(r, text, heading=True) for r in rows)]
        if late := [r for r in rows if r.attempts]:
            since = self.when(min(r.created_at for r in late))
            note = t["late_one"].format(since=since) if len(rows) == 1 else t["late"].format(n=len(late), since=since)
            blocks.append(text.em(note))
        if expired:
            lines = [text.plain(t["expired"].format(after=_duration_words(self.expire_after, self.lang)))]
            lines += [text.plain(f"- [{t['severity'][r.severity]}] {self.title(r)} ({t['queued'].format(when=self.when(r.created_at))})")
                      for r in expired]
            blocks.append("\n".join(lines))
        return Message(title, "\n\n".join(blocks), severity)

    def _alert(self, row: OutboxRow, text: _Text, heading: bool) -> str:
        """One alert: (its heading,) the order, what happened, what to do, the due date."""
        t = self.t
        head = [text.strong(f"[{t['severity'][row.severity]}] {self.title(row)}")] if heading else []
        order = [text.strong(f"{t['order']} {row.order_id}")] if row.order_id else []
        tail = [f"{text.strong(t['action'])} {text.plain(row.action)}"]
        if row.due:
            tail.append(f"{text.strong(t['due'])} {text.plain(fmt_due(row.due.astimezone(self.zone), self.lang))}")
        # Markdown joins single lines into one paragraph; plain text keeps a digest's alerts compact.
        gap = "\n\n" if text.markdown or not heading else "\n"
        tight = "\n\n" if text.markdown else "\n"
        return gap.join([*head, *order, text.plain(row.message), tight.join(tail)])


@dataclass(frozen=True)
class _Text:
    """Marks text up as Markdown, or leaves it plain."""

    markdown: bool

    def plain(self, s: str) -> str:
        """Shown as written: tracking descriptions like HELD_AT_CUSTOMS keep their underscores."""
        return s.translate(_MARKDOWN_SPECIALS) if self.markdown else s

    def strong(self, s: str) -> str:
        """Bold where Markdown renders."""
        return f"**{self.plain(s)}**" if self.markdown else s

    def em(self, s: str) -> str:
        """Italic where Markdown renders."""
        return f"_{self.plain(s)}_" if self.markdown else s


def _duration_words(value: timedelta, lang: str) -> str:
    return days(value.days, lang) if value % timedelta(days=1) == timedelta(0) else format_duration(value)


class Notifier:
    """Sends every due outbox row, each destination on its own, and records each destination's answer."""

    def __init__(self, store: Store, destinations: Mapping[str, Destination], lang: str, zone: ZoneInfo,
                 out: TextIO | None = None, *, quiet_hours: QuietHours | None = None,
                 expire_after: timedelta = timedelta(days=7), send_timeout: timedelta = timedelta(seconds=30)) -> None:
        self.store, self.destinations, self.zone, self.out = store, destinations, zone, out
        self.quiet_hours, self.expire_after, self.send_timeout = quiet_hours, expire_after, send_timeout
        self.composer = Composer(lang, zone, expire_after)

    @classmethod
    def for_app(cls, app: App, store: Store, out: TextIO | None = None) -> Notifier:
        """A notifier with the watchlist's destinations and [notify] settings."""
        m, n = app.watchlist.monitor, app.watchlist.notify
        return cls(store, app.destinations, m.language, m.zone, out, quiet_hours=n.quiet_hours,
                   expire_after=n.expire_after, send_timeout=n.send_timeout)

    async def deliver(self, now: datetime) -> tuple[int, int]:
        """Try every destination with rows due, concurrently; return (rows sent, rows failed)."""
        for row in self.store.expire(now - self.expire_after, now):
            log.warning("gave up on an alert after %s without delivery to %s: %s", format_duration(self.expire_after),
                        self._label(row.destination), row.title)
        due = sorted(self.store.due_destinations(now) & self.destinations.keys())
        outcomes = await asyncio.gather(*(self._deliver_to(self.destinations[d], now) for d in due))
        return sum(sent for sent, _ in outcomes), sum(failed for _, failed in outcomes)

    def hold_until(self, dest: Destination, now: datetime) -> datetime | None:
        """The end of the destination's quiet hours when `now` falls in them."""
        quiet = dest.quiet_hours if dest.quiet_hours is not None else self.quiet_hours
        return quiet.hold_until(now, self.zone) if quiet else None

    async def _deliver_to(self, dest: Destination, now: datetime) -> tuple[int, int]:
        """Every waiting row of one destination, as digests; a failure keeps the rest for the retry. (sent, failed)"""
        quiet = self.hold_until(dest, now) is not None
        # In quiet hours only a first urgent message goes out: a reminder can wait for the morning.
        rows = sorted(self.store.claim(dest.id, lambda r: not quiet or (r.severity == "urgent" and not r.repeat)),
                      key=urgency)
        if not rows:
            return 0, 0
        expired = self.store.expired_unnoted(dest.id)
        was_failing = any(r.attempts for r in rows)
        sent = 0
        for start in range(0, len(rows), DIGEST_MAX):
            chunk, notes = rows[start:start + DIGEST_MAX], expired if start == 0 else []
            # Recorded before the request: should the process die before the answer is recorded, the next claim
            # knows these rows may have arrived, and counts one interrupted send for each.
            self.store.mark_sending([r.id for r in chunk], now)
            try:
                error = await self._send(dest, chunk, notes)
            except BaseException:  # cancelled (daemon stopping): give the rows back; the chunk's send was cut off
                self.store.release([r.id for r in rows[start:]])
                raise
            if error is not None:
                rest, error = rows[start:], f"{dest.label}: {error}"
                self.store.mark_failed([r.id for r in rest], error, now + backoff(max(r.attempts for r in rest)))
                (log.debug if was_failing else log.warning)("delivery failing, will retry: %s", error)
                return sent, len(rest)
            self.store.mark_sent([r.id for r in chunk], now, [r.id for r in notes])
            sent += len(chunk)
        if was_failing:
            log.info("%s: delivery recovered", dest.label)
        return sent, 0

    async def _send(self, dest: Destination, rows: Sequence[OutboxRow], expired: Sequence[OutboxRow]) -> str | None:
        """None when the destination confirmed the message, else the error text (no secret in it)."""
        if dest.url is None:
            out = self.out or sys.stdout
            for row in rows:
                msg = self.composer.compose([row], [], markdown=False, email=False)
                print_alert(row.severity, msg.title, msg.body, out)
            return None
        return await send_apprise(dest, Severity(rows[0].severity),
                                  lambda md, email: self.composer.compose(rows, expired, md, email), self.send_timeout)

    def _label(self, destination_id: str) -> str:
        dest = self.destinations.get(destination_id)
        return dest.label if dest else destination_id

    async def test(self, names: Sequence[str]) -> list[tuple[Destination, str | None]]:
        """Send one test message to each named destination, concurrently; (destination, error or None) each."""
        t = self.composer.t

        async def one(dest: Destination) -> tuple[Destination, str | None]:
            def message(markdown: bool, email: bool) -> Message:
                title = f"[tracking-monitor] {t['test_title']}" if email else t["test_title"]
                return Message(title, t["test_body"].format(name=dest.name or dest.label), Severity.INFO)

            if dest.url is None:
                msg = message(False, False)
                print_alert("info", msg.title, msg.body, self.out or sys.stdout)
                return dest, None
            return dest, await send_apprise(dest, Severity.INFO, message, self.send_timeout)

        return list(await asyncio.gather(*(one(self.destinations[n]) for n in names)))


    def report(self, now: datetime) -> list[dict[str, object]]:
        """Every undelivered row as the `outbox` command shows it: its state, why, and what happens next."""
        out: list[dict[str, object]] = []
        for row in self.store.outbox():
            dest = self.destinations.get(row.destination)
            hold = self.hold_until(dest, now) if dest else None
            if row.expired_at:
                state, nxt = "expired", None
            elif dest is None:
                state, nxt = "orphaned", None  # its destination left the watchlist; it expires in time
            elif hold and not (row.severity == "urgent" and not row.repeat):
                state, nxt = "held", hold
            else:
                state, nxt = ("retrying" if row.attempts else "waiting"), row.next_attempt
            out.append({
                "id": row.id, "state": state, "destination": dest.label if dest else row.destination,
                "severity": row.severity, "order": row.order_id, "title": self.composer.title(row),
                "queued": row.created_at.isoformat(), "attempts": row.attempts,
                "next_attempt": nxt.isoformat() if nxt else None,
                "expired": row.expired_at.isoformat() if row.expired_at else None,
                "last_error": row.last_error or ("destination no longer configured" if dest is None else ""),
            })
        return out


def _with_ntfy_priority(url: str, severity: Severity) -> str:
    """An ntfy URL with the priority and tags of the severity, unless the user chose them in the URL."""
    query = parse_qs(urlsplit(url).query)
    priority, tag = _NTFY[severity.value]
    tags = ",".join(dict.fromkeys((tag, severity.value)))
    extra = {k: v for k, v in (("priority", priority), ("tags", tags))
             if k not in query and not (k == "tags" and "xtags" in query)}
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(extra)


async def send_apprise(dest: Destination, severity: Severity, compose: Callable[[bool, bool], Message],
                       timeout: timedelta) -> str | None:
    """Send one message through Apprise without blocking the loop; None when the destination confirmed it, else why.

    `compose(markdown, email)` writes the message once the channel is known: Markdown where the service renders it
    (Slack, Discord, e-mail as HTML, ntfy with format=markdown…), plain text elsewhere.
    """
    import apprise

    assert dest.url is not None
    scheme = dest.url.split("://", 1)[0].lower()
    url = _with_ntfy_priority(dest.url, severity) if scheme in ("ntfy", "ntfys") else dest.url
    ap = apprise.Apprise()
    with apprise_silenced():
        if not ap.add(url):
            return "not a usable Apprise URL"
    fmt = ap[0].resolve_format(apprise.NotifyFormat.MARKDOWN)
    markdown = fmt in (apprise.NotifyFormat.MARKDOWN, apprise.NotifyFormat.HTML)
    msg = compose(markdown, scheme in _EMAIL_SCHEMES)
    kind = {Severity.URGENT: apprise.NotifyType.FAILURE, Severity.WARNING: apprise.NotifyType.WARNING}.get(
        severity, apprise.NotifyType.INFO)
    seconds = timeout.total_seconds()
    try:
        # Apprise's own limit stops waiting for the service; ours also covers its setup and any plugin that hangs.
        result = await asyncio.wait_for(ap.async_notify(
            body=msg.body, title=msg.title, notify_type=kind, timeout=seconds,
            body_format=apprise.NotifyFormat.MARKDOWN if markdown else apprise.NotifyFormat.TEXT,
        ), seconds + 5)
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    except Exception as exc:  # a plugin bug must not lose the rows
        return f"{type(exc).__name__}: {exc}"
    if result:
        return None
    return f"did not accept the notification: {_why(result, seconds)}"


def _why(result, seconds: float) -> str:  # type: ignore[no-untyped-def]
    """The service's own complaint, from the log lines Apprise captured for this call."""
    from apprise import AppriseResultStatus

    for service in result:
        if service.status == AppriseResultStatus.TIMEOUT:
            return f"no answer within {seconds:g} s"
        lines = [e.message for e in service.logs() if e.level in ("WARNING", "ERROR")]
        if lines:
            return lines[-1][:300]
    return "no reason given"


def print_alert(severity: str, title: str, body: str, out: TextIO) -> None:
    """An alert on the terminal: one header line, the body indented; carrier and watchlist text cannot act on it."""
    out.write(f"[{severity.upper()}] {printable(title, newlines=False)}\n")
    for line in printable(body).splitlines():
        out.write(f"    {line}\n" if line else "\n")
    out.write("\n")
    out.flush()
