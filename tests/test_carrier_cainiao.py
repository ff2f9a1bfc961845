"""Cainiao's unofficial tracking JSON: real-shaped answers map to the normalized Shipment or the right error."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from carriers.cainiao import CainiaoCarrier, meaning
from carriers.errors import BadPayloadError, NotFoundError, RateLimitedError, UnavailableError
from carriers.model import EventKind as K
from carriers.model import Handover, Shipment, Status
from monitor.config import load_app
from monitor.cycle import next_poll
from tests.carrier_kit import NOW, build, fixture
from tests.fakes.cainiao import CainiaoApi
from tests.fakes.server import FakeCarrierServer, Stage, Step, World

BASE = "https://carrier.test"
URL = f"{BASE}/global/detail.json"

# (fixture, number asked, expected status or error type, expected event kinds oldest first)
CASES = [
    ("in_transit", "LP00712345678901", Status.IN_TRANSIT, [K.PICKED_UP, K.IN_TRANSIT, K.EXPORTED, K.ARRIVED, K.CUSTOMS]),
    ("delivered", "LP00712345678902", Status.DELIVERED,
     [K.PICKED_UP, K.IN_TRANSIT, K.ARRIVED, K.IN_TRANSIT, K.CUSTOMS, K.OUT_FOR_DELIVERY, K.DELIVERED]),
    ("delivery_failed", "LP00712345678903", Status.DELIVERY_FAILED, [K.ARRIVED, K.OUT_FOR_DELIVERY, K.DELIVERY_FAILED]),
    # No public payload shows a return; GTMS_RETURN is recognised by the RETURN family rule.
    ("returned", "LP00712345678904", Status.EXCEPTION, [K.PICKED_UP, K.CUSTOMS, K.RETURNING]),
    ("not_found", "LP00712345678999", NotFoundError, []),
]


@pytest.mark.parametrize(("name", "number", "expected", "kinds"), CASES, ids=[c[0] for c in CASES])
@respx.mock
async def test_one_number(name: str, number: str, expected: object, kinds: list[K]) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("cainiao", name)))
    result = (await build(CainiaoCarrier).fetch([number]))[number]
    assert dict(route.calls.last.request.url.params) == {"mailNos": number, "lang": "en-US"}
    if isinstance(expected, type):
        assert isinstance(result, expected)
        return
    assert result.status is expected
    assert [e.kind for e in result.events] == kinds
    assert all(e.time.tzinfo is not None and e.code and e.description and e.source == "cainiao" for e in result.events)


@respx.mock
async def test_epoch_milliseconds_are_the_instant_whatever_the_time_zone_text() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("cainiao", "in_transit")))
    result = (await build(CainiaoCarrier).fetch(["LP00712345678901"]))["LP00712345678901"]
    latest = result.events[-1]  # timeStr "2025-11-20 08:58:40", timeZone "GMT+1"
    assert latest.time == datetime(2025, 11, 20, 7, 58, 40, tzinfo=UTC)
    assert latest.description == "Departed from customs — Leaving customs"
    assert latest.code == "CC_HO_OUT_SUCCESS"
    sorting = result.events[1]
    assert (sorting.location, sorting.description) == (
        "Xiaoshan District", "Departed from sorting center — Outbound in sorting center")
    assert result.estimated_delivery == date(2025, 12, 2)
    assert result.extra == {"origin": "Mainland China", "destination": "France"}


@respx.mock
async def test_several_numbers_in_one_call() -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("cainiao", "several")))
    results = await build(CainiaoCarrier).fetch(["LP00712345678901", "LP00712345678999"])
    assert route.call_count == 1
    assert route.calls.last.request.url.params["mailNos"] == "LP00712345678901,LP00712345678999"
    assert results["LP00712345678901"].status is Status.IN_TRANSIT
    assert isinstance(results["LP00712345678999"], NotFoundError)


@pytest.mark.parametrize(("code", "kind", "status"), [
    ("GWMS_ACCEPT", K.INFO_RECEIVED, Status.INFO_RECEIVED),
    ("LH_HO_AIRLINE", K.EXPORTED, Status.IN_TRANSIT),
    ("CC_EX_START", K.CUSTOMS, Status.IN_TRANSIT),
    ("CC_IM_FAILURE", K.CUSTOMS_HELD, Status.EXCEPTION),
    ("GTMS_STA_SIGNED", K.AVAILABLE_FOR_PICKUP, Status.AVAILABLE_FOR_PICKUP),  # a pickup point, not the buyer
    ("RETURN_SIGNED", K.RETURNED, Status.RETURNED),
    ("SOMETHING_NEW", K.UNKNOWN, Status.UNKNOWN),
])
def test_action_codes(code: str, kind: K, status: Status) -> None:
    assert meaning(code) == (kind, status)


# DELIVERING: carriers.md "Checked against published sources" (recorded answers show it at 62% progress).
@pytest.mark.parametrize(("module_status", "expected"), [
    ("DELIVERED", Status.DELIVERED),
    ("DELIVERING", Status.IN_TRANSIT),
])
@respx.mock
async def test_an_unknown_latest_code_falls_back_to_the_module_status(module_status: str, expected: Status) -> None:
    body = fixture("cainiao", "delivered")
    body["module"][0]["detailList"][0]["actionCode"] = "GTMS_SIGNED_V2"
    body["module"][0]["status"] = module_status
    respx.get(URL).mock(return_value=httpx.Response(200, json=body))
    result = (await build(CainiaoCarrier).fetch(["LP00712345678902"]))["LP00712345678902"]
    assert result.events[-1].kind is K.UNKNOWN and result.status is expected


@pytest.mark.parametrize(("http", "body", "error", "says"), [
    (200, "<html><body>Please slide to verify</body></html>", UnavailableError, "web page instead of JSON"),
    (200, fixture("cainiao", "bot_check"), UnavailableError, "bot check"),
    (403, "<html>denied</html>", UnavailableError, "blocking this address"),  # no key to blame: never AuthError
    (200, fixture("cainiao", "refused"), BadPayloadError, "success=False"),
    (429, "", RateLimitedError, "429"),
    (503, "", UnavailableError, "503"),
    (200, {"success": True, "module": [{"mailNo": "LP00712345678901", "detailList": [{"actionCode": "LH_DEPART"}]}]},
     BadPayloadError, "unreadable"),
], ids=["html", "bot-check", "403", "success-false", "429", "503", "event-without-time"])
@respx.mock
async def test_errors(http: int, body: object, error: type[Exception], says: str) -> None:
    text = body if isinstance(body, str) else None
    respx.get(URL).mock(return_value=httpx.Response(
        http, json=None if text is not None else body, content=text.encode() if text is not None else None,
        headers={"content-type": "text/html"} if text else {}))
    try:
        result = (await build(CainiaoCarrier).fetch(["LP00712345678901"]))["LP00712345678901"]
    except Exception as exc:  # whole-call errors are raised; the cycle spreads them over the batch
        result = exc
    assert isinstance(result, error), result
    assert says in str(result)


def test_polite_defaults_and_no_credentials() -> None:
    carrier = build(CainiaoCarrier)
    assert carrier.missing_credentials() is None
    assert (carrier.max_batch, carrier.limiter.interval, carrier.budget.limit) == (10, 5.0, 100)
    assert not CainiaoCarrier.Settings.model_validate({}).enabled
    # Even a parcel out for delivery, which other carriers would poll hourly, waits 12 hours here.
    shipment = Shipment("LP00712345678901", "cainiao", Status.OUT_FOR_DELIVERY)
    assert next_poll(shipment, NOW, timedelta(hours=6), carrier) == NOW + timedelta(hours=12)


WATCHLIST = """
[[orders]]
id = "A1"
shop = "AliExpress"
item = "Cable"
ordered_on = 2026-11-01
tracking = "LP00712345678901"
carrier = "cainiao"
"""


@pytest.mark.parametrize(("table", "used"), [
    ("", False),
    ("[carriers.cainiao]\nenabled = false\n", False),
    ("[carriers.cainiao]\nenabled = true\n", True),
], ids=["absent", "disabled", "enabled"])
def test_cainiao_is_used_only_when_enabled(tmp_path: Path, table: str, used: bool,
                                           caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text(table + WATCHLIST, encoding="utf-8")
    app = load_app(path, lambda: NOW)
    order = app.watchlist.orders[0]
    assert ("cainiao" in app.carriers) is used
    assert (app.source(order) == ("cainiao", "LP00712345678901")) is used
    if not used:
        assert "enabled = true in [carriers.cainiao]" in app.why_no_source(order)
        assert "carrier cainiao skipped" in caplog.text


def _world() -> World:
    w = World(now=lambda: NOW)
    w.add("LP00712345678901",
          Step(NOW - timedelta(days=6), Stage.PICKED_UP, "Accepted by carrier", "Shatian Town", "CN"),
          Step(NOW - timedelta(days=4), Stage.EXPORTED, "Leaving from departure country/region", "", "CN"),
          Step(NOW - timedelta(days=1), Stage.CUSTOMS_HELD, "Held for inspection", "", "FR"))
    return w


async def test_against_the_fake_server_over_http() -> None:
    """The fake renders the same shapes as the fixtures; a bot check turns into a clear error, not a crash."""
    api = CainiaoApi(_world())
    with FakeCarrierServer(api.world, [api]) as server:
        carrier = build(CainiaoCarrier, base_url=server.url("cainiao"), rate=1)
        results = await carrier.fetch(["LP00712345678901", "LP00712345678999"])
        assert [e.kind for e in results["LP00712345678901"].events] == [K.PICKED_UP, K.EXPORTED, K.CUSTOMS_HELD]
        assert results["LP00712345678901"].status is Status.EXCEPTION
        assert isinstance(results["LP00712345678999"], NotFoundError)
        api.challenge = True
        with pytest.raises(UnavailableError, match="bot check"):
            await carrier.fetch(["LP00712345678901"])
        await carrier.aclose()
        assert len(server.requests("cainiao")) == 2


@pytest.mark.parametrize(("name", "number", "handover"), [
    ("delivered", "LP00712345678902", Handover("CE123456785BE")),  # copyRealMailNo: the destination post's number
    ("in_transit", "LP00712345678901", None),
])
@respx.mock
async def test_the_destination_carriers_number_is_the_handover(name: str, number: str,
                                                             handover: Handover | None) -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, json=fixture("cainiao", name)))
    result = (await build(CainiaoCarrier).fetch([number]))[number]
    assert isinstance(result, Shipment) and result.handover == handover
