"""17TRACK v2.2: real-shaped answers map to Shipments or the right error; each number is registered exactly once."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from carriers.errors import (
    MAX_IMPOSED_WAIT,
    AuthError,
    BadPayloadError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from carriers.model import EventKind as K
from carriers.model import Handover, Shipment, Status
from carriers.track17 import NotRegisteredError, Track17Carrier, registered_key
from tests.carrier_kit import NOW, build, cycles_with_restarts, fixture
from tests.fakes.server import Stage, Step, World
from tests.fakes.track17 import Track17Api

BASE = "https://carrier.test"
N = "RR123456785CN"


def registered(*numbers: str) -> Track17Carrier:
    """An adapter that already registered these numbers (an earlier run did)."""
    carrier = build(Track17Carrier)
    carrier.memory.update({registered_key(n): "2026-11-01T00:00:00+00:00" for n in numbers})
    return carrier  # type: ignore[return-value]


# (fixture, number, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", N, Status.IN_TRANSIT, [K.INFO_RECEIVED, K.PICKED_UP, K.IN_TRANSIT, K.EXPORTED, K.ARRIVED, K.CUSTOMS]),
    ("delivered", N, Status.DELIVERED,
     [K.INFO_RECEIVED, K.PICKED_UP, K.EXPORTED, K.ARRIVED, K.IN_TRANSIT, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("returning", "RB123456785FR", Status.EXCEPTION, [K.PICKED_UP, K.EXPORTED, K.ARRIVED, K.IN_TRANSIT, K.RETURNING]),
    # The return scan has no stage: the Returning milestone at the same instant names it.
    ("returned", "RB123456785FR", Status.RETURNED, [K.PICKED_UP, K.ARRIVED, K.IN_TRANSIT, K.RETURNING, K.RETURNED]),
    ("lost", "LP00123456789012", Status.EXCEPTION, [K.PICKED_UP, K.EXPORTED, K.ARRIVED, K.LOST]),
    # Exception_Other beside "available for pick-up" (carriers.md, "Pickup"): waiting at a counter, not lost.
    ("pickup_exception_other", N, Status.AVAILABLE_FOR_PICKUP,
     [K.INFO_RECEIVED, K.PICKED_UP, K.IN_TRANSIT, K.EXPORTED, K.ARRIVED, K.IN_TRANSIT, K.AVAILABLE_FOR_PICKUP]),
    ("not_found", "RR999999995CN", NotFoundError, []),
    ("not_registered", N, NotRegisteredError, []),
]


@pytest.mark.parametrize(("name", "number", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_gettrackinfo(name: str, number: str, expected: object, kinds: list[K]) -> None:
    route = respx.post(f"{BASE}/gettrackinfo").mock(return_value=httpx.Response(200, json=fixture("17track", name)))
    carrier = registered(number)
    result = (await carrier.fetch([number]))[number]
    assert route.calls.last.request.headers["17token"] == "test-key"
    assert json.loads(route.calls.last.request.content) == [{"number": number}]
    if isinstance(expected, type):
        assert isinstance(result, expected), result
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.description and e.source == "17track" for e in result.events)


@respx.mock
async def test_local_times_and_estimate_are_kept() -> None:
    """time_iso keeps the scan's own offset; the estimate is the later bound of the range."""
    respx.post(f"{BASE}/gettrackinfo").mock(return_value=httpx.Response(200, json=fixture("17track", "in_transit")))
    result = (await registered(N).fetch([N]))[N]
    assert result.events[0].time.isoformat() == "2026-11-08T10:12:00+08:00"
    assert result.events[-1].location == "Roissy CDG" and result.raw_status == "InTransit_CustomsProcessing"
    assert result.estimated_delivery == date(2026, 11, 27)


@respx.mock
async def test_a_number_17track_forgot_is_registered_again_next_poll() -> None:
    """-18019902 drops the remembered registration, so the next fetch registers the number again."""
    respx.post(f"{BASE}/gettrackinfo").mock(return_value=httpx.Response(200, json=fixture("17track", "not_registered")))
    carrier = registered(N)
    assert isinstance((await carrier.fetch([N]))[N], UnavailableError)
    assert registered_key(N) not in carrier.memory


@pytest.mark.parametrize(("http", "body", "error"), [
    (200, fixture("17track", "invalid_key"), AuthError),
    (200, fixture("17track", "ip_not_allowed"), AuthError),
    (401, "", AuthError),
    (200, fixture("17track", "internal_error"), UnavailableError),
    (429, "", RateLimitedError),
    (200, fixture("17track", "too_many_numbers"), BadPayloadError),
    (200, "<html>maintenance</html>", BadPayloadError),
    (200, {"code": 0, "data": {"accepted": [{"number": N, "track_info": {
        "latest_status": {"status": "InTransit", "sub_status": "InTransit_Other"},
        "tracking": {"providers": [{"events": [{"description": "no time"}]}]}}}]}}, BadPayloadError),
], ids=["key-in-body", "ip-whitelist", "401", "internal", "429", "over-40", "html", "event-without-time"])
@respx.mock
async def test_errors(http: int, body: object, error: type[Exception]) -> None:
    content = body.encode() if isinstance(body, str) else None
    respx.post(f"{BASE}/gettrackinfo").mock(
        return_value=httpx.Response(http, json=None if content is not None else body, content=content))
    try:
        result = (await registered(N).fetch([N]))[N]
    except Exception as exc:  # whole-call errors are raised; the cycle spreads them over the batch
        result = exc
    assert isinstance(result, error), result


