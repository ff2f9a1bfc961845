"""AfterShip Tracking API: real-shaped answers map to Shipments or the right error; each number is created once."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from carriers.aftership import AfterShipCarrier, created_key
from carriers.errors import AuthError, BadPayloadError, NotFoundError, RateLimitedError, UnavailableError
from carriers.model import EventKind as K
from carriers.model import Handover, Shipment, Status
from tests.carrier_kit import NOW, build, cycles_with_restarts, fixture
from tests.fakes.aftership import AfterShipApi
from tests.fakes.server import Stage, Step, World

BASE = "https://carrier.test"
N = "EE123456785CN"


def created(*numbers: str) -> AfterShipCarrier:
    """An adapter that already created these numbers (an earlier run did)."""
    carrier = build(AfterShipCarrier)
    carrier.memory.update({created_key(n): "b4a7c6e1a5f24f3e9ad1a7c2a8f0e311" for n in numbers})
    return carrier  # type: ignore[return-value]


# (fixture, number, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", N, Status.IN_TRANSIT, [K.INFO_RECEIVED, K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.CUSTOMS]),
    ("delivered", N, Status.DELIVERED, [K.INFO_RECEIVED, K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.CUSTOMS,
                                        K.IN_TRANSIT, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("returning", "RB123456785FR", Status.EXCEPTION,
     [K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.ADDRESS_PROBLEM, K.RETURNING]),
    ("returned", "RB123456785FR", Status.RETURNED,
     [K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.ADDRESS_PROBLEM, K.RETURNING, K.RETURNED]),
    ("held_for_payment", N, Status.EXCEPTION, [K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.CUSTOMS_HELD]),
    ("attempt_fail", N, Status.DELIVERY_FAILED,
     [K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.OUT_FOR_DELIVERY, K.DELIVERY_FAILED]),
    ("pending", "EE999999995CN", NotFoundError, []),
    ("absent", N, UnavailableError, []),  # deleted on AfterShip's side: created again at the next poll
]


@pytest.mark.parametrize(("name", "number", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_read(name: str, number: str, expected: object, kinds: list[K]) -> None:
    route = respx.get(f"{BASE}/trackings").mock(return_value=httpx.Response(200, json=fixture("aftership", name)))
    respx.get(url__regex=rf"{BASE}/trackings/\w+").mock(  # absent from the list and unknown by its id too
        return_value=httpx.Response(404, json={"meta": {"code": 4004, "message": "Tracking does not exist."}}))
    result = (await created(number).fetch([number]))[number]
    assert route.calls.last.request.headers["as-api-key"] == "test-key"
    assert route.calls.last.request.url.params["tracking_numbers"] == number
    if isinstance(expected, type):
        assert isinstance(result, expected), result
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.code and e.source == "aftership" for e in result.events)


@respx.mock
async def test_places_codes_and_estimate() -> None:
    """A checkpoint keeps its subtag as code, its place, its offset; the courier's estimate is kept."""
    respx.get(f"{BASE}/trackings").mock(return_value=httpx.Response(200, json=fixture("aftership", "in_transit")))
    result = (await created(N).fetch([N]))[N]
    first, last = result.events[0], result.events[-1]
    assert (first.code, first.location, first.time.isoformat()) == (
        "InfoReceived_001", "Shenzhen, CHN", "2026-11-08T10:12:00+08:00")
    assert (last.code, last.location, last.description) == ("InTransit_006", "ROISSY CDG", "Held by import customs")
    assert result.estimated_delivery == date(2026, 11, 27) and result.extra["slug"] == "china-ems"


@pytest.mark.parametrize(("http", "body", "expected"), [
    (201, fixture("aftership", "created"), Status.IN_TRANSIT),
    (400, fixture("aftership", "already_exists"), Status.IN_TRANSIT),
    (400, fixture("aftership", "carrier_not_detected"), NotFoundError),
    (401, fixture("aftership", "invalid_key"), AuthError),
], ids=["created", "exists", "carrier-unknown", "bad-key"])
@respx.mock
async def test_creation(http: int, body: object, expected: object) -> None:
    """A new number is created first (4003 counts as created); one AfterShip cannot track is not found."""
    post = respx.post(f"{BASE}/trackings").mock(return_value=httpx.Response(http, json=body))
    respx.get(f"{BASE}/trackings").mock(return_value=httpx.Response(200, json=fixture("aftership", "in_transit")))
    carrier = build(AfterShipCarrier)
    try:
        result = (await carrier.fetch([N]))[N]
    except Exception as exc:
        result = exc
    assert json.loads(post.calls.last.request.content) == {"tracking_number": N}
    if isinstance(expected, type):
        assert isinstance(result, expected), result
        assert created_key(N) not in carrier.memory
    else:
        assert result.status is expected and created_key(N) in carrier.memory


