"""Assembles a running configuration: config path, environment secrets, the watchlist and usable carriers."""
from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from carriers.base import Carrier, Clock, build_settings, load_registry
from carriers.detect import AGGREGATORS, rank
from carriers.http import CREDENTIAL_FIELDS, env_id
from carriers.model import Handover
from monitor.errors import ConfigError, Problem
from monitor.paths import Place, missing_config_hint, read_secret_file, resolve
from monitor.rules import Finding, Policy, Severity, order_policies
from monitor.watchlist import (
    Order,
    QuietHours,
    Watchlist,
    parse_toml,
    problem_at,
    problems_from,
    read_text,
    shifted,
    validate_data,
)
from monitor.windows import WindowTable

log = logging.getLogger("tracking_monitor")

TERMINAL = "terminal"


def secrets_dir() -> Path | None:
    """Where secret files live: $TRACKING_MONITOR_SECRETS_DIR, $CREDENTIALS_DIRECTORY, or the service's (see paths)."""
    return resolve().secrets.path


class _SecretFiles(PydanticBaseSettingsSource):
    """Each field from the secret file of the same name (systemd LoadCredential=), read like every other secret."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return secret_file(field_name)[0], field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {name: self.get_field_value(None, name)[0] for name in self.settings_cls.model_fields}
        return {name: value for name, value in found.items() if value is not None}


class EnvSettings(BaseSettings):
    """Settings from the environment (TRACKING_MONITOR_*) and from secret files named without the prefix."""

    model_config = SettingsConfigDict(env_prefix="TRACKING_MONITOR_", extra="ignore")

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
        return init_settings, env_settings, _SecretFiles(settings_cls)

    def urls(self) -> list[str]:
        """The notification URLs given outside the watchlist."""
        return [u for u in re.split(r"[\s,]+", self.notify_urls) if u]


def carrier_secrets(cid: str, cls: type[Carrier]) -> dict[str, str]:
    """Credentials for one carrier from TRACKING_MONITOR_<ID>_<KEY> or a `<id>_<key>` file in the secrets dir."""
    found = {name: read_secret(f"{cid}_{name}") for name in CREDENTIAL_FIELDS if name in cls.Settings.model_fields}
    return {name: value for name, value in found.items() if value}


def config_path(cli_value: Path | None) -> Path:
    """--config, else $TRACKING_MONITOR_CONFIG, else the user's or the service's watchlist (see monitor.paths)."""
    found = resolve(cli_value).config.path
    assert found is not None
    return found


def destination_id(url: str) -> str:
    """A stable id for a URL that reveals nothing of its tokens."""
    return "url:" + hashlib.blake2s(url.encode(), digest_size=6).hexdigest()


@contextmanager
def apprise_silenced() -> Iterator[None]:
    """Apprise logs a URL it cannot parse in full, token included: keep that out of the logs."""
    logger = logging.getLogger("apprise")
    was, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = was


def privacy_url(url: str) -> str:
    """The URL as Apprise prints it with secrets masked."""
    import apprise

    with apprise_silenced():
        plugin = apprise.Apprise.instantiate(url)
    # Without the query: Apprise spells out every default there, which only hides the host and path.
    return plugin.url(privacy=True).split("?", 1)[0] if plugin else url.split("://", 1)[0] + "://…"


def url_problem(url: str) -> str | None:
    """Why Apprise cannot use this URL, in words that never repeat the URL; None when it can."""
    import apprise
    from apprise.manager_plugins import NotificationManager

    scheme = url.split("://", 1)[0].lower()
    schemas = NotificationManager().schemas()
    if scheme not in schemas:
        close = difflib.get_close_matches(scheme, schemas, n=1)
        hint = f'; did you mean "{close[0]}://"?' if close else ", like ntfy:// or mailto://"
        return f'expected a notification service Apprise knows, not "{scheme}://"{hint}'
    with apprise_silenced():
        if apprise.Apprise.instantiate(url) is None:
            return f'expected a complete "{scheme}://" URL (see the Apprise wiki for its parts); this one is incomplete'
    return None


def read_secret(name: str) -> str | None:
    """A secret by name: $TRACKING_MONITOR_<NAME>, else the file <name> in the secrets directory."""
    return os.environ.get(secret_env(name), "").strip() or secret_file(name)[0]


def secret_file(name: str) -> tuple[str | None, str]:
    """A secret from the secrets directory (a `.cred` file decrypted when root can), or why it is not there."""
    folder = secrets_dir()
    if folder is None:
        return None, ""
    return read_secret_file(folder, name)


def secret_origin(name: str) -> tuple[bool, str]:
    """Whether a secret can be read, and from where (never its value), or why not."""
    if os.environ.get(secret_env(name), "").strip():
        return True, f"${secret_env(name)}"
    value, why = secret_file(name)
    folder = secrets_dir()
    if value is not None and folder is not None:
        return True, str(folder / name if (folder / name).is_file() else folder / f"{name}.cred")
    return False, why or "not set"


def secret_names(watchlist: Watchlist | None) -> list[str]:
    """Every secret this configuration may read: the destinations' url_secret, the mailbox's password_secret,
    notify_urls, each carrier's keys."""
    named = [d.url_secret for d in watchlist.notify.destinations if d.url_secret] if watchlist else []
    if watchlist and watchlist.import_.imap:
        named.append(watchlist.import_.imap.password_secret)
    carriers = [f"{cid}_{name}" for cid, cls in load_registry().items()
                for name in CREDENTIAL_FIELDS if name in cls.Settings.model_fields]
    return [*named, "notify_urls", *carriers]


