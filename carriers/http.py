"""What every HTTP carrier shares: settings, one httpx client, rate limit, daily budget, retries, error mapping.

An adapter subclasses `HttpCarrier`, builds requests with `self.request(...)`, and keeps its payload reading
in a pure `parse` function. Everything here turns transport trouble into the typed errors of
`carriers.errors`, so the monitor only ever sees those.
"""
from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from carriers.base import Carrier, CarrierSettings, Clock, DailyBudget
from carriers.errors import MAX_IMPOSED_WAIT as MAX_IMPOSED_WAIT  # re-exported: the monitor clamps stored waits
from carriers.errors import AuthError, BadPayloadError, CarrierError, RateLimitedError, UnavailableError, imposed_wait

# httpx's __init__ imports its command-line tool (click, rich, pygments: 2.5 MiB of a Raspberry Pi daemon's 60) when
# they are installed, as typer brings them. A None entry makes that import fail, which httpx handles with a stub.
sys.modules.setdefault("httpx._main", None)
import httpx  # noqa: E402

log = logging.getLogger("tracking_monitor.carriers")
# httpx logs every request URL at INFO; keep it quiet so no query string ever reaches the journal.
logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_BODY = 4 * 1024 * 1024  # bytes: a tracking answer is a few kB; anything this big is garbage or an attack
RETRY_ATTEMPTS = 3
RETRY_WAIT_MAX = 30.0  # seconds between attempts, and the longest Retry-After honoured within one call
TOKEN_TTL_MAX = 24 * 3600.0  # seconds: a token said to live longer (or forever) is asked for again after a day
USER_AGENT = "tracking-monitor (+https://github.com/tracking-monitor/tracking-monitor)"


class HttpSettings(CarrierSettings):
    """Keys every HTTP carrier accepts in `[carriers.<id>]`."""

    base_url: str | None = None  # tests, proxies, regional endpoints; default: the carrier's documented one
    rate: float | None = Field(default=None, gt=0)  # requests per second; default: the documented limit
    daily_budget: int | None = Field(default=None, ge=0)  # requests per UTC day; default: the documented quota
    concurrency: int = Field(default=4, ge=1, le=64)  # requests in flight at once
    timeout: float = Field(default=20.0, gt=0, le=300)  # seconds per request

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/") if value else value


class ApiKeySettings(HttpSettings):
    """An HTTP carrier that authenticates with one API key."""

    api_key: SecretStr | None = None


class OAuthSettings(HttpSettings):
    """An HTTP carrier that authenticates with OAuth client credentials."""

    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None


CREDENTIAL_FIELDS = ("api_key", "client_id", "client_secret")


class RateLimiter:
    """At most `rate` request starts per second and `concurrency` requests in flight."""

    def __init__(self, rate: float | None, concurrency: int) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.slots = asyncio.Semaphore(concurrency)
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        """Sleep until the next request may start."""
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


