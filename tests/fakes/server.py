"""The fake server: one ThreadingHTTPServer on 127.0.0.1 hosting every fake carrier API under /<carrier id>.

Parcels are scripted once in neutral terms (`Step`s in a `World`); each fake API renders them in its
carrier's wire format, checks its auth header and batch limit, and can be told to fail (429 with
Retry-After, 500, garbage) or to answer slowly. Tests and benchmarks point `base_url` at `server.url(id)`.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Stage(StrEnum):
    """What happened to a parcel, in words every fake API translates into its own codes."""

    INFO_RECEIVED = "info_received"
    PICKED_UP = "picked_up"
    EXPORTED = "exported"  # left the origin country / handed to the airline
    ARRIVED = "arrived"  # arrived in the destination country
    IN_TRANSIT = "in_transit"
    CUSTOMS = "customs"  # customs cleared or in progress
    CUSTOMS_HELD = "customs_held"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNING = "returning"
    RETURNED = "returned"
    EXCEPTION = "exception"


@dataclass(frozen=True)
class Step:
    """One scripted tracking event."""

    at: datetime
    stage: Stage
    text: str
    city: str = ""
    country: str = ""


@dataclass
class World:
    """Scripted parcels and the fake 'now': a step is visible once its time has come."""

    parcels: dict[str, list[Step]] = field(default_factory=dict)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def add(self, number: str, *steps: Step) -> None:
        """Script a parcel (no steps: the number exists but has no events yet)."""
        self.parcels[number] = sorted(steps, key=lambda s: s.at)

    def visible(self, number: str) -> list[Step] | None:
        """Steps visible now, newest last; None for a number the carrier does not know."""
        steps = self.parcels.get(number)
        if steps is None:
            return None
        now = self.now()
        seen = [s for s in steps if s.at <= now]
        return seen or None


@dataclass
class Request:
    """What a fake API sees of one request."""

    method: str
    path: str  # after /<carrier id>
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        """The body as an urlencoded form."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Response:
    """What a fake API answers."""

    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The body on the wire."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode() if self.body is not None else b""


class FakeApi:
    """Base of one fake carrier API; subclasses implement `handle`."""

    id: str = ""

    def __init__(self, world: World, key: str = "test-key") -> None:
        self.world = world
        self.key = key

    def handle(self, req: Request) -> Response:
        """Answer one request in the carrier's wire format."""
        raise NotImplementedError


@dataclass
class Logged:
    """One request the server received."""

    carrier: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int


class FakeCarrierServer:
    """Start with `with FakeCarrierServer(world, apis) as server:`; `server.url(id)` is that API's base_url."""

    def __init__(self, world: World, apis: list[FakeApi], latency: float = 0.0) -> None:
        self.world = world
        self.apis = {api.id: api for api in apis}
        self.latency = latency  # seconds added to every answer (the benchmark's 50 ms)
        self.forced: dict[str, list[Response]] = {}  # carrier id -> answers to give before the real ones
        self.log: list[Logged] = []
        self.in_flight = self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def url(self, carrier: str) -> str:
        """base_url for one fake API."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{carrier}"

    def force(self, carrier: str, *answers: Response) -> None:
        """The next requests to this carrier get these answers, in order (429s, 500s, garbage)."""
        self.forced.setdefault(carrier, []).extend(answers)

    def requests(self, carrier: str | None = None) -> list[Logged]:
        """Requests received, for one carrier or all."""
        with self._lock:
            return [r for r in self.log if carrier is None or r.carrier == carrier]

    def __enter__(self) -> FakeCarrierServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet: tests read server.log instead
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                carrier, _, rest = split.path.lstrip("/").partition("/")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, "/" + rest, parse_qs(split.query),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                with server._lock:
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    if server.latency:
                        time.sleep(server.latency)
                    resp = server._answer(carrier, req)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                with server._lock:
                    server.log.append(Logged(carrier, req.method, req.path, req.query, req.headers, body, resp.status))
                data = resp.encode()
                self.send_response(resp.status)
                headers = {"Content-Type": "application/json", **resp.headers, "Content-Length": str(len(data))}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 256
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, carrier: str, req: Request) -> Response:
        with self._lock:
            queue = self.forced.get(carrier)
            forced = queue.pop(0) if queue else None
        if forced is not None:
            return forced
        api = self.apis.get(carrier)
        if api is None:
            return Response(404, {"error": f"no fake API named {carrier!r}"})
        return api.handle(req)


def iso(at: datetime, offset: bool = True) -> str:
    """A timestamp as carriers write it: ISO 8601 with (or, some carriers, without) an offset."""
    return at.isoformat(timespec="seconds") if offset else at.replace(tzinfo=None).isoformat(timespec="seconds")

