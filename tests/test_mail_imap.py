"""The daemon reads order mails from a real IMAP server (dovecot on 127.0.0.1, see tests/mail_server.py)."""
from __future__ import annotations

import asyncio
import logging
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.daemon import Daemon
from monitor.inbox import account
from tests.mail_server import PASSWORD, USER, MailServer, mail_server

MAIL = Path(__file__).parent / "fixtures" / "mail"
START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.skipif(not Path("/usr/sbin/dovecot").exists(),
                                reason="needs Debian's dovecot-imapd (.ci/run installs it)")


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    """One dovecot for this module's tests; each test uses its own folder."""
    with mail_server() as running:
        yield running


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, server: MailServer) -> None:
    """The password in the environment, as the secret; the test server's certificate trusted, no other secrets."""
    for var in ("TRACKING_MONITOR_CONFIG", "TRACKING_MONITOR_NOTIFY_URLS", "TRACKING_MONITOR_SECRETS_DIR",
                "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRACKING_MONITOR_MAIL_PASSWORD", PASSWORD)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))


def watchlist(tmp_path: Path, server: MailServer, folder: str, *, tls: bool = True, port: int | None = None,
              secret: str = "mail_password") -> Path:
    """A watchlist with one hand-typed order and an [import.imap] on the test server's folder."""
    path = tmp_path / "config.toml"
    path.write_text(f"""\
[monitor]
timezone = "UTC"
state_dir = "{tmp_path / 'state'}"

[import.imap]  # the shop mailbox
host = "127.0.0.1"
port = {port or (server.tls_port if tls else server.port)}
user = "{USER}"
password_secret = "{secret}"
folders = ["{folder}"]
tls = {'true' if tls else 'false'}

[[orders]]
id = "8181000000000002"
ordered_on = 2026-11-21
""", encoding="utf-8")
    return path


async def close(daemon: Daemon) -> None:
    """Let the daemon's deliveries end, then close its state."""
    await asyncio.gather(*daemon._deliveries, return_exceptions=True)
    daemon.store.close()


def orders(path: Path) -> dict[str, dict[str, object]]:
    """The watchlist's orders by id."""
    return {o["id"]: o for o in tomllib.loads(path.read_text(encoding="utf-8"))["orders"]}


@pytest.mark.parametrize("tls", [True, False])
async def test_new_mail_is_imported_once_and_left_unread(tmp_path: Path, server: MailServer, tls: bool) -> None:
    """Mails become orders; a later check reads only what came since; nothing is marked read, moved or deleted."""
    folder = f"orders-{'tls' if tls else 'plain'}"
    for name in ("01_aliexpress_order_en.eml", "13_newsletter_aliexpress.eml"):
        server.append((MAIL / name).read_bytes(), folder)
    path = watchlist(tmp_path, server, folder, tls=tls)
    clock = [START]
    daemon = Daemon(path, lambda: clock[0])
    try:
        await daemon.mail_job()
        assert set(orders(path)) == {"8181000000000001", "8181000000000002"}
        assert "# the shop mailbox" in path.read_text(encoding="utf-8")
        server.append((MAIL / "02_aliexpress_shipped_en.eml").read_bytes(), folder)
        server.append((MAIL / "03_aliexpress_fr_plain.eml").read_bytes(), folder)
        clock[0] += timedelta(minutes=5)  # before check_every (15 min): the mailbox is not asked
        await daemon.mail_job()
        assert "tracking" not in orders(path)["8181000000000001"]
        clock[0] += timedelta(minutes=10)
        await daemon.mail_job()
        got = orders(path)
        assert got["8181000000000001"]["tracking"] == "LP00123456789012"
        assert got["8181000000000002"]["tracking"] == "RB123456785CN"  # added to the hand-typed order
        marks = daemon.store.mail_marks(f"{USER}@127.0.0.1:{server.tls_port if tls else server.port}")
        assert marks[folder][1] == 4
    finally:
        await close(daemon)
    assert server.count(folder) == 4 and server.unseen(folder) == 4