@pytest.mark.parametrize(("http", "body", "headers", "error"), [
    (401, fixture("aftership", "invalid_key"), {}, AuthError),
    (429, fixture("aftership", "rate_limited"), {"X-RateLimit-Reset": str(int(NOW.timestamp()) + 600)},
     RateLimitedError),
    (503, "", {}, UnavailableError),
    (200, "<html>maintenance</html>", {}, BadPayloadError),
    (200, {"meta": {"code": 200}, "data": {"trackings": [{"tracking_number": N, "tag": "InTransit",
                                                          "checkpoints": [{"tag": "InTransit"}]}]}}, {},
     BadPayloadError),
], ids=["401", "429", "503", "html", "checkpoint-without-time"])
@respx.mock
async def test_errors(http: int, body: object, headers: dict[str, str], error: type[Exception]) -> None:
    content = body.encode() if isinstance(body, str) else None
    respx.get(f"{BASE}/trackings").mock(
        return_value=httpx.Response(http, json=None if content is not None else body, content=content, headers=headers))
    carrier = created(N)
    try:
        result = (await carrier.fetch([N]))[N]
    except Exception as exc:  # whole-call errors are raised; the cycle spreads them over the batch
        result = exc
    assert isinstance(result, error), result
    if isinstance(result, RateLimitedError):
        assert result.retry_after == 600  # X-RateLimit-Reset, a Unix time, honoured by the shared layer


async def test_each_number_created_once_and_batches_of_50(tmp_path: Path) -> None:
    """120 orders, three cycles each with a fresh adapter (a restart): 120 creations in all, no list above 50."""
    world = World(now=lambda: NOW)
    for i in range(120):
        world.add(f"EE{i:09d}CN", Step(NOW - timedelta(days=3), Stage.PICKED_UP, "Accepted", "Shenzhen", "CN"))
    api = AfterShipApi(world)
    results, log = await cycles_with_restarts(tmp_path, AfterShipCarrier, api)
    for result in results:
        assert result.polled == 120 and not [f for f in result.findings if f.kind.value == "source_failing"]
    posts = [json.loads(r.body)["tracking_number"] for r in log if r.method == "POST"]
    lists = [r.query["tracking_numbers"][0].split(",") for r in log if r.method == "GET"]
    assert sorted(posts) == sorted(world.parcels) and all(r.status < 300 for r in log)
    assert max(len(numbers) for numbers in lists) == 50 and len(lists) == 9


def created_since(tracking: dict[str, object], created_at: datetime):  # noqa: ANN201 - a respx side effect
    """GET /trackings as AfterShip filters it: only trackings created at or after `created_at_min` (default 30 days)."""
    def answer(request: httpx.Request) -> httpx.Response:
        raw = request.url.params.get("created_at_min")
        since = datetime.fromisoformat(raw) if raw else NOW - timedelta(days=30)
        listed = [tracking] if created_at >= since else []
        return httpx.Response(200, json={"meta": {"code": 200}, "data": {
            "pagination": {"total": len(listed), "next_cursor": None, "has_next_page": False}, "trackings": listed}})
    return answer


@respx.mock
async def test_a_tracking_created_60_days_ago_is_still_read() -> None:
    """Source: the SDK docs of GET /trackings: `created_at_min` defaults to 30 days ago (carriers.md, Nov 2026)."""
    tracking = fixture("aftership", "in_transit")["data"]["trackings"][0]
    route = respx.get(f"{BASE}/trackings").mock(side_effect=created_since(tracking, NOW - timedelta(days=60)))
    result = (await created(N).fetch([N]))[N]
    assert result.status is Status.IN_TRANSIT
    params = route.calls.last.request.url.params  # contract: the documented list query
    assert (params["tracking_numbers"], params["limit"]) == (N, "200")
    assert datetime.fromisoformat(params["created_at_min"]) <= NOW - timedelta(days=60)


@respx.mock
async def test_already_exists_reads_the_existing_tracking_by_its_id() -> None:
    """4003 (HTTP 400, carriers.md) names the tracking's id: an old tracking outside the list is read by that id."""
    tracking = fixture("aftership", "in_transit")["data"]["trackings"][0]
    ident = fixture("aftership", "already_exists")["data"]["id"]
    respx.post(f"{BASE}/trackings").mock(return_value=httpx.Response(400, json=fixture("aftership", "already_exists")))
    respx.get(f"{BASE}/trackings").mock(side_effect=created_since(tracking, NOW - timedelta(days=200)))
    one = respx.get(f"{BASE}/trackings/{ident}").mock(
        return_value=httpx.Response(200, json={"meta": {"code": 200}, "data": {**tracking, "id": ident}}))
    carrier = build(AfterShipCarrier)
    result = (await carrier.fetch([N]))[N]
    assert result.status is Status.IN_TRANSIT and one.called
    assert one.calls.last.request.headers["as-api-key"] == "test-key"
    assert carrier.memory[created_key(N)] == ident  # kept: the next poll does not create it again


@respx.mock
async def test_pickup_and_the_last_mile_number() -> None:
    """AvailableForPickup_001 is a pickup scan; `last_mile` {tracking_number, slug} (the official SDK's
    TrackingLastMile) is the destination carrier's number."""
    respx.get(f"{BASE}/trackings").mock(
        return_value=httpx.Response(200, json=fixture("aftership", "available_for_pickup")))
    result = (await created(N).fetch([N]))[N]
    assert isinstance(result, Shipment) and result.status is Status.AVAILABLE_FOR_PICKUP
    assert result.events[-1].kind is K.AVAILABLE_FOR_PICKUP and result.events[-1].location.startswith("LYON 03")
    assert result.handover == Handover("6A12345678901", "colissimo")