def secret_env(name: str) -> str:
    """The environment variable that holds a named secret (17track_api_key -> TRACKING_MONITOR_17TRACK_API_KEY)."""
    return f"TRACKING_MONITOR_{env_id(name)}"


@dataclass(frozen=True)
class Destination:
    """One place alerts go: a named destination, an unnamed URL, or the terminal (url None)."""

    id: str  # the outbox's key: the name, "url:<hash>", or "terminal"; never the URL itself
    url: str | None
    name: str = ""  # empty for an unnamed URL
    min_severity: Severity = Severity.INFO
    tags: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = None  # None: [notify].quiet_hours

    @classmethod
    def for_url(cls, url: str | None) -> Destination:
        """An unnamed destination for a URL (every alert, no tags), or the terminal for None."""
        # Whoever reads a terminal is looking at it now: quiet hours would only hide alerts from them.
        return cls(destination_id(url), url) if url else cls(TERMINAL, None, TERMINAL, quiet_hours=QuietHours(None, None))

    @property
    def label(self) -> str:
        """How logs and the CLI name it: the name and the URL's privacy form."""
        shown = privacy_url(self.url) if self.url else TERMINAL
        return f"{self.name} ({shown})" if self.name and self.url else shown

    def wants(self, severity: Severity, order_tags: Sequence[str] | None) -> bool:
        """Whether an alert of this severity about an order with these `notify` tags goes here."""
        if severity.rank < self.min_severity.rank:
            return False
        return not order_tags or bool(self.tags.intersection(order_tags))


@dataclass
class App:
    """Everything a cycle needs, built from one valid watchlist."""

    path: Path
    watchlist: Watchlist
    carriers: dict[str, Carrier]
    skipped: dict[str, str]  # carrier id -> why it cannot be used
    destinations: dict[str, Destination] = field(default_factory=dict)  # by id

    @cached_property
    def policies(self) -> list[tuple[Order, Policy]]:
        """Each order with its effective rules, zone and language; a reload builds a new App."""
        m = self.watchlist.monitor
        return order_policies(self.watchlist.orders, self.watchlist.rules, m.zone, m.language, self.windows)

    @cached_property
    def windows(self) -> WindowTable:
        """The protection windows by marketplace and payment, with the watchlist's overrides."""
        return self.watchlist.window_table()

    def on_day(self, now: datetime) -> App:
        """This app with a demo watchlist's dates (shift_dates_from) moved to the day of `now`; itself otherwise."""
        wl = self.watchlist
        moved = shifted(wl, now.astimezone(wl.monitor.zone).date())
        return self if moved is wl else replace(self, watchlist=moved)  # a new App works out its policies again

    @property
    def state_place(self) -> Place:
        """Where the state database lives, and why there."""
        m = self.watchlist.monitor
        return resolve().state_for(m.state_dir, demo=m.shift_dates_from is not None)

    @property
    def state_dir(self) -> Path:
        """Where the state database lives."""
        found = self.state_place.path
        assert found is not None
        return found

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

    def follow(self, handover: Handover) -> tuple[str, str] | None:
        """The (carrier id, number) to ask about a handed-over parcel: the carrier the source names, else the one
        the number's format points at, when configured and not an aggregator (an aggregator already follows the
        last mile); None when there is none."""
        named = [handover.carrier] if handover.carrier in self.carriers else []
        for cid in (*named, *(c.carrier for c in rank(handover.number, self.carriers))):
            if cid in self.carriers and cid not in AGGREGATORS:
                return cid, handover.number
        return None

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

    @cached_property
    def orders_by_id(self) -> dict[str, Order]:
        """The watchlist's orders by id, for lookups once per finding."""
        return {o.id: o for o in self.watchlist.orders}

    def routes(self, finding: Finding) -> list[str]:
        """The ids of the destinations a finding goes to: by severity, and by the order's `notify` tags."""
        order = self.orders_by_id.get(finding.order_id) if finding.order_id else None
        tags = order.notify if order else None
        return [d.id for d in self.destinations.values() if d.wants(finding.severity, tags)]

    async def aclose(self) -> None:
        """Close the carriers' network clients."""
        for carrier in self.carriers.values():
            await carrier.aclose()