async def test_a_new_uidvalidity_reads_the_folder_again(tmp_path: Path, server: MailServer) -> None:
    """A folder whose UIDVALIDITY changed is read from its start; the import being idempotent, nothing doubles."""
    folder = "orders-uidvalidity"
    server.append((MAIL / "05_temu_order_en.eml").read_bytes(), folder)
    path = watchlist(tmp_path, server, folder)
    daemon = Daemon(path, lambda: START)
    try:
        name = f"{USER}@127.0.0.1:{server.tls_port}"
        daemon.store.mail_read(name, {folder: (1, 99)}, START)  # as if read under another UIDVALIDITY up to UID 99
        await daemon.mail_job()
        validity, uid = daemon.store.mail_marks(name)[folder]
        assert validity != 1 and uid == 1
        assert "PO-211-01234567890123456" in orders(path)
    finally:
        await close(daemon)


@pytest.mark.parametrize(("setting", "error"), [
    ({"secret": "wrong_password"}, "refused the login"),
    ({"secret": "missing_password"}, 'no secret "missing_password"'),
    ({"port": "closed"}, "cannot connect to 127.0.0.1"),
    ({"tls": True, "port": "plain"}, "TLS failed"),  # TLS spoken to the plain-text port
])
async def test_a_failing_mailbox_gives_one_finding_and_the_daemon_goes_on(
        tmp_path: Path, server: MailServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str], setting: dict[str, object], error: str) -> None:
    """Every check fails: one log line and one mail_failing alert for the episode, no crash, no password in the log,
    the watchlist as it was."""
    monkeypatch.setenv("TRACKING_MONITOR_WRONG_PASSWORD", "not-the-password")
    port = {"closed": _closed_port(), "plain": server.port}.get(str(setting.get("port")))
    path = watchlist(tmp_path, server, "INBOX", tls=bool(setting.get("tls", True)), port=port,
                     secret=str(setting.get("secret", "mail_password")))
    before = path.read_bytes()
    clock = [START]
    daemon = Daemon(path, lambda: clock[0])
    try:
        with caplog.at_level(logging.DEBUG, logger="tracking_monitor"):
            for _ in range(3):
                await daemon.mail_job()
                clock[0] += timedelta(minutes=15)
        await asyncio.gather(*daemon._deliveries)
        assert len([k for k in daemon.store.notified_keys() if k.startswith("mail_failing:")]) == 1
        printed = capsys.readouterr().out  # no destination configured: alerts go to the terminal
        assert printed.count("Order mails cannot be read from") == 1 and error in printed
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and error in errors[0].getMessage()
        assert PASSWORD not in caplog.text and "not-the-password" not in caplog.text
        assert path.read_bytes() == before
    finally:
        await close(daemon)


async def test_a_mailbox_that_works_again_ends_the_episode(tmp_path: Path, server: MailServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed, the mailbox is read again; failing later is a new episode with its own alert."""
    monkeypatch.setenv("TRACKING_MONITOR_MAIL_PASSWORD", "not-the-password")
    server.append((MAIL / "07_ebay_shipped_en.eml").read_bytes(), "orders-episodes")
    path = watchlist(tmp_path, server, "orders-episodes")
    clock = [START]
    daemon = Daemon(path, lambda: clock[0])
    try:
        for password in ("not-the-password", PASSWORD, "not-the-password"):
            monkeypatch.setenv("TRACKING_MONITOR_MAIL_PASSWORD", password)
            await daemon.mail_job()
            clock[0] += timedelta(minutes=15)
        assert "12-34567-89012" in orders(path)
        assert len([k for k in daemon.store.notified_keys() if k.startswith("mail_failing:")]) == 2
    finally:
        await close(daemon)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is: nothing listens there


def test_account_names_user_host_and_default_port(tmp_path: Path, server: MailServer) -> None:
    """A mailbox without a port is IMAP's over TLS, 993."""
    from monitor.watchlist import ImapSection

    imap = ImapSection(host="imap.example.org", user="me", password_secret="mail_password")
    assert account(imap) == "me@imap.example.org:993"
