"""Where imported orders come from and where they go: .eml, mbox, Maildir, pasted text and an IMAP mailbox, read
into monitor.mailimport's extractor; what it finds planned onto the watchlist through monitor.edit's Editor.

Nothing here marks, moves or deletes a mail: files are only read, and the IMAP mailbox is opened read-only
(EXAMINE) and fetched with BODY.PEEK, which leaves the \\Seen flag alone.
"""
from __future__ import annotations

import imaplib
import mailbox
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email import message_from_bytes
from email import policy as email_policy
from email.errors import MessageError
from pathlib import Path
from typing import Any

from carriers.detect import normalize
from monitor.config import read_secret, secret_env, secret_file
from monitor.edit import Editor
from monitor.errors import MailError, Problem
from monitor.mailimport import Extraction, Found, Mail, extract, from_message, from_text
from monitor.store import Store
from monitor.watchlist import FIRST_DAY, LAST_DAY, ImapSection, _id_key, problem_at, read_text

# Keys an import may add to an order already in the watchlist; it never changes one that has a value.
UPDATABLE = ("tracking", "promised_by", "protection_ends")
MAX_MAIL = 10 * 2**20  # bytes of one mail read; a larger one is an attachment-laden mail, not an order mail
IMAP_TIMEOUT = 30.0  # seconds a silent IMAP server is waited for


# ---------------------------------------------------------------- sources


def parse_mail(raw: bytes) -> Mail:
    """A Mail of the bytes of one message."""
    return from_message(message_from_bytes(raw[:MAX_MAIL], policy=email_policy.default))


def read_source(source: str, stdin_text: str | None = None, today: date | None = None) -> Iterator[Mail]:
    """The mails of one SOURCE: an .eml file, an mbox file, a Maildir folder, or "-" (pasted text on stdin)."""
    if source == "-":
        yield from_text(stdin_text or "", today)
        return
    path = Path(source)
    try:
        if path.is_dir():
            if not (path / "cur").is_dir() and not (path / "new").is_dir():
                raise MailError(f"{path}: a folder but not a Maildir (no cur/ or new/ inside); expected an .eml "
                                "file, an mbox file, a Maildir folder or - for text on standard input")
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.keys()):
                with box.get_file(key) as f:
                    yield parse_mail(f.read(MAX_MAIL))
            return
        with path.open("rb") as f:
            head = f.read(5)
        if head == b"From ":
            for msg in mailbox.mbox(path, factory=None, create=False):
                yield parse_mail(msg.as_bytes())
            return
        yield parse_mail(path.read_bytes()[:MAX_MAIL])
    except FileNotFoundError:
        raise MailError(f"{path}: no such file or folder; expected an .eml file, an mbox file, a Maildir folder or "
                        "- for text on standard input") from None
    except (OSError, MessageError, mailbox.Error) as exc:
        raise MailError(f"{path}: cannot be read as mail: {getattr(exc, 'strerror', None) or exc}") from None


# ---------------------------------------------------------------- onto the watchlist


@dataclass
class Outcome:
    """What an import did or would do, item by item, as `import --json` prints it."""

    imported: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, list[dict[str, Any]]]:
        """{"imported": [...], "updated": [...], "skipped": [...]}."""
        return {"imported": self.imported, "updated": self.updated, "skipped": self.skipped}


def _item(order_id: str | None, shop: str, tracking: str | None, source: str, **more: Any) -> dict[str, Any]:
    return {"order": order_id, "shop": shop, "tracking": tracking, "source": source, **more}


def _same(key: str, old: Any, new: Any) -> bool:
    """Whether the file's value says what the mail says: a number in any spacing, a deadline on the same day."""
    if key == "tracking":
        return normalize(str(old)) == normalize(str(new))
    day = old.date() if isinstance(old, datetime) else old
    return bool(day == new)


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