# Retry-After's delay-seconds and X-RateLimit-Reset, in ASCII digits: str.isdigit() also accepts "²" and "٣".
_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (a Unix time) as seconds from now.

    Always within [0, MAX_IMPOSED_WAIT]; None when neither header can be read, so the monitor's default wait applies.
    """
    value = (headers.get("retry-after") or "").strip()
    if _SECONDS.fullmatch(value):
        return imposed_wait(float(value))  # a 5,000-digit value is inf as a float, never an int overflow
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError, IndexError):  # garbage, or a year too large for C
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            return imposed_wait((when - now).total_seconds())
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if _SECONDS.fullmatch(reset):
        stamp = float(reset)
        # Some APIs send seconds to wait, most a Unix time; a small number can only be a delay.
        return imposed_wait(stamp if stamp < 10**9 else stamp - now.timestamp())
    return None


def _transient(exc: BaseException) -> bool:
    """Worth another attempt within this call: network trouble, 5xx, or a short 429."""
    if isinstance(exc, RateLimitedError):
        return exc.retry_after is None or exc.retry_after <= RETRY_WAIT_MAX
    return isinstance(exc, UnavailableError)


class HttpCarrier(Carrier):
    """A carrier reached over HTTPS; subclasses set BASE_URL and the documented limits."""

    BASE_URL: ClassVar[str]
    DEFAULT_RATE: ClassVar[float | None] = None
    DEFAULT_DAILY_BUDGET: ClassVar[int | None] = None
    MIN_INTERVAL: ClassVar[timedelta | None] = None  # poll one number no more often than this
    refreshes_on_401: ClassVar[bool] = False
    Settings: ClassVar[type[CarrierSettings]] = ApiKeySettings
    settings: HttpSettings

    def __init__(self, settings: CarrierSettings, *, clock: Clock,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings, clock=clock)
        self.base_url = self.settings.base_url or self.BASE_URL
        rate = self.settings.rate or self.DEFAULT_RATE
        self.limiter = RateLimiter(rate, self.settings.concurrency)
        limit = self.settings.daily_budget if self.settings.daily_budget is not None else self.DEFAULT_DAILY_BUDGET
        self.budget = DailyBudget(limit)
        self.sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep  # tests swap in a recorder
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def missing_credentials(self) -> str | None:
        """Name the credential keys that are not set."""
        missing = [f for f in CREDENTIAL_FIELDS
                   if f in type(self.settings).model_fields and getattr(self.settings, f) is None]
        if not missing:
            return None
        env = " / ".join(f"TRACKING_MONITOR_{env_id(self.id)}_{f.upper()}" for f in missing)
        return f"no {' and '.join(missing)}: set {'them' if len(missing) > 1 else 'it'} in [carriers.{self.id}], or {env}"

    def secret(self, name: str) -> str:
        """A credential's value, for a request header only."""
        value = getattr(self.settings, name)
        return value.get_secret_value() if value is not None else ""

    @property
    def client(self) -> httpx.AsyncClient:
        """One pooled client per carrier, created on first use inside the running loop."""
        if self._client is None:
            limits = httpx.Limits(max_connections=self.settings.concurrency,
                                  max_keepalive_connections=self.settings.concurrency)
            self._client = httpx.AsyncClient(
                timeout=self.settings.timeout, limits=limits, transport=self._transport,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"}, follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def auth_headers(self, *, refresh: bool = False) -> dict[str, str]:
        """Headers that authenticate a request; OAuth adapters fetch or refresh a token here."""
        return {}

    async def request(self, method: str, path: str, *, ok: tuple[int, ...] = (), **kw: Any) -> httpx.Response:
        """Send one request with rate limit, budget, retries and error mapping; `ok` lists extra statuses to return."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            wait=self._wait,
            retry=retry_if_exception(_transient),
            sleep=self.sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(method, path, ok, kw)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _wait(self, state: Any) -> float:
        """Exponential backoff with jitter; a short Retry-After is honoured exactly."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, RETRY_WAIT_MAX)
        return wait_exponential_jitter(initial=1, max=RETRY_WAIT_MAX, jitter=1)(state)

    async def _send(self, method: str, path: str, ok: tuple[int, ...], kw: dict[str, Any]) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        refreshed = False
        while True:
            self.budget.take(self.clock, self.id)
            await self.limiter.wait_turn()
            headers = {**kw.get("headers", {}), **await self.auth_headers(refresh=refreshed)}
            async with self.limiter.slots:
                try:
                    async with self.client.stream(method, url, **{**kw, "headers": headers}) as resp:
                        await self._read_capped(resp)
                except httpx.TimeoutException:
                    raise UnavailableError(f"no answer within {self.settings.timeout:g} s", carrier=self.id) from None
                except httpx.HTTPError as exc:
                    raise UnavailableError(f"network error: {type(exc).__name__}", carrier=self.id) from None
            if resp.status_code == 401 and not refreshed and self.refreshes_on_401:
                refreshed = True  # an OAuth token may have been revoked early: one fresh token, one more try
                continue
            return self._check(resp, ok)

    async def _read_capped(self, resp: httpx.Response) -> None:
        body = bytearray()
        async for chunk in resp.aiter_bytes():  # decoded: the cap also stops a compression bomb
            body += chunk
            if len(body) > MAX_BODY:
                raise BadPayloadError(f"answer larger than {MAX_BODY // 1024 // 1024} MiB", carrier=self.id)
        resp._content = bytes(body)  # what resp.read() would have stored; .content/.json() work as usual

    def _check(self, resp: httpx.Response, ok: tuple[int, ...]) -> httpx.Response:
        code = resp.status_code
        if 200 <= code < 300 or code in ok:
            return resp
        if code in (401, 403):
            raise AuthError(f"credentials rejected (HTTP {code}): check [carriers.{self.id}]", carrier=self.id)
        if code == 429:
            wait = retry_after_seconds(resp.headers, self.clock())
            raise RateLimitedError("rate limited (HTTP 429)", carrier=self.id, retry_after=wait)
        if code >= 500 or code == 408:
            raise UnavailableError(f"server error (HTTP {code})", carrier=self.id)
        raise BadPayloadError(f"unexpected HTTP {code}", carrier=self.id)

    def json(self, resp: httpx.Response) -> Any:
        """The body as JSON, or BadPayloadError naming the carrier."""
        try:
            return json.loads(resp.content)
        except (ValueError, UnicodeDecodeError):
            raise BadPayloadError(f"answer is not JSON (HTTP {resp.status_code})", carrier=self.id) from None

    def json_object(self, resp: httpx.Response) -> dict[str, Any]:
        """The body as a JSON object, or BadPayloadError naming the carrier."""
        payload = self.json(resp)
        if not isinstance(payload, dict):
            raise BadPayloadError("answer is not an object", carrier=self.id)
        return payload


class OAuthCarrier(HttpCarrier):
    """A carrier using OAuth client credentials: the token is cached until shortly before it expires."""

    Settings: ClassVar[type[CarrierSettings]] = OAuthSettings
    TOKEN_PATH: ClassVar[str]
    TOKEN_MARGIN: ClassVar[timedelta] = timedelta(minutes=2)
    refreshes_on_401 = True
    settings: OAuthSettings

    def __init__(self, settings: CarrierSettings, *, clock: Clock,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings, clock=clock, transport=transport)
        self._token: str | None = None  # kept in memory only: a token is a secret, never stored
        self._expires = datetime.min.replace(tzinfo=UTC)
        self._token_lock = asyncio.Lock()

    def token_request(self) -> dict[str, Any]:
        """httpx keyword arguments for the token POST (form and/or Basic auth): the carrier's own recipe."""
        return {"data": {"grant_type": "client_credentials", "client_id": self.secret("client_id"),
                         "client_secret": self.secret("client_secret")}}

    async def auth_headers(self, *, refresh: bool = False) -> dict[str, str]:
        """A Bearer header with a cached token; a new one when asked or when it is about to expire."""
        async with self._token_lock:
            if refresh or self._token is None or self.clock() >= self._expires - self.TOKEN_MARGIN:
                await self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    async def _fetch_token(self) -> None:
        url = f"{self.base_url}{self.TOKEN_PATH}"
        try:
            resp = await self.client.post(url, **self.token_request())
        except httpx.TimeoutException:
            raise UnavailableError("token endpoint did not answer", carrier=self.id) from None
        except httpx.HTTPError as exc:
            raise UnavailableError(f"token endpoint: network error: {type(exc).__name__}", carrier=self.id) from None
        if resp.status_code in (400, 401, 403):
            raise AuthError(f"client_id/client_secret rejected (HTTP {resp.status_code})", carrier=self.id)
        data = self.json(self._check(resp, ()))
        token, ttl = (data.get("access_token"), data.get("expires_in")) if isinstance(data, dict) else (None, None)
        if not isinstance(token, str) or not token:
            raise BadPayloadError("token answer has no access_token", carrier=self.id)
        try:
            seconds = float(ttl) if ttl is not None else 3600.0
        except (TypeError, ValueError, OverflowError):
            seconds = 3600.0
        # "inf", 1e308 or a negative expires_in must not overflow the expiry time; NaN is unreadable.
        seconds = min(max(seconds, 0.0), TOKEN_TTL_MAX) if seconds == seconds else 3600.0
        self._token, self._expires = token, self.clock() + timedelta(seconds=seconds)


def env_id(carrier_id: str) -> str:
    """A carrier id as it appears in environment variable names (17track -> 17TRACK)."""
    return "".join(ch if ch.isalnum() else "_" for ch in carrier_id).upper()


# What a pure parse raises on an answer of the wrong shape; OverflowError and OSError come from times and
# epochs out of range (datetime.fromtimestamp), which must cost one number, never the batch.
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, OSError)


def guard(carrier: str, number: str, parse: Callable[..., Any], *args: Any) -> Any:
    """Run a pure parse; anything it did not expect is returned as a BadPayloadError for that number.

    Returned, not raised: a batch adapter stores it beside the other numbers' results, so one unreadable item
    never costs the batch. A CarrierError the parse raises on purpose (the whole answer is wrong) goes through.
    """
    try:
        return parse(*args)
    except CarrierError:
        raise
    except UNREADABLE as exc:
        log.warning("%s %s: unreadable answer: %s: %s", carrier, number, type(exc).__name__, exc)
        return BadPayloadError(f"unreadable answer ({type(exc).__name__})", carrier=carrier, number=number)
