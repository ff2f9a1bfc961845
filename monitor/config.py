"""Assembles a running configuration: config path, environment secrets, the watchlist and usable carriers."""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SecretsSettingsSource, SettingsConfigDict

from carriers.base import Carrier, Clock, build_settings, load_registry
from carriers.detect import AGGREGATORS, rank
from carriers.http import CREDENTIAL_FIELDS, env_id
from monitor.errors import ConfigError, Problem
from monitor.store import default_state_dir
from monitor.watchlist import Order, Watchlist, parse_toml, problems_from, read_text, validate_data

log = logging.getLogger("tracking_monitor")

DEFAULT_CONFIG = Path("/etc/tracking-monitor/config.toml")
TERMINAL = "terminal"


def secrets_dir() -> Path | None:
    """Where secret files live: $TRACKING_MONITOR_SECRETS_DIR, else systemd's $CREDENTIALS_DIRECTORY."""
    found = os.environ.get("TRACKING_MONITOR_SECRETS_DIR") or os.environ.get("CREDENTIALS_DIRECTORY")
    return Path(found) if found and Path(found).is_dir() else None


class EnvSettings(BaseSettings):
    """Settings from the environment (TRACKING_MONITOR_*) and from secret files named without the prefix."""

    model_config = SettingsConfigDict(env_prefix="TRACKING_MONITOR_", extra="ignore")

    config: Path | None = None
    notify_urls: str = ""  # several URLs separated by spaces, commas or new lines

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then files like `notify_urls` in the secrets directory (systemd LoadCredential)."""
        return init_settings, env_settings, SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir(), env_prefix="")

    def urls(self) -> list[str]:
        """The notification URLs given outside the watchlist."""
        return [u for u in re.split(r"[\s,]+", self.notify_urls) if u]


def carrier_secrets(cid: str, cls: type[Carrier]) -> dict[str, str]:
    """Credentials for one carrier from TRACKING_MONITOR_<ID>_<KEY> or a `<id>_<key>` file in the secrets dir."""
    found: dict[str, str] = {}
    directory = secrets_dir()
    for name in CREDENTIAL_FIELDS:
        if name not in cls.Settings.model_fields:
            continue
        value = os.environ.get(f"TRACKING_MONITOR_{env_id(cid)}_{name.upper()}")
        if value is None and directory is not None and (directory / f"{cid}_{name}").is_file():
            value = (directory / f"{cid}_{name}").read_text(encoding="utf-8")
        if value and value.strip():
            found[name] = value.strip()
    return found


def config_path(cli_value: Path | None) -> Path:
    """--config, else $TRACKING_MONITOR_CONFIG, else /etc/tracking-monitor/config.toml."""
    return cli_value or EnvSettings().config or DEFAULT_CONFIG


def destination_id(url: str) -> str:
    """A stable id for a URL that reveals nothing of its tokens."""
    return "url:" + hashlib.blake2s(url.encode(), digest_size=6).hexdigest()


def privacy_url(url: str) -> str:
    """The URL as Apprise prints it with secrets masked."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    return plugin.url(privacy=True) if plugin else url.split("://", 1)[0] + "://…"


@dataclass
class App:
    """Everything a cycle needs, built from one valid watchlist."""

    path: Path
    watchlist: Watchlist
    carriers: dict[str, Carrier]
    skipped: dict[str, str]  # carrier id -> why it cannot be used
    destinations: dict[str, str | None] = field(default_factory=dict)  # id -> Apprise URL; None: the terminal

    @property
    def state_dir(self) -> Path:
        """Where the state database lives."""
        return self.watchlist.monitor.state_dir or default_state_dir()

    def sources(self, order: Order, routes: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """(carrier id, number) pairs to ask for an order, best first: a named carrier, the carrier that
        answered before (`routes`), else every usable candidate in rank order (direct carriers, then aggregators)."""
        number = order.tracking
        if not number:
            return []
        if order.carrier != "auto":
            return [(order.carrier, number)] if order.carrier in self.carriers else []
        if (won := (routes or {}).get(number)) in self.carriers:
            return [(won, number)]
        return [(c.carrier, number) for c in rank(number, self.carriers) if c.carrier in self.carriers]

    def source(self, order: Order, routes: dict[str, str] | None = None) -> tuple[str, str] | None:
        """(carrier id, number) to poll for an order, or None when no usable carrier can be asked."""
        chain = self.sources(order, routes)
        return chain[0] if chain else None

    def why_no_source(self, order: Order) -> str:
        """A one-line reason an order with a tracking number is not polled."""
        wanted = [order.carrier] if order.carrier != "auto" else [
            c.carrier for c in rank(order.tracking or "", self.carriers)]
        if not wanted:
            return "no carrier recognises this number; set carrier = \"…\""
        why = f"{wanted[0]}: {self.skipped.get(wanted[0], 'not installed')}"
        if others := [a for a in AGGREGATORS if a in wanted[1:]]:
            why += f" (an aggregator would do too: {' or '.join(others)})"
        return why

    async def aclose(self) -> None:
        """Close the carriers' network clients."""
        for carrier in self.carriers.values():
            await carrier.aclose()


def load_app(cli_path: Path | None, clock: Clock) -> App:
    """Load and validate everything; raise ConfigError naming every problem."""
    path = config_path(cli_path)
    registry = load_registry()
    text = read_text(path)  # read once: carrier-table errors are located in the same text that was validated
    watchlist = validate_data(parse_toml(text, path), text, path, registry)
    carriers, skipped = _build_carriers(registry, watchlist, text, path, clock)
    wanted = set(watchlist.carriers) | {o.carrier for o in watchlist.orders}
    for cid in sorted(wanted & set(skipped)):
        log.warning("carrier %s skipped: %s", cid, skipped[cid])  # one line, never a crash
    env = EnvSettings()
    urls = [*watchlist.notify.urls, *env.urls()]
    destinations: dict[str, str | None] = {destination_id(u): u for u in urls} or {TERMINAL: None}
    return App(path, watchlist, carriers, skipped, destinations)


def _build_carriers(
    registry: dict[str, type[Carrier]], watchlist: Watchlist, text: str, path: Path, clock: Clock
) -> tuple[dict[str, Carrier], dict[str, str]]:
    carriers: dict[str, Carrier] = {}
    skipped: dict[str, str] = {}
    problems: list[Problem] = []
    for cid, cls in registry.items():
        table: dict[str, Any] = {**watchlist.carriers.get(cid, {}), **carrier_secrets(cid, cls)}
        try:
            settings = build_settings(cls, table)
        except ValidationError as exc:
            problems += problems_from(exc, text, path, ("carriers", cid))
            continue
        if not settings.enabled:
            skipped[cid] = "disabled in the watchlist"
            continue
        carrier = cls(settings, clock=clock)
        if missing := carrier.missing_credentials():
            skipped[cid] = missing
            continue
        carriers[cid] = carrier
    if problems:
        raise ConfigError(problems)
    return carriers, skipped
