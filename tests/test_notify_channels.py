"""Each channel receives what a person on it should read: real SMTP, ntfy and Slack endpoints on 127.0.0.1."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Destination
from monitor.cycle import run_cycle
from monitor.notify import Notifier
from monitor.store import Store
from tests.helpers import make_app
from tests.notify_servers import http_server, slack_proxy, smtp_server

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
# urgent: protection ends in 2 days. No number (these apps have no carrier to ask, so a number would add an
# `untracked` alert), and no tracking_missing alert either before 4 Dec.
HUB = {"id": "8181000000000006", "shop": "AliExpress", "item": "USB-C hub", "ordered_on": "2026-10-05",
       "tracking_missing_after": "60d", "protection_ends": "2026-11-23"}
LAMP = {"id": "TM-5530012", "shop": "Temu", "item": "Desk lamp", "ordered_on": "2026-11-01"}  # warning: no tracking
STRAP = {"id": "8181000000000010", "shop": "AliExpress", "item": "Watch strap", "ordered_on": "2026-11-03",
         "delivered_on": "2026-11-20"}  # info: delivered
SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path)
    yield s
    s.close()


async def send(store: Store, url: str, *orders: dict[str, object], language: str = "en") -> tuple[int, int]:
    """One cycle for these orders with one destination at `url`; return (rows sent, rows failed)."""
    app = make_app({"monitor": {"timezone": "Europe/Paris", "language": language}, "orders": list(orders)},
                   destinations=[Destination.for_url(url)])
    await run_cycle(app, store, T0, None)
    return await Notifier.for_app(app, store).deliver(T0)


def _parts(msg: Any) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in msg.walk() if not part.is_multipart()}


@pytest.mark.parametrize(("language", "subject", "text", "html"), [
    pytest.param("en", "[tracking-monitor] URGENT 8181000000000006 Buyer protection ends in 2 days (AliExpress · USB-C hub)",
                 ["Order 8181000000000006", "can be opened only before 23 Nov 2026 at 00:00", "What to do: Open a dispute",
                  "Due: before 23 Nov 2026 at 00:00"], "<strong>Order 8181000000000006</strong>", id="en"),
    pytest.param("fr", "[tracking-monitor] URGENT 8181000000000006 La protection acheteur se termine dans 2 jours "
                 "(AliExpress · USB-C hub)", ["Commande 8181000000000006", "À faire : Ouvrez un litige",
                                              "ne peut être ouvert qu'avant le 23 nov. 2026 à 00:00",
                                              "Échéance : avant le 23 nov. 2026 à 00:00"],
                 "<strong>Commande 8181000000000006</strong>", id="fr"),
])
async def test_email_reaches_a_real_smtp_server(store: Store, language: str, subject: str, text: list[str],
                                                html: str) -> None:
    """An e-mail has a subject that sorts by tool, severity and order, a plain-text part and an HTML part."""
    with smtp_server() as (port, inbox):
        url = f"mailto://127.0.0.1:{port}?from=monitor@example.com&to=buyer@example.com&mode=insecure"
        assert await send(store, url, HUB, language=language) == (1, 0)
    assert len(inbox) == 1
    msg = inbox[0]
    assert msg["Subject"] == subject and msg["To"] == "buyer@example.com"
    parts = _parts(msg)
    plain = parts["text/plain"]
    for snippet in text:
        assert snippet in plain, plain
    assert "**" not in plain
    assert html in parts["text/html"]


@pytest.mark.parametrize(("order", "query", "title", "priority", "tags"), [
    pytest.param(HUB, "", "Buyer protection ends in 2 days (AliExpress · USB-C hub)", "high", "rotating_light,urgent",
                 id="urgent"),
    pytest.param(LAMP, "", "No tracking number yet (Temu · Desk lamp)", None, "warning", id="warning"),
    pytest.param(STRAP, "", "Delivered: inspect before confirming (AliExpress · Watch strap)", "low", "info,package",
                 id="info"),
    pytest.param(STRAP, "?priority=max&tags=parcel", "Delivered: inspect before confirming (AliExpress · Watch strap)",
                 "max", "parcel", id="the-users-own-choice-wins"),
])
async def test_ntfy_publish_has_priority_and_tags_from_the_severity(
        store: Store, order: dict[str, object], query: str, title: str, priority: str | None, tags: str) -> None:
    """ntfy gets the title, a plain-text body, and a priority and emoji tags that follow the severity."""
    with http_server() as (port, server):
        assert await send(store, f"ntfy://127.0.0.1:{port}/parcels{query}", order) == (1, 0)
    [req] = server.received
    assert req.body["topic"] == "parcels" and req.body["title"] == title
    assert req.headers.get("X-Priority") == priority  # "default" is ntfy's own: Apprise sends no header then
    assert req.headers.get("X-Tags") == tags
    assert req.body["message"].startswith(f"Order {order['id']}\n\n") and "**" not in req.body["message"]


async def test_several_alerts_for_one_destination_make_one_digest(store: Store) -> None:
    """Three alerts due together reach ntfy as one message, most urgent first, with the top one's priority."""
    with http_server() as (port, server):
        assert await send(store, f"ntfy://127.0.0.1:{port}/parcels", STRAP, LAMP, HUB) == (3, 0)
    [req] = server.received
    assert req.body["title"] == "Buyer protection ends in 2 days (AliExpress · USB-C hub) (+2 more)"
    assert req.headers["X-Priority"] == "high"
    body = req.body["message"]
    assert body.startswith("3 alerts, most urgent first:\n\n")
    order = [body.index(f"[{s}]") for s in ("URGENT", "WARNING", "INFO")]
    assert order == sorted(order), body


async def test_slack_payload_through_a_real_https_proxy(store: Store, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack's webhook gets its JSON over HTTPS (through a local proxy, as a corporate network would route it):
    the title, a red attachment for urgent, and the body in Slack's own Markdown."""
    with slack_proxy(tmp_path) as (env, proxy):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert await send(store, SLACK_URL, HUB, LAMP) == (2, 0), store.outbox()
    [req] = proxy.received
    assert req.tunnel == "hooks.slack.com:443"
    assert req.path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    [attachment] = req.body["attachments"]
    assert attachment["title"] == "Buyer protection ends in 2 days (AliExpress · USB-C hub) (+1 more)"
    assert attachment["color"] == "#A32037"  # Apprise's colour for a failure: the urgent alert leads
    text = attachment["text"]
    assert "*[URGENT] Buyer protection ends in 2 days (AliExpress · USB-C hub)*" in text  # Slack's bold
    assert text.index("[URGENT]") < text.index("[WARNING]")
    assert "*What to do:*" in text and "**" not in text