class _Plan:
    """The orders of the watchlist and of this import, and the values each mail adds to them."""

    def __init__(self, editor: Editor) -> None:
        self.editor = editor
        orders = [o for o in editor.data.get("orders", []) if isinstance(o, dict)]
        # Copies: the plan fills them in as mails add values, the editor's own reading stays as the file is.
        self.existing: dict[str, dict[str, Any]] = {_id_key(str(o.get("id"))): dict(o) for o in orders}
        self.new: dict[str, dict[str, Any]] = {}  # by id key: values for Editor.add
        self.updates: dict[str, dict[str, Any]] = {}  # by id: values for Editor.set
        self.outcome = Outcome()
        self._touched: dict[tuple[str, str], dict[str, Any]] = {}  # (section, id) -> the item in the outcome

    def add(self, found: Found) -> None:
        """Plan what one order of one mail adds: a new order, or values missing from an existing one."""
        key = _id_key(found.order_id)
        tracking = max(found.tracking, key=lambda t: t.confidence, default=None)
        for extra in found.tracking:
            if extra is not tracking:
                self._skip(found, extra.number, f"another number of this mail ({tracking.number if tracking else ''})"
                                                " was taken: an order has one tracking number")
        values: dict[str, Any] = {"tracking": tracking.number if tracking else None,
                                  "promised_by": found.promised_by, "protection_ends": found.protection_ends}
        if key in self.existing:
            order = self.existing[key]
            self._fill(found, str(order["id"]), order, values, _day(order.get("ordered_on")), "updated")
        elif key in self.new:
            order = self.new[key]
            self._fill(found, order["id"], order, values, order["ordered_on"], "imported")
        elif found.ordered_on is None:
            self._skip(found, values["tracking"], "no order date in this text or mail: add it with `tracking-monitor "
                                                  f"add {found.order_id} --ordered-on YYYY-MM-DD`")
        else:
            order = {"id": found.order_id, "shop": found.shop, "ordered_on": found.ordered_on, "source": found.source}
            if found.item:
                order["item"] = found.item
            self.new[key] = order
            self._record("imported", found, order["id"], ["added"])
            self._fill(found, order["id"], order, values, found.ordered_on, "imported")

    def _fill(self, found: Found, order_id: str, order: dict[str, Any], values: dict[str, Any],
              ordered_on: date | None, section: str) -> None:
        changed: list[str] = []
        for key, value in values.items():
            if value is None:
                continue
            if key != "tracking" and not self._dated_ok(found, order_id, key, value, ordered_on):
                continue
            old = order.get(key)
            if old is not None:
                if not _same(key, old, value):
                    self._skip(found, values["tracking"], f"conflict: the watchlist has {key} = {old}, this mail says "
                                                          f"{value}; not changed", order_id)
                continue
            order[key] = value
            if section == "updated":
                self.updates.setdefault(order_id, {})[key] = value
            changed.append(f"{key} = {value}")
        if changed or section == "imported":
            self._record(section, found, order_id, changed, order.get("tracking"))
        elif not changed and (section, order_id) not in self._touched:
            self._skip(found, values["tracking"], "already in the watchlist: nothing new", order_id)

    def _dated_ok(self, found: Found, order_id: str, key: str, value: date, ordered_on: date | None) -> bool:
        why = None
        if not FIRST_DAY <= value <= LAST_DAY:
            why = f"{key} {value} is outside {FIRST_DAY} to {LAST_DAY}"
        elif ordered_on is not None and value < ordered_on:
            why = f"{key} {value} is before the order date {ordered_on}"
        if why:
            self._skip(found, None, f"{why}: not taken", order_id)
        return why is None

    def _record(self, section: str, found: Found, order_id: str, changes: list[str],
                tracking: str | None = None) -> None:
        item = self._touched.get((section, order_id))
        if item is None:
            item = _item(order_id, found.shop, tracking, found.source, changes=[])
            self._touched[(section, order_id)] = item
            getattr(self.outcome, section).append(item)
        item["changes"] += [c for c in changes if c not in item["changes"]]
        item["tracking"] = tracking or item["tracking"]

    def _skip(self, found: Found, tracking: str | None, why: str, order_id: str | None = None) -> None:
        self.outcome.skipped.append(_item(order_id or found.order_id, found.shop, tracking, found.source, why=why))

    def extraction(self, got: Extraction, source: str) -> None:
        """Plan one mail's orders, and list what it saw but did not take."""
        for found in got.orders:
            self.add(found)
        shops = {o.order_id: o.shop for o in got.orders}
        for s in got.skipped:
            self.outcome.skipped.append(_item(s.order_id, shops.get(s.order_id or "", ""), s.what, source, why=s.why))

    def write(self) -> None:
        """Hand the plan to the editor: one set per order given new values, one add per new order (in this order:
        keys added to the file's last order go in at the end of the file too, and must come before the new orders)."""
        for order_id, values in self.updates.items():
            self.editor.set(order_id, {k: _text(v) for k, v in values.items()})
        for order in self.new.values():
            self.editor.add(order["id"], {k: _text(v) for k, v in order.items() if k != "id"})


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def plan_import(editor: Editor, mails: Iterable[Mail]) -> Outcome:
    """Plan onto the editor's watchlist what the mails say, in their order; the caller commits (or dry-runs) it."""
    plan = _Plan(editor)
    for mail in mails:
        plan.extraction(extract(mail), mail.source)
    plan.write()
    return plan.outcome


def import_mails(path: Path, mails: Sequence[Mail], carriers: Iterable[str], dry_run: bool = False
                 ) -> tuple[Outcome, str]:
    """Import the mails into the watchlist at `path` under its edit lock; the outcome and the diff."""
    with Editor.open(path, carriers) as editor:
        outcome = plan_import(editor, mails)
        result = editor.commit(dry_run) if editor.changes else None
    return outcome, result.diff if result else ""


