"""Real notification endpoints on 127.0.0.1 for the notification tests: HTTP, SMTP, and an HTTPS proxy for Slack."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Request:
    """One request a server received."""

    tunnel: str  # "host:port" of a CONNECT tunnel, else ""
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text


@dataclass
class Behaviour:
    """What the HTTP server answers: `fail` more requests get 500, each waits for `gate` if set, and a success
    is answered `delay` seconds after it was received (a slow service)."""

    fail: int = 0
    gate: threading.Event | None = None
    delay: float = 0.0
    ok: bytes = b"{}"  # the body of a success
    received: list[Request] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)  # set at each success
    attempts: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tunnel = ""

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server's naming
        """An HTTPS proxy tunnel: answer 200, then speak TLS as the host asked for and read the request inside."""
        self.send_response(200, "Connection established")
        self.end_headers()
        self.connection = self.server.tls.wrap_socket(self.connection, server_side=True)  # type: ignore[attr-defined]
        self.rfile, self.wfile = self.connection.makefile("rb"), self.connection.makefile("wb")
        self.tunnel = self.path
        self.handle_one_request()
        self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        b: Behaviour = self.server.behaviour  # type: ignore[attr-defined]
        b.attempts += 1
        if b.gate is not None:
            b.gate.wait(30)
        failing = b.fail > 0
        if failing:
            b.fail -= 1
        else:
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            b.received.append(Request(self.tunnel, self.path, dict(self.headers), body))
            b.arrived.set()
            time.sleep(b.delay)
        answer = b'{"code": 500, "error": "down for the test"}' if failing else b.ok
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_server(tls: ssl.SSLContext | None = None) -> Iterator[tuple[int, Behaviour]]:
    """A local HTTP server (and HTTPS proxy when `tls` is given); yields its port and behaviour."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.behaviour, server.tls = Behaviour(), tls  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], server.behaviour  # type: ignore[attr-defined]
    finally:
        if server.behaviour.gate is not None:  # type: ignore[attr-defined]
            server.behaviour.gate.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


@contextmanager
def slack_proxy(tmp: Path) -> Iterator[tuple[dict[str, str], Behaviour]]:
    """An HTTPS proxy that is hooks.slack.com to whoever tunnels through it, with a CA of its own.

    Yields the environment that points `requests` (which Apprise's Slack plugin uses) at it, the way a proxy is
    configured anywhere: HTTPS_PROXY and REQUESTS_CA_BUNDLE. Nothing in Apprise is patched.
    """
    import trustme

    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.slack.com").configure_cert(tls)
    bundle = tmp / "proxy-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with http_server(tls) as (port, behaviour):
        behaviour.ok = b"ok"  # what Slack's webhook answers, and what Apprise checks for
        env = {"HTTPS_PROXY": f"http://127.0.0.1:{port}", "https_proxy": f"http://127.0.0.1:{port}",
               "REQUESTS_CA_BUNDLE": str(bundle), "NO_PROXY": "", "no_proxy": ""}
        yield env, behaviour


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[EmailMessage]]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields its port and the messages it received."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd needs a fixed port to check that it is up
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox.messages
    finally:
        controller.stop()