@respx.mock
async def test_registration_answers_and_quota() -> None:
    """Accepted and already-registered numbers are remembered; an undetected carrier is not found; a spent monthly
    quota waits a day (MAX_IMPOSED_WAIT, then one refused call a day until the 1st), and no registration call is
    spent on it within that day, even after a restart."""
    reg = respx.post(f"{BASE}/register").mock(return_value=httpx.Response(200, json=fixture("17track", "register")))
    info = respx.post(f"{BASE}/gettrackinfo").mock(return_value=httpx.Response(200, json=fixture("17track", "in_transit")))
    asked = [N, "RB123456785FR", "XX123", "LP00123456789012"]
    carrier = build(Track17Carrier)
    results = await carrier.fetch(asked)
    assert json.loads(reg.calls.last.request.content) == [{"number": n} for n in asked]
    assert [i["number"] for i in json.loads(info.calls.last.request.content)] == [N, "RB123456785FR"]
    assert results[N].status is Status.IN_TRANSIT
    assert isinstance(results["XX123"], NotFoundError) and "carrier" in str(results["XX123"])
    quota = results["LP00123456789012"]
    assert isinstance(quota, RateLimitedError) and quota.number == "LP00123456789012"
    assert quota.retry_after == MAX_IMPOSED_WAIT  # the reset is 9.5 days away: asked again tomorrow
    assert {registered_key(N), registered_key("RB123456785FR")} <= set(carrier.memory)

    again = build(Track17Carrier)  # a restart: same state, new adapter
    again.memory = carrier.memory
    second = await again.fetch(asked)
    assert reg.call_count == 1 and info.call_count == 2  # registered numbers are still read
    assert second[N].status is Status.IN_TRANSIT
    assert all(isinstance(second[n], RateLimitedError) for n in ("XX123", "LP00123456789012"))


@pytest.mark.parametrize("path", ["/register", "/gettrackinfo"])
@respx.mock
async def test_wrong_carrier_code_is_that_numbers_clear_error(path: str) -> None:
    """Source: 17TRACK API document v2.2 error codes (carriers.md, Nov 2026): -18019910 = wrong carrier code."""
    rejected = {"code": 0, "data": {"accepted": [], "rejected": [
        {"number": N, "error": {"code": -18019910, "message": "The carrier code is incorrect."}}]}}
    respx.post(f"{BASE}{path}").mock(return_value=httpx.Response(200, json=rejected))
    carrier = build(Track17Carrier) if path == "/register" else registered(N)
    route = respx.routes[0]
    result = (await carrier.fetch([N]))[N]
    assert isinstance(result, NotFoundError) and "carrier code" in str(result) and result.number == N
    request = route.calls.last.request  # contract: POST, the 17token header, a JSON array of {"number"}
    assert request.method == "POST" and request.headers["17token"] == "test-key"
    assert request.headers["Content-Type"] == "application/json" and json.loads(request.content) == [{"number": N}]


def scripted(count: int) -> World:
    world = World(now=lambda: NOW)
    for i in range(count):
        world.add(f"LP{i:014d}", Step(NOW - timedelta(days=3), Stage.PICKED_UP, "Accepted", "Shenzhen", "CN"))
    return world


async def test_each_number_registered_once_and_batches_of_40(tmp_path: Path) -> None:
    """95 orders, three cycles each with a fresh adapter (a restart): 95 registrations in all, no call above 40."""
    world = scripted(95)
    api = Track17Api(world)
    results, log = await cycles_with_restarts(tmp_path, Track17Carrier, api)
    assert [r.polled for r in results] == [95, 95, 95]
    sizes = [len(json.loads(r.body)) for r in log]
    sent = sorted(i["number"] for r in log if r.path == "/register" for i in json.loads(r.body))
    assert sent == sorted(api.registrations) == sorted(world.parcels)  # each once, across cycles and restarts
    assert max(sizes) == 40 and all(r.status == 200 for r in log)


@pytest.mark.parametrize(("name", "handover"), [("pickup_exception_other", Handover("6A12345678901", "Colissimo")),
                                                 ("in_transit", None)])
@respx.mock
async def test_the_last_mile_number_is_the_handover(name: str, handover: Handover | None) -> None:
    """track_info.misc_info.local_number / local_provider (the v2.2 document's fields, null when none) name the
    destination carrier's own number."""
    respx.post(f"{BASE}/gettrackinfo").mock(return_value=httpx.Response(200, json=fixture("17track", name)))
    result = (await registered(N).fetch([N]))[N]
    assert isinstance(result, Shipment) and result.handover == handover
