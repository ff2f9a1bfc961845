"""A real IMAP server for tests: Debian's dovecot on 127.0.0.1, one throwaway user, everything in a temp dir."""
from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "buyer", "throwaway-password"

CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{certs}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{dir}/mail/%u
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MailServer:
    """A running dovecot: where to reach it, and helpers to put mail in and look at its flags."""

    port: int
    tls_port: int
    cert: Path | None
    directory: Path

    def client(self) -> imaplib.IMAP4:
        """A plain-text client logged in as the test user (to set the mailbox up, or look at it)."""
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver one mail, unread."""
        client = self.client()
        try:
            client.create(folder)
            typ, data = client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def unseen(self, folder: str = "INBOX") -> int:
        """How many mails of the folder are still unread."""
        client = self.client()
        try:
            client.select(folder, readonly=True)
            typ, data = client.search(None, "UNSEEN")
            return len(data[0].split())
        finally:
            client.logout()

    def count(self, folder: str = "INBOX") -> int:
        """How many mails the folder holds."""
        client = self.client()
        try:
            typ, data = client.select(folder, readonly=True)
            return int(data[0])
        finally:
            client.logout()


def _accounts(directory: Path) -> tuple[str, str, int, int]:
    """Who runs what: as root, dovecot's own users (it refuses mail access as root); else this user for all."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        os.chown(directory, mail.pw_uid, mail.pw_gid)
        return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


def _certificate(directory: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert


@contextlib.contextmanager
def mail_server() -> Iterator[MailServer]:
    """Start dovecot in a temp dir of its own and stop it (and remove the dir) at the end."""
    # Not under pytest's tmp_path: as root, dovecot's own users must pass through every parent folder, and
    # pytest's are private to root.
    directory = Path(tempfile.mkdtemp(prefix="tracking-monitor-dovecot-"))
    directory.chmod(0o755)
    internal, login, uid, gid = _accounts(directory)
    cert = _certificate(directory)
    certs = f"ssl_cert = <{cert}\nssl_key = <{directory / 'key.pem'}"
    (directory / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port, tls_port = _free_port(), _free_port()
    config = directory / "dovecot.conf"
    config.write_text(CONFIG.format(dir=directory, ssl="yes", certs=certs, internal=internal, login=login,
                                    internal_group=grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name, uid=uid, gid=gid, port=port,
                                    tls_port=tls_port))
    for sub in ("run", "state", "mail", "home"):
        (directory / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(directory / sub, uid, gid)
    os.chmod(directory / "run", 0o755)
    # Not through pipes: the daemon it forks keeps them open, and reading them would wait for its end.
    with (directory / "start.log").open("w") as out:
        started = subprocess.run([DOVECOT, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=out)
    if started.returncode != 0:
        raise RuntimeError(f"dovecot did not start: {(directory / 'start.log').read_text().strip()}")
    server = MailServer(port, tls_port, cert, directory)
    try:
        _wait_for(port, directory)
        yield server
    finally:
        subprocess.run([DOVECOT, "-c", str(config), "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_for(port: int, directory: Path) -> None:
    """Until the server answers (a poll of the port, not a sleep of a guessed length)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    log = (directory / "dovecot.log").read_text() if (directory / "dovecot.log").exists() else ""
    raise RuntimeError(f"dovecot did not listen on 127.0.0.1:{port}: {log[-500:]}")
