"""DHL Shipment Tracking – Unified: real-shaped answers map to the normalized Shipment or the right error."""
from __future__ import annotations

from datetime import date

import httpx
import pytest
import respx

from carriers.dhl import DhlCarrier, kind_of
from carriers.errors import AuthError, BadPayloadError, NotFoundError, RateLimitedError, UnavailableError
from carriers.model import EventKind as K
from carriers.model import Status
from tests.carrier_kit import build, fixture

BASE = "https://carrier.test"
URL = f"{BASE}/shipments"
MIDNIGHT = 12 * 3600.0  # carrier_kit's clock is 2026-11-21 12:00 UTC

# (fixture, HTTP status, number asked, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", 200, "00340434292135100124", Status.IN_TRANSIT, [K.INFO_RECEIVED, K.PICKED_UP, K.EXPORTED, K.ARRIVED]),
    ("delivered", 200, "7777777770", Status.DELIVERED,
     [K.PICKED_UP, K.IN_TRANSIT, K.CUSTOMS, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("returned", 200, "00340434292135100131", Status.EXCEPTION, [K.PICKED_UP, K.DELIVERY_FAILED, K.RETURNING]),
    ("returned_to_sender", 200, "00340434292135100131", Status.RETURNED, [K.RETURNING, K.RETURNED]),
    ("customs_held", 200, "7777777771", Status.EXCEPTION, [K.IN_TRANSIT, K.CUSTOMS_HELD]),
    ("not_found", 404, "00340434292135100999", NotFoundError, []),
]


@pytest.mark.parametrize(("name", "http", "number", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_one_number(name: str, http: int, number: str, expected: object, kinds: list[K]) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(http, json=fixture("dhl", name)))
    result = (await build(DhlCarrier).fetch([number]))[number]
    request = route.calls.last.request
    assert request.headers["DHL-API-Key"] == "test-key"
    assert dict(request.url.params) == {"trackingNumber": number, "language": "en"}
    if isinstance(expected, type):
        assert isinstance(result, expected)
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.code and e.description and e.source == "dhl" for e in result.events)


@respx.mock
async def test_events_keep_text_place_and_estimate() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("dhl", "delivered")))
    result = (await build(DhlCarrier).fetch(["7777777770"]))["7777777770"]
    assert result.events[-1].description == "Delivered - Signed for by: M DUPONT"
    assert result.events[-1].location == "LYON - FRANCE"
    assert result.events[-1].code == "delivered"
    assert result.estimated_delivery == date(2026, 11, 20)
    assert result.extra == {"service": "express", "product": "EXPRESS WORLDWIDE"}


@respx.mock
async def test_html_in_descriptions_is_dropped() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("dhl", "returned")))
    result = (await build(DhlCarrier).fetch(["00340434292135100131"]))["00340434292135100131"]
    assert result.events[1].description == "The recipient was not at home. A delivery notification card was left"
    assert result.events[1].location == "Köln, DE"


@pytest.mark.parametrize(("timestamp", "country", "service", "expected"), [
    ("2026-11-18T09:12:00", "DE", "parcel-de", "2026-11-18T09:12:00+01:00"),  # German winter time
    ("2026-07-18T09:12:00", "DE", "parcel-de", "2026-07-18T09:12:00+02:00"),  # German summer time
    ("2026-11-18T09:12:00", "", "parcel-pl", "2026-11-18T09:12:00+01:00"),  # no country: the service's (Poland)
    ("2026-11-18T09:12:00", "CN", "ecommerce", "2026-11-18T09:12:00+08:00"),  # China: Beijing time nationwide
    ("2026-11-18T09:12:00", "US", "ecommerce", "2026-11-18T09:12:00+00:00"),  # several zones: UTC
    ("2026-11-18T09:12:00", "", "express", "2026-11-18T09:12:00+00:00"),  # nothing to go by: UTC
    ("2026-11-18T09:12:00-05:00", "US", "express", "2026-11-18T09:12:00-05:00"),  # an offset is kept
], ids=["de-winter", "de-summer", "service-country", "cn", "us", "unknown", "offset"])
@respx.mock
async def test_naive_timestamps_are_local_time_where_the_event_happened(
        timestamp: str, country: str, service: str, expected: str) -> None:
    event = {"timestamp": timestamp, "statusCode": "transit", "description": "Processed",
             "location": {"address": {"countryCode": country}} if country else {}}
    respx.get(URL).mock(return_value=httpx.Response(200, json={"shipments": [
        {"id": "1234567890", "service": service, "events": [event]}]}))
    result = (await build(DhlCarrier).fetch(["1234567890"]))["1234567890"]
    assert result.events[0].time.isoformat() == expected


