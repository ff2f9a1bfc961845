"""USPS, UPS and FedEx adapters against their fakes on a real loopback server: tokens, batches, failures."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carriers.errors import AuthError, NotFoundError, RateLimitedError
from carriers.http import OAuthCarrier
from carriers.model import Shipment, Status
from tests.carrier_kit import build
from tests.fakes.fedex import FedexApi
from tests.fakes.oauth import OAuthApi
from tests.fakes.server import FakeCarrierServer, Response, Stage, Step, World
from tests.fakes.ups import UpsApi
from tests.fakes.usps import UspsApi
from tests.oauth_kit import SPECS, Spec

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
FAKES: dict[str, type[OAuthApi]] = {"usps": UspsApi, "ups": UpsApi, "fedex": FedexApi}
# Scripted parcels and the status each adapter should report for them.
PARCELS = [
    ("delivered", [Step(NOW - 4 * DAY, Stage.PICKED_UP, "Picked up", "Paris", "FR"),
                   Step(NOW - 2 * DAY, Stage.OUT_FOR_DELIVERY, "Out for delivery", "Austin", "US"),
                   Step(NOW - DAY, Stage.DELIVERED, "Delivered", "Austin", "US")], Status.DELIVERED),
    ("held", [Step(NOW - 3 * DAY, Stage.PICKED_UP, "Picked up", "Paris", "FR"),
              Step(NOW - DAY, Stage.CUSTOMS_HELD, "Held by customs", "Memphis", "US")], Status.EXCEPTION),
    ("failed", [Step(NOW - 2 * DAY, Stage.OUT_FOR_DELIVERY, "Out for delivery", "Austin", "US"),
                Step(NOW - DAY, Stage.DELIVERY_FAILED, "Customer not available", "Austin", "US")],
     Status.DELIVERY_FAILED),
]
pytestmark = pytest.mark.parametrize("s", SPECS, ids=[s.id for s in SPECS])


def number(s: Spec, name: str) -> str:
    """A tracking number per carrier and parcel."""
    return f"{s.id.upper()}{name.upper()}1"


def serve(s: Spec) -> tuple[FakeCarrierServer, OAuthApi]:
    """A fake server with the scripted parcels for this carrier."""
    world = World(now=lambda: NOW)
    for name, steps, _ in PARCELS:
        world.add(number(s, name), *steps)
    api = FAKES[s.id](world)
    return FakeCarrierServer(world, [api]), api


def adapter(s: Spec, server: FakeCarrierServer, **settings: Spec) -> OAuthCarrier:
    """The carrier's adapter pointed at the fake, limits lifted."""
    carrier = build(s.cls, server.url(s.id), rate=1000.0, **settings)
    carrier.clock = lambda: NOW
    return carrier  # type: ignore[return-value]


async def fetch_all(carrier: OAuthCarrier, numbers: list[str]) -> dict:
    """Every number, in batches the adapter allows."""
    out: dict = {}
    for i in range(0, len(numbers), carrier.max_batch):
        out.update(await carrier.fetch(numbers[i : i + carrier.max_batch]))
    return out


async def test_scripted_parcels_read_back_with_one_token(s: Spec) -> None:
    server, api = serve(s)
    with server:
        carrier = adapter(s, server)
        asked = [number(s, name) for name, _, _ in PARCELS] + [number(s, "unknown")]
        results = await fetch_all(carrier, asked)
        await carrier.aclose()
    for name, _, status in PARCELS:
        assert results[number(s, name)].status is status, name
    assert isinstance(results[number(s, "unknown")], NotFoundError)
    assert api.issued == 1
    calls = len(asked) if carrier.max_batch == 1 else 1  # FedEx asks about all four at once
    assert len(server.requests(s.id)) == 1 + calls


async def test_a_revoked_token_is_replaced_once(s: Spec) -> None:
    server, api = serve(s)
    with server:
        carrier = adapter(s, server)
        first = number(s, "delivered")
        await carrier.fetch([first])
        api.revoke()
        result = (await carrier.fetch([first]))[first]
        await carrier.aclose()
    assert isinstance(result, Shipment) and api.issued == 2


async def test_a_wrong_secret_is_refused_by_the_fake(s: Spec) -> None:
    server, api = serve(s)
    with server:
        carrier = adapter(s, server, client_secret="wrong")
        with pytest.raises(AuthError):
            await carrier.fetch([number(s, "held")])
        await carrier.aclose()
    assert api.issued == 0 and len(server.requests(s.id)) == 1


async def test_a_429_with_retry_after_is_reported(s: Spec) -> None:
    server, _ = serve(s)
    with server:
        carrier = adapter(s, server)
        await carrier.fetch([number(s, "held")])  # token first, so the forced answer hits tracking
        server.force(s.id, Response(429, {"error": "too many"}, {"Retry-After": "120"}))
        with pytest.raises(RateLimitedError) as caught:
            await carrier.fetch([number(s, "held")])
        await carrier.aclose()
    assert caught.value.retry_after == 120


async def test_the_fake_enforces_the_batch_limit(s: Spec) -> None:
    server, _ = serve(s)
    with server:
        carrier = adapter(s, server)
        too_many = [number(s, "held")] * (carrier.max_batch + 1)
        if s.id == "fedex":
            with pytest.raises(Exception, match="LIMIT"):
                await carrier.fetch(too_many)
        else:  # one number per GET: a list in the path is refused as a bad number
            result = await carrier.fetch([",".join(too_many[:2])])
            assert isinstance(next(iter(result.values())), NotFoundError)
        await carrier.aclose()
