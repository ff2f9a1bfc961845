"""End to end: `tracking-monitor check` against the fake La Poste Suivi v2 API, as a user runs it."""
from __future__ import annotations

import json
from pathlib import Path

from tests.e2e_kit import at, check
from tests.fakes.laposte import LaPosteApi
from tests.fakes.server import FakeCarrierServer, Response, Stage, Step, World

RETURNING, DELIVERED, UNKNOWN = "6A18987654321", "RB123456785FR", "6A18987654329"


def world() -> World:
    w = World(now=lambda: at("2026-11-21T09:00"))
    w.add(RETURNING,
          Step(at("2026-11-14T08:00"), Stage.PICKED_UP, "Votre colis est pris en charge", "Lille", "FR"),
          Step(at("2026-11-18T09:30"), Stage.DELIVERY_FAILED, "Destinataire absent", "Lyon", "FR"),
          Step(at("2026-11-20T14:00"), Stage.RETURNING, "Votre colis est retourné à l'expéditeur", "Lyon", "FR"))
    w.add(DELIVERED,
          Step(at("2026-11-15T08:00"), Stage.PICKED_UP, "Pris en charge", "Paris", "FR"),
          Step(at("2026-11-20T06:00"), Stage.OUT_FOR_DELIVERY, "En cours de livraison", "Nantes", "FR"),
          Step(at("2026-11-20T11:00"), Stage.DELIVERED, "Votre colis est livré", "Nantes", "FR"))
    return w


def watchlist(tmp_path: Path, url: str) -> Path:
    orders = "".join(
        f'[[orders]]\nid = "L{i}"\nshop = "Vinted"\nitem = "Item {i}"\nordered_on = 2026-11-12\n'
        f'tracking = "{n}"\ncarrier = "laposte"\nprotection_ends = 2027-01-31\n\n'
        for i, n in enumerate([RETURNING, DELIVERED, UNKNOWN], 1))
    path = tmp_path / "watchlist.toml"
    path.write_text('[monitor]\ntimezone = "Europe/Paris"\npoll_interval = "6h"\n\n'
                    f'[carriers.laposte]\napi_key = "test-key"\nbase_url = "{url}"\n\n' + orders, encoding="utf-8")
    return path


def test_one_batched_call_alerts_once(tmp_path: Path) -> None:
    w = world()
    with FakeCarrierServer(w, [LaPosteApi(w)]) as server:
        path = watchlist(tmp_path, server.url("laposte"))
        first = check(path, tmp_path, "2026-11-21T10:00", "--json")
        assert first.returncode == 0, first.stderr
        found = {(f["order"], f["kind"]) for f in json.loads(first.stdout)}
        assert {("L1", "exception"), ("L2", "delivered")} <= found
        calls = server.requests("laposte")
        assert [c.path for c in calls] == [f"/idships/{','.join(sorted([RETURNING, DELIVERED, UNKNOWN]))}"]
        assert calls[0].headers["x-okapi-key"] == "test-key"

        again = check(path, tmp_path, "2026-11-21T10:05", "--json")
        assert again.returncode == 0 and json.loads(again.stdout) == []


def test_a_long_retry_after_is_kept_across_runs(tmp_path: Path) -> None:
    w = world()
    with FakeCarrierServer(w, [LaPosteApi(w)]) as server:
        server.force("laposte", Response(429, {"code": "TOO_MANY_REQUESTS", "message": "max quota reached"},
                                         {"Retry-After": "600"}))
        path = watchlist(tmp_path, server.url("laposte"))
        limited = check(path, tmp_path, "2026-11-21T10:00", "--json")
        assert limited.returncode == 0, limited.stderr
        assert [c.status for c in server.requests("laposte")] == [429]  # 10 minutes: not retried within the call

        early = check(path, tmp_path, "2026-11-21T10:05", "--json")  # a new process: the wait was stored
        assert early.returncode == 0 and len(server.requests("laposte")) == 1

        later = check(path, tmp_path, "2026-11-21T10:11", "--json")
        assert later.returncode == 0, later.stderr
        assert [c.status for c in server.requests("laposte")] == [429, 207]
        assert ("L2", "delivered") in {(f["order"], f["kind"]) for f in json.loads(later.stdout)}
