"""Contract tests: the requests DHL, UPS, FedEx and USPS get (method, path, query, headers, body; the OAuth token
request too) are the form their published documentation gives. Each row names its source."""
from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from carriers.dhl import DhlCarrier
from carriers.errors import CarrierError
from carriers.fedex import FedexCarrier
from carriers.http import HttpCarrier
from carriers.ups import TRANSACTION_SRC, UpsCarrier
from carriers.usps import UspsCarrier
from tests.carrier_kit import build, fixture

BASE = "https://carrier.test"


@dataclass(frozen=True)
class Contract:
    """One documented request: what must be sent, and where the form was read."""

    cls: type[HttpCarrier]
    number: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # exact values; "*" for a header that must be present with any non-empty value
    body: Any = None  # the JSON body, None for none
    token_form: dict[str, str] = field(default_factory=dict)  # OAuth: the x-www-form-urlencoded token body
    token_basic: bool = False  # OAuth: client_id:client_secret sent as HTTP Basic (client_secret_basic)
    source: str = ""


CONTRACTS = [
    Contract(DhlCarrier, "00340434161094042557", "GET", "/shipments",
             {"trackingNumber": "00340434161094042557", "language": "en"}, {"DHL-API-Key": "test-key"},
             source="developer.dhl.com Shipment Tracking - Unified: GET /track/shipments?trackingNumber=, header "
                    "DHL-API-Key (karrio's dhl_universal connector sends the same)"),
    Contract(UpsCarrier, "1Z999AA10123456784", "GET", "/api/track/v1/details/1Z999AA10123456784",
             {"locale": "en_US"}, {"transId": "*", "transactionSrc": TRANSACTION_SRC, "Authorization": "*"},
             token_form={"grant_type": "client_credentials"}, token_basic=True,
             source="UPS-API/api-documentation Tracking.yaml (path under the /api server, locale, transId and "
                    "transactionSrc required headers) and OAuthClientCredentials.yaml (POST "
                    "/security/v1/oauth/token, Basic auth, form grant_type=client_credentials)"),
    Contract(FedexCarrier, "776094337676", "POST", "/track/v1/trackingnumbers", {},
             {"Authorization": "*", "Content-Type": "application/json"},
             body={"includeDetailedScans": True, "trackingInfo": [{"trackingNumberInfo": {"trackingNumber":
                                                                                          "776094337676"}}]},
             token_form={"grant_type": "client_credentials", "client_id": "test-id", "client_secret": "test-secret"},
             source="developer.fedex.com Track API v1 (TrackingNumbers request: includeDetailedScans, "
                    "trackingInfo[].trackingNumberInfo.trackingNumber, at most 30) and OAuth API (POST /oauth/token, "
                    "form grant_type, client_id, client_secret)"),
    Contract(UspsCarrier, "9400109104250532908587", "GET", "/tracking/v3/tracking/9400109104250532908587",
             {"expand": "DETAIL"}, {"Authorization": "*"},
             token_form={"grant_type": "client_credentials", "client_id": "test-id", "client_secret": "test-secret",
                         "scope": "tracking"},
             source="developers.usps.com Tracking v3 and OAuth v3 OpenAPI (POST /oauth2/v3/token form)"),
]


@pytest.mark.parametrize("c", CONTRACTS, ids=[c.cls.id for c in CONTRACTS])
@respx.mock
async def test_the_request_is_the_documented_form(c: Contract) -> None:
    token = respx.post(f"{BASE}{getattr(c.cls, 'TOKEN_PATH', '/none')}").mock(
        return_value=httpx.Response(200, json={"access_token": "tok", "token_type": "bearer", "expires_in": 3600}))
    track = respx.route(method=c.method, url__startswith=f"{BASE}{c.path}").mock(
        return_value=httpx.Response(404, json={}))
    carrier = build(c.cls, BASE, rate=1000.0)
    with contextlib.suppress(CarrierError):  # only the request matters here, not how a 404 is read
        await carrier.fetch([c.number])
    sent = track.calls.last.request
    assert (sent.method, sent.url.path, dict(sent.url.params)) == (c.method, c.path, c.query), c.source
    for name, value in c.headers.items():
        assert sent.headers.get(name) and (value == "*" or sent.headers[name] == value), (name, c.source)
    assert (json.loads(sent.content) if sent.content else None) == c.body, c.source
    if not c.token_form:
        assert not token.called
        return
    asked = token.calls.last.request
    assert asked.headers["Content-Type"] == "application/x-www-form-urlencoded", c.source
    assert {k: v[0] for k, v in parse_qs(asked.content.decode()).items()} == c.token_form, c.source
    basic = asked.headers.get("Authorization", "")
    assert (basic == "Basic " + base64.b64encode(b"test-id:test-secret").decode()) is c.token_basic, c.source
    assert sent.headers["Authorization"] == "Bearer tok"


@respx.mock
async def test_ups_sends_a_new_trans_id_and_no_secret_in_the_query() -> None:
    """transId is "an identifier unique to the request" (Tracking.yaml); no credential travels in a URL."""
    respx.post(f"{BASE}{UpsCarrier.TOKEN_PATH}").mock(return_value=httpx.Response(200, json=fixture("ups", "token")))
    route = respx.get(url__startswith=f"{BASE}/api/track/v1/details/").mock(return_value=httpx.Response(404, json={}))
    carrier = build(UpsCarrier, BASE, rate=1000.0)
    await carrier.fetch(["1Z999AA10123456784"])
    await carrier.fetch(["1Z999AA10123456784"])
    ids = [call.request.headers["transId"] for call in route.calls]
    assert len(set(ids)) == 2 and all("test-secret" not in str(call.request.url) for call in route.calls)