def load_app(cli_path: Path | None, clock: Clock, *, sending: bool = True) -> App:
    """Load and validate everything; raise ConfigError naming every problem. A command that sends nothing
    (`sending=False`) goes on without a destination whose secret it cannot read, with one warning."""
    paths = resolve(cli_path)
    path = paths.config.path
    assert path is not None
    if not path.exists() and cli_path is None:
        raise ConfigError([Problem(str(path), f"no such file ({paths.config.why}); {missing_config_hint(paths)}")])
    registry = load_registry()
    text = read_text(path)  # read once: carrier-table errors are located in the same text that was validated
    watchlist = validate_data(parse_toml(text, path), text, path, registry, consume=True)
    carriers, skipped = _build_carriers(registry, watchlist, text, path, clock)
    wanted = set(watchlist.carriers) | {o.carrier for o in watchlist.orders}
    for cid in sorted(wanted & set(skipped)):
        log.warning("carrier %s skipped: %s", cid, skipped[cid])  # one line, never a crash
    destinations = _destinations(watchlist, text, path, sending)
    return App(path, watchlist, carriers, skipped, destinations).on_day(clock())


def _destinations(watchlist: Watchlist, text: str, path: Path, sending: bool) -> dict[str, Destination]:
    """Named destinations, then [notify].urls and the URLs from the environment; the terminal when there are none."""
    problems: list[Problem] = []
    out: dict[str, Destination] = {}
    for i, spec in enumerate(watchlist.notify.destinations):
        url = spec.url or read_secret(spec.url_secret or "")
        field_name = "url" if spec.url else "url_secret"
        where = ("notify", "destinations", i, field_name)
        if url is None:
            name = spec.url_secret or ""
            missing = problem_at(text, path, where, (
                f'no secret "{name}": expected the variable {secret_env(name)} or a file {name} in '
                "$TRACKING_MONITOR_SECRETS_DIR or $CREDENTIALS_DIRECTORY (systemd LoadCredential=)"
                + (f"; {why}" if (why := secret_file(name)[1]) else "")))
            if sending:
                problems.append(missing)
            else:  # a command that only reads has no use for the URL: it says so and goes on
                log.warning("%s; this command goes on without destination %r", missing, spec.name)
        elif why := url_problem(url):
            problems.append(problem_at(text, path, where, why))
        else:
            out[spec.name] = Destination(spec.name, url, spec.name, Severity(spec.min_severity),
                                         frozenset(spec.tags), spec.quiet_hours)
    for i, url in enumerate(watchlist.notify.urls):
        if why := url_problem(url):
            problems.append(problem_at(text, path, ("notify", "urls", i), why))
        else:
            out.setdefault(destination_id(url), Destination.for_url(url))
    for i, url in enumerate(EnvSettings().urls()):
        if why := url_problem(url):
            problems.append(Problem("TRACKING_MONITOR_NOTIFY_URLS (or the notify_urls secret)", f"URL {i + 1}: {why}"))
        else:
            out.setdefault(destination_id(url), Destination.for_url(url))
    if problems:
        raise ConfigError(problems)
    return out or {TERMINAL: Destination.for_url(None)}


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
            skipped[cid] = f"disabled: set enabled = true in [carriers.{cid}] to use it"
            continue
        carrier = cls(settings, clock=clock)
        if missing := carrier.missing_credentials():
            skipped[cid] = missing
            continue
        carriers[cid] = carrier
    if problems:
        raise ConfigError(problems)
    return carriers, skipped
