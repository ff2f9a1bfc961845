"""What the OAuth carrier tests share: where each carrier's token and tracking endpoints are, and their fixtures."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import respx

from carriers.fedex import FedexCarrier
from carriers.http import OAuthCarrier
from carriers.ups import UpsCarrier
from carriers.usps import UspsCarrier
from tests.carrier_kit import build, fixture

BASE = "https://carrier.test"


@dataclass(frozen=True)
class Spec:
    """One OAuth carrier as its tests see it."""

    cls: type[OAuthCarrier]
    method: str
    path: str  # tracking path for `number`
    number: str
    ok: str  # a fixture answering `number` with data

    @property
    def id(self) -> str:
        """The carrier id."""
        return self.cls.id

    def token(self) -> dict[str, Any]:
        """The carrier's token answer."""
        return fixture(self.id, "token")

    def mock_token(self, *answers: httpx.Response) -> respx.Route:
        """The token endpoint: the given answers in order, else the fixture token."""
        route = respx.post(f"{BASE}{self.cls.TOKEN_PATH}")
        return route.mock(side_effect=list(answers)) if answers else route.mock(
            return_value=httpx.Response(200, json=self.token()))

    def mock_track(self, *answers: httpx.Response) -> respx.Route:
        """The tracking endpoint: the given answers in order, else the `ok` fixture."""
        route = respx.route(method=self.method, url=f"{BASE}{self.path}")
        return route.mock(side_effect=list(answers)) if answers else route.mock(
            return_value=httpx.Response(200, json=fixture(self.id, self.ok)))

    def carrier(self, **settings: Any) -> OAuthCarrier:
        """An adapter on the test base URL with rate limits lifted (USPS's default waits a minute per call)."""
        return build(self.cls, BASE, rate=1000.0, **settings)  # type: ignore[return-value]


SPECS = [
    Spec(UspsCarrier, "GET", "/tracking/v3/tracking/9400109104250532908587", "9400109104250532908587", "delivered"),
    Spec(UpsCarrier, "GET", "/api/track/v1/details/1Z999AA10123456784", "1Z999AA10123456784", "delivered"),
    Spec(FedexCarrier, "POST", "/track/v1/trackingnumbers", "776094337676", "delivered"),
]
IDS = [s.id for s in SPECS]


def spec(carrier_id: str) -> Spec:
    """The spec of one carrier."""
    return next(s for s in SPECS if s.id == carrier_id)
