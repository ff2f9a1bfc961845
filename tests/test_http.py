"""The shared HTTP layer: retries, waits the carrier imposes, budgets, size cap, OAuth tokens, secrets kept out."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from carriers import http as carrier_http
from carriers.errors import AuthError, BadPayloadError, RateLimitedError, UnavailableError
from carriers.http import OAuthCarrier, retry_after_seconds
from carriers.laposte import LaPosteCarrier
from tests.carrier_kit import NOW, build, fixture

BASE = "https://carrier.test"
URL = f"{BASE}/idships/6A18987654321"
OK = httpx.Response(200, json=fixture("laposte", "in_transit"))


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"Retry-After": "120"}, 120.0),
    ({"Retry-After": "Sat, 21 Nov 2026 12:05:00 GMT"}, 300.0),
    ({"Retry-After": "Sat, 21 Nov 2026 11:00:00 GMT"}, 0.0),  # already past: go now
    ({"X-RateLimit-Reset": str(int((NOW + timedelta(minutes=10)).timestamp()))}, 600.0),
    ({"X-RateLimit-Reset": "30"}, 30.0),  # some APIs send a delay, not a time
    ({"Retry-After": "soon"}, None),
    ({}, None),
])
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers), NOW) == seconds


# (answers in order, expected outcome, expected sleeps between attempts)
RETRIES = [
    ([httpx.Response(503), OK], "ok", 1),
    ([httpx.Response(502), httpx.Response(500), OK], "ok", 2),
    ([httpx.Response(500)] * 3, UnavailableError, 2),
    ([httpx.ConnectError("refused"), OK], "ok", 1),
    ([httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow")], UnavailableError, 2),
    ([httpx.Response(429, headers={"Retry-After": "7"}), OK], "ok", 1),  # short wait: honoured in place
    ([httpx.Response(429, headers={"Retry-After": "3600"})], RateLimitedError, 0),  # long: left to the monitor
    ([httpx.Response(401)], AuthError, 0),  # a wrong key never fixes itself: no retry
    ([httpx.Response(403)], AuthError, 0),
    ([httpx.Response(418)], BadPayloadError, 0),
]


@pytest.mark.parametrize(("answers", "expected", "sleeps"), RETRIES)
@respx.mock
async def test_retry_policy(answers: list, expected: object, sleeps: int) -> None:
    route = respx.get(URL).mock(side_effect=answers)
    carrier = build(LaPosteCarrier)
    try:
        outcome: object = (await carrier.fetch(["6A18987654321"]))["6A18987654321"]
    except Exception as exc:
        outcome = exc
    if expected == "ok":
        assert not isinstance(outcome, Exception)
    else:
        assert isinstance(outcome, expected), outcome  # type: ignore[arg-type]
    assert len(carrier.slept) == sleeps and route.call_count == sleeps + 1  # type: ignore[attr-defined]
    assert all(0 < s <= carrier_http.RETRY_WAIT_MAX for s in carrier.slept)  # type: ignore[attr-defined]


@respx.mock
async def test_short_retry_after_is_waited_exactly() -> None:
    respx.get(URL).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), OK])
    carrier = build(LaPosteCarrier)
    await carrier.fetch(["6A18987654321"])
    assert carrier.slept == [7.0]  # type: ignore[attr-defined]


@respx.mock
async def test_long_retry_after_is_reported_for_the_monitor_to_store() -> None:
    respx.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitedError) as err:
        await build(LaPosteCarrier).fetch(["6A18987654321"])
    assert err.value.retry_after == 3600.0


@respx.mock
async def test_oversized_answer_is_refused() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, content=b"[" + b" " * (carrier_http.MAX_BODY + 1)))
    with pytest.raises(BadPayloadError, match="larger than"):
        await build(LaPosteCarrier).fetch(["6A18987654321"])


@respx.mock
async def test_daily_budget_stops_calls_and_says_when_it_resets() -> None:
    route = respx.get(URL).mock(return_value=OK)
    carrier = build(LaPosteCarrier, daily_budget=2)
    await carrier.fetch(["6A18987654321"])
    await carrier.fetch(["6A18987654321"])
    with pytest.raises(RateLimitedError, match="daily budget of 2") as err:
        await carrier.fetch(["6A18987654321"])
    assert route.call_count == 2
    assert err.value.retry_after == 12 * 3600  # NOW is 12:00 UTC: the budget resets at 00:00 UTC
    assert carrier.budget.drain() == 2 and carrier.budget.drain() == 0


async def test_every_request_has_a_timeout() -> None:
    carrier = build(LaPosteCarrier, timeout=3)
    assert carrier.client.timeout.read == 3 and carrier.client.timeout.connect == 3
    await carrier.aclose()


class Tokened(OAuthCarrier):
    """A minimal OAuth carrier to test the token cache on its own."""

    id = "oauthtest"
    label = "OAuth test"
    BASE_URL = BASE
    TOKEN_PATH = "/oauth/token"

    async def fetch(self, numbers):  # type: ignore[no-untyped-def]
        """GET /track/<n> with the Bearer token."""
        resp = await self.request("GET", f"/track/{numbers[0]}")
        return {numbers[0]: self.json(resp)}


def _clocked(carrier: Tokened, times: list[datetime]) -> None:
    carrier.clock = lambda: times[0]


@respx.mock
async def test_token_is_cached_until_shortly_before_it_expires() -> None:
    token = respx.post(f"{BASE}/oauth/token").mock(side_effect=[
        httpx.Response(200, json={"access_token": "tok-1", "expires_in": 3600}),
        httpx.Response(200, json={"access_token": "tok-2", "expires_in": 3600}),
    ])
    track = respx.get(f"{BASE}/track/N1").mock(return_value=httpx.Response(200, json={}))
    carrier = build(Tokened)
    times = [NOW]
    _clocked(carrier, times)  # type: ignore[arg-type]
    await carrier.fetch(["N1"])
    times[0] = NOW + timedelta(minutes=50)
    await carrier.fetch(["N1"])
    assert token.call_count == 1
    times[0] = NOW + timedelta(minutes=59)  # inside the 2-minute margin: a new token first
    await carrier.fetch(["N1"])
    assert token.call_count == 2
    assert track.calls[-1].request.headers["Authorization"] == "Bearer tok-2"


@respx.mock
async def test_a_401_refreshes_the_token_once() -> None:
    token = respx.post(f"{BASE}/oauth/token").mock(side_effect=[
        httpx.Response(200, json={"access_token": "revoked", "expires_in": 3600}),
        httpx.Response(200, json={"access_token": "fresh", "expires_in": 3600}),
    ])
    respx.get(f"{BASE}/track/N1").mock(side_effect=lambda req: httpx.Response(
        200 if req.headers["Authorization"] == "Bearer fresh" else 401, json={}))
    assert await build(Tokened).fetch(["N1"]) == {"N1": {}}
    assert token.call_count == 2


@respx.mock
async def test_rejected_client_secret_is_an_auth_error_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = respx.post(f"{BASE}/oauth/token").mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    with pytest.raises(AuthError) as err:
        await build(Tokened).fetch(["N1"])
    assert token.call_count == 1
    text = str(err.value) + "".join(r.getMessage() for r in caplog.records)
    assert "test-secret" not in text and "test-id" not in text


def test_missing_credentials_name_the_keys_and_the_environment() -> None:
    carrier = LaPosteCarrier(LaPosteCarrier.Settings(), clock=lambda: datetime.now(UTC))
    assert carrier.missing_credentials() == (
        "no api_key: set it in [carriers.laposte], or TRACKING_MONITOR_LAPOSTE_API_KEY")
    assert "test-key" not in repr(build(LaPosteCarrier).settings)  # SecretStr: never printed