@pytest.mark.parametrize(("code", "text", "kind"), [
    ("pre-transit", "The instruction data for this shipment have been provided by the sender", K.INFO_RECEIVED),
    ("transit", "The shipment has been loaded onto the delivery vehicle", K.OUT_FOR_DELIVERY),
    ("transit", "The shipment is ready for pick-up at the PACKSTATION 105", K.AVAILABLE_FOR_PICKUP),
    ("transit", "The shipment could not be delivered, and the recipient has been notified", K.DELIVERY_FAILED),
    ("failure", "The address is incomplete", K.ADDRESS_PROBLEM),
    ("failure", "Customs clearance status updated", K.CUSTOMS_HELD),
    ("failure", "Shipment is on hold", K.EXCEPTION),
    ("delivered", "The shipment has been picked up by the recipient at the PACKSTATION", K.DELIVERED),
    ("unknown", "Status not available", K.UNKNOWN),
])
def test_wording_refines_the_status_code(code: str, text: str, kind: K) -> None:
    assert kind_of(code, text) is kind


@respx.mock
async def test_service_and_language_settings_are_sent() -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("dhl", "delivered")))
    await build(DhlCarrier, service="express", language="de").fetch(["7777777770"])
    assert route.calls.last.request.url.params["service"] == "express"
    assert route.calls.last.request.url.params["language"] == "de"


@respx.mock
async def test_the_shipment_with_the_number_asked_is_chosen() -> None:
    other = fixture("dhl", "in_transit")["shipments"][0]
    wanted = fixture("dhl", "delivered")["shipments"][0]
    respx.get(URL).mock(return_value=httpx.Response(200, json={"shipments": [other, wanted]}))
    result = (await build(DhlCarrier).fetch(["7777777770"]))["7777777770"]
    assert result.status is Status.DELIVERED


@pytest.mark.parametrize(("http", "body", "error"), [
    (401, fixture("dhl", "unauthorized"), AuthError),
    (500, fixture("dhl", "server_error"), UnavailableError),
    (200, {"shipments": []}, NotFoundError),
    (200, "<html>maintenance</html>", BadPayloadError),
    (200, {"shipments": [{"id": "1234567890", "events": [{"statusCode": "transit"}]}]}, BadPayloadError),
], ids=["401", "500", "empty", "html", "event-without-timestamp"])
@respx.mock
async def test_errors(http: int, body: object, error: type[Exception]) -> None:
    content = body.encode() if isinstance(body, str) else None
    respx.get(URL).mock(return_value=httpx.Response(http, json=None if content else body, content=content))
    try:
        result = (await build(DhlCarrier).fetch(["1234567890"]))["1234567890"]
    except Exception as exc:  # whole-call errors are raised; the cycle spreads them over the batch
        result = exc
    assert isinstance(result, error), result


@respx.mock
async def test_a_wrong_key_is_asked_once() -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(401, json=fixture("dhl", "unauthorized")))
    with pytest.raises(AuthError, match=r"dhl: .*\[carriers\.dhl\]"):
        await build(DhlCarrier).fetch(["1234567890"])
    assert route.call_count == 1


@respx.mock
async def test_a_429_with_retry_after_is_honoured() -> None:
    respx.get(URL).mock(return_value=httpx.Response(429, json=fixture("dhl", "rate_limited"),
                                                    headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitedError) as caught:
        await build(DhlCarrier).fetch(["1234567890"])
    assert caught.value.retry_after == 3600


@respx.mock
async def test_a_429_that_outlasts_the_retries_is_the_daily_quota() -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(429, json=fixture("dhl", "rate_limited")))
    carrier = build(DhlCarrier, rate=1000)
    with pytest.raises(RateLimitedError, match="00:00 UTC") as caught:
        await carrier.fetch(["1234567890"])
    assert route.call_count == 3  # the shared layer retried a short burst limit before giving up
    assert caught.value.retry_after == MIDNIGHT


@respx.mock
async def test_a_short_429_is_retried() -> None:
    route = respx.get(URL).mock(side_effect=[httpx.Response(429, json=fixture("dhl", "rate_limited")),
                                             httpx.Response(200, json=fixture("dhl", "delivered"))])
    result = (await build(DhlCarrier, rate=1000).fetch(["7777777770"]))["7777777770"]
    assert result.status is Status.DELIVERED and route.call_count == 2


@respx.mock
async def test_daily_budget_stops_calls_at_250_and_says_when_it_resets() -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("dhl", "delivered")))
    carrier = build(DhlCarrier)
    assert carrier.budget.limit == 250
    carrier.budget.used = 249  # the monitor restores today's count from the state before polling
    await carrier.fetch(["7777777770"])
    with pytest.raises(RateLimitedError, match=r"daily budget of 250 requests spent; it resets at 00:00 UTC") as caught:
        await carrier.fetch(["7777777770"])
    assert route.call_count == 1
    assert caught.value.retry_after == MIDNIGHT
    assert carrier.budget.drain() == 1


def test_documented_limits_are_the_defaults() -> None:
    carrier = build(DhlCarrier)
    assert (carrier.max_batch, carrier.DEFAULT_RATE, carrier.limiter.interval) == (1, 1.0, 1.0)
    assert build(DhlCarrier, daily_budget=1000).budget.limit == 1000
