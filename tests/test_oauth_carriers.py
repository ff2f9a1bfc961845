"""USPS, UPS and FedEx tokens: fetched once and cached, refreshed once on a 401, a bad secret named, never logged."""
from __future__ import annotations

import base64
import logging
from datetime import timedelta

import httpx
import pytest
import respx

from carriers.errors import AuthError, BadPayloadError, CarrierError, UnavailableError
from carriers.model import Shipment
from tests.carrier_kit import NOW, fixture
from tests.oauth_kit import BASE, IDS, SPECS, Spec

pytestmark = pytest.mark.parametrize("s", SPECS, ids=IDS)


@respx.mock
async def test_two_fetches_ask_for_one_token(s: Spec) -> None:
    token, track = s.mock_token(), s.mock_track()
    carrier = s.carrier()
    for _ in range(2):
        assert isinstance((await carrier.fetch([s.number]))[s.number], Shipment)
    assert (token.call_count, track.call_count) == (1, 2)
    assert track.calls.last.request.headers["Authorization"] == f"Bearer {s.token()['access_token']}"


@respx.mock
async def test_a_token_about_to_expire_is_replaced(s: Spec) -> None:
    token, _ = s.mock_token(), s.mock_track()
    carrier = s.carrier()
    await carrier.fetch([s.number])
    ttl = float(s.token()["expires_in"])
    carrier.clock = lambda: NOW + timedelta(seconds=ttl) - carrier.TOKEN_MARGIN + timedelta(seconds=1)
    await carrier.fetch([s.number])
    assert token.call_count == 2


@respx.mock
async def test_a_401_refreshes_the_token_once_and_retries_once(s: Spec) -> None:
    denied = httpx.Response(401, json=fixture(s.id, "token_rejected"))
    token = s.mock_token()
    track = s.mock_track(denied, httpx.Response(200, json=fixture(s.id, s.ok)))
    result = (await s.carrier().fetch([s.number]))[s.number]
    assert isinstance(result, Shipment)
    assert (token.call_count, track.call_count) == (2, 2)


@respx.mock
async def test_a_token_refused_twice_is_an_auth_error(s: Spec) -> None:
    denied = httpx.Response(401, json=fixture(s.id, "token_rejected"))
    token, track = s.mock_token(), s.mock_track(denied, denied, denied)
    with pytest.raises(AuthError):
        await s.carrier().fetch([s.number])
    assert (token.call_count, track.call_count) == (2, 2)  # exactly one refresh, then give up


@respx.mock
async def test_an_answer_that_is_not_an_object_is_a_bad_payload(s: Spec) -> None:
    s.mock_token()
    s.mock_track(httpx.Response(200, json=[{"trackingNumber": s.number}]))
    with pytest.raises(BadPayloadError, match="answer is not an object") as err:
        await s.carrier().fetch([s.number])
    assert err.value.carrier == s.id


@pytest.mark.parametrize("http", [400, 401])
@respx.mock
async def test_a_bad_client_secret_names_the_carrier_and_is_not_retried(s: Spec, http: int) -> None:
    token = s.mock_token(httpx.Response(http, json=fixture(s.id, "token_rejected")))
    track = s.mock_track()
    carrier = s.carrier()
    with pytest.raises(AuthError) as caught:
        await carrier.fetch([s.number])
    assert caught.value.carrier == s.id and str(caught.value).startswith(f"{s.id}: ")
    assert (token.call_count, track.call_count) == (1, 0)
    assert carrier.slept == []  # type: ignore[attr-defined]


@respx.mock
async def test_the_token_request_follows_the_carrier_recipe(s: Spec) -> None:
    token, _ = s.mock_token(), s.mock_track()
    await s.carrier().fetch([s.number])
    sent = token.calls.last.request
    form = dict(httpx.QueryParams(sent.content.decode()))
    assert form["grant_type"] == "client_credentials"
    if s.id == "ups":  # HTTP Basic, no secret in the body
        assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"test-id:test-secret").decode()
        assert "client_secret" not in form
    else:
        assert (form["client_id"], form["client_secret"]) == ("test-id", "test-secret")
    assert form.get("scope") == ("tracking" if s.id == "usps" else None)


@respx.mock
async def test_secrets_never_reach_a_log_line_or_an_error(s: Spec, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "tracking_monitor"):
        caplog.set_level(logging.DEBUG, logger=name)
    # First a tracking endpoint that keeps failing, then (a new adapter) a refused client secret.
    s.mock_token(httpx.Response(200, json=s.token()), httpx.Response(401, json=fixture(s.id, "token_rejected")))
    s.mock_track(*[httpx.Response(500, text="upstream error")] * 3)
    errors: list[CarrierError] = []
    for expected in (UnavailableError, AuthError):
        with pytest.raises(expected) as caught:
            await s.carrier().fetch([s.number])
        errors.append(caught.value)
    said = [r.getMessage() for r in caplog.records] + [f"{e!s} {e!r}" for e in errors]
    assert any(BASE in line for line in said)  # the requests were logged, so the check below means something
    for secret in ("test-secret", s.token()["access_token"]):
        assert not [line for line in said if secret in line], secret