# ---------------------------------------------------------------- IMAP


@dataclass(frozen=True)
class Fetched:
    """A new mail of one folder, with what the state remembers of it."""

    folder: str
    uidvalidity: int
    uid: int
    raw: bytes


def account(imap: ImapSection) -> str:
    """How the state and the logs name a mailbox: user@host:port."""
    return f"{imap.user}@{imap.host}:{port(imap)}"


def port(imap: ImapSection) -> int:
    """The configured port, else IMAP's: 993 with TLS, 143 without."""
    return imap.port or (993 if imap.tls else 143)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(reply: tuple[str, list[Any]], what: str) -> list[Any]:
    typ, data = reply
    if typ != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise MailError(f"{what}: the server said {typ} {detail}".strip())
    return data


def fetch_new(imap: ImapSection, password: str, seen: dict[str, tuple[int, int]]) -> list[Fetched]:
    """Every mail of the configured folders newer than the UID the state remembers (all, when the folder's
    UIDVALIDITY changed); read-only, nothing marked as read. MailError on any failure, never the password."""
    try:
        if imap.tls:
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(imap.host, port(imap), ssl_context=ssl.create_default_context(),
                                                      timeout=IMAP_TIMEOUT)
        else:
            client = imaplib.IMAP4(imap.host, port(imap), timeout=IMAP_TIMEOUT)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailError(f"cannot connect to {imap.host}:{port(imap)}: {_reason(exc)}") from None
    try:
        try:
            client.login(imap.user, password)
        except imaplib.IMAP4.error:
            raise MailError(f"the server refused the login of {imap.user} (check the password secret "
                            f"{imap.password_secret})") from None
        out: list[Fetched] = []
        for folder in imap.folders:
            out += _folder(client, folder, seen.get(folder))
        return out
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailError(f"{imap.host}:{port(imap)}: {_reason(exc)}") from None
    finally:
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass  # the connection is gone already: nothing left to close politely


def _folder(client: imaplib.IMAP4, folder: str, seen: tuple[int, int] | None) -> list[Fetched]:
    _ok(client.select(_quote(folder), readonly=True), f"folder {folder!r}")  # EXAMINE: flags stay as they are
    _, codes = client.response("UIDVALIDITY")  # the code the SELECT answer carried, not a status
    if not codes or codes[0] is None:
        raise MailError(f"folder {folder!r}: the server gave no UIDVALIDITY, so what was read cannot be remembered")
    validity = int(codes[0])
    last = seen[1] if seen and seen[0] == validity else 0
    data = _ok(client.uid("SEARCH", f"UID {last + 1}:*"), f"folder {folder!r}: search")
    # "n:*" always includes the newest message, even when its UID is below n.
    uids = sorted(u for u in map(int, (data[0] or b"").split()) if u > last)
    out: list[Fetched] = []
    for uid in uids:
        parts = _ok(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"folder {folder!r}: message {uid}")
        raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), b"")
        out.append(Fetched(folder, validity, uid, raw))
    return out


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"no answer within {IMAP_TIMEOUT:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc}); set tls = false only for a server on this machine"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def no_password(imap: ImapSection) -> str:
    """Why the mailbox's password cannot be read: the secret's name and where it was looked for (never a value)."""
    name = imap.password_secret
    why = secret_file(name)[1]
    return (f'no secret "{name}": expected the variable {secret_env(name)} or a file of that name in '
            "$TRACKING_MONITOR_SECRETS_DIR or $CREDENTIALS_DIRECTORY" + (f"; {why}" if why else ""))


def password_warning(path: Path, imap: ImapSection | None) -> Problem | None:
    """What `validate` says of a mailbox whose password secret is missing: the daemon runs, but cannot read it."""
    if imap is None or read_secret(imap.password_secret) is not None:
        return None
    return problem_at(read_text(path), path, ("import", "imap", "password_secret"),  # read again only for the line
                      f"{no_password(imap)}; the daemon runs but cannot read this mailbox until it is set")


def check_mailbox(path: Path, imap: ImapSection, store: Store, carriers: Iterable[str], now: datetime) -> Outcome:
    """Read what is new in the mailbox into the watchlist at `path`, then remember it as read; MailError (or the
    watchlist editor's error) when it cannot, and then nothing is remembered, so the next check reads it again.
    Blocking: the daemon runs it in a thread, with a Store of that thread."""
    password = read_secret(imap.password_secret)
    if password is None:
        raise MailError(no_password(imap))
    name = account(imap)
    fetched = fetch_new(imap, password, store.mail_marks(name))
    outcome = Outcome()
    if fetched:
        outcome, _ = import_mails(path, [parse_mail(f.raw) for f in fetched], carriers)
    store.mail_read(name, {f.folder: (f.uidvalidity, f.uid) for f in fetched}, now)  # ascending: the last is the highest
    return outcome
