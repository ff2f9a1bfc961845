"""The TOML watchlist: parsed, validated and typed, with errors that name file:line and the field."""
from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from carriers.detect import normalize
from monitor.durations import parse_duration
from monitor.errors import ConfigError, Problem

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

DATE_HINT = "a date like 2026-12-16 (or a date and time like 2026-12-16T18:00)"


def _parse_when(value: object) -> date | datetime:
    """Accept a TOML date/datetime or the same as an ISO string; keep date-only values as dates."""
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"expected {DATE_HINT}, got {value!r}")


When = Annotated[date | datetime, BeforeValidator(_parse_when)]
Day = Annotated[date, BeforeValidator(_parse_when)]


def _local_zone_name() -> str:
    """The machine's own zone, the sensible default for a buyer's dates."""
    try:
        from tzlocal import get_localzone_name

        return get_localzone_name() or "UTC"
    except Exception:  # no zone configured on the machine: UTC is the honest fallback
        return "UTC"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonitorSection(_Section):
    """`[monitor]`: where and how the daemon runs."""

    timezone: str = Field(default_factory=_local_zone_name)
    language: Literal["en", "fr"] = "en"
    poll_interval: Duration = timedelta(hours=6)
    state_dir: Path | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ' (an IANA name like "Europe/Paris")'
            raise ValueError(f"unknown time zone {value!r}{hint}") from None
        return value

    @field_validator("poll_interval")
    @classmethod
    def _sane_interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5):
            raise ValueError("must be at least 5m: carriers throttle or ban faster polling")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The watchlist's zone as a tzinfo."""
        return ZoneInfo(self.timezone)


class NotifySection(_Section):
    """`[notify]`: where alerts go; no URL at all prints them to the terminal."""

    urls: list[str] = []

    @field_validator("urls")
    @classmethod
    def _urls_have_scheme(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if "://" not in url:
                raise ValueError(f'{url!r} is not an Apprise URL (expected something like "ntfy://ntfy.sh/topic")')
        return urls


class Rules(_Section):
    """`[rules]`: when each finding fires; every key can be overridden inside one order."""

    tracking_missing_after: Duration = timedelta(days=7)
    tracking_unknown_after: Duration = timedelta(days=5)
    stalled_after: Duration = timedelta(days=7)
    stalled_international_after: Duration = timedelta(days=20)
    dark_after_export_after: Duration = timedelta(days=3)
    promised_grace: Duration = timedelta(days=1)
    protection_warn: list[Duration] = [timedelta(days=7), timedelta(days=3), timedelta(days=1)]
    long_wait_after: Duration = timedelta(days=50)
    refund_window_warn: Duration = timedelta(days=3)
    source_failing_after: Duration = timedelta(days=1)
    holiday_shift: bool = True

    @field_validator("protection_warn")
    @classmethod
    def _steps(cls, steps: list[timedelta]) -> list[timedelta]:
        if len(set(steps)) != len(steps):
            raise ValueError("each step may appear only once")
        return sorted(steps, reverse=True)


RULE_KEYS = tuple(Rules.model_fields)

# Every [rules] key may be given inside an order; None means "use [rules]".
_RuleOverrides = create_model(
    "_RuleOverrides",
    __base__=_Section,
    **{
        name: ((Annotated[f.annotation, *f.metadata] if f.metadata else f.annotation) | None, None)
        for name, f in Rules.model_fields.items()
    },  # type: ignore[call-overload]
)


class Dispute(_Section):
    """`[orders.dispute]`: an open dispute and the mediator's waiting date."""

    opened_on: Day | None = None
    wait_until: Day | None = None

    @model_validator(mode="after")
    def _order(self) -> Dispute:
        if self.opened_on and self.wait_until and self.wait_until < self.opened_on:
            raise ValueError(f"wait_until {self.wait_until} is before opened_on {self.opened_on}")
        return self


class Order(_RuleOverrides):  # type: ignore[misc,valid-type]
    """One `[[orders]]` entry."""

    id: str
    shop: str = ""
    item: str = ""
    ordered_on: When
    tracking: str | None = None
    tracking_since: When | None = None
    carrier: str = "auto"
    promised_by: Day | None = None
    protection_ends: When | None = None
    delivered_on: When | None = None
    refund_window: Duration | None = None
    dispute: Dispute | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        # Marketplace order numbers are digits; an unquoted one is still the same id.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value.strip() if isinstance(value, str) else value

    @field_validator("tracking")
    @classmethod
    def _normalize_tracking(cls, value: str | None) -> str | None:
        if value is None:
            return None
        number = normalize(value)
        if number and not re.fullmatch(r"[A-Z0-9\-]{4,40}", number):
            raise ValueError(f"{value!r} does not look like a tracking number (letters and digits, 4 to 40)")
        return number or None

    @field_validator("carrier")
    @classmethod
    def _known_carrier(cls, value: str, info: ValidationInfo) -> str:
        known: Iterable[str] = (info.context or {}).get("carriers", ())
        value = value.strip().lower()
        if value == "auto" or not known or value in known:
            return value
        choices = ["auto", *sorted(known)]
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else f" (one of: {', '.join(choices)})"
        raise ValueError(f"unknown carrier {value!r}{hint}")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Order:
        start = _day(self.ordered_on)
        for name in ("promised_by", "protection_ends", "delivered_on", "tracking_since"):
            value = getattr(self, name)
            if value is not None and _day(value) < start:
                raise ValueError(f"{name} {_day(value)} is before ordered_on {start}")
        return self

    def rules(self, base: Rules) -> Rules:
        """The effective rules for this order: [rules] with this order's overrides on top."""
        overrides = {k: getattr(self, k) for k in RULE_KEYS if getattr(self, k) is not None}
        return base.model_copy(update=overrides) if overrides else base


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


class Watchlist(_Section):
    """The whole file."""

    monitor: MonitorSection = MonitorSection()
    notify: NotifySection = NotifySection()
    rules: Rules = Rules()
    carriers: dict[str, dict[str, Any]] = {}
    orders: list[Order] = []

    @field_validator("orders")
    @classmethod
    def _unique_ids(cls, orders: list[Order]) -> list[Order]:
        seen: dict[str, int] = {}
        for i, order in enumerate(orders):
            if order.id in seen:
                raise ValueError(f"orders[{i}].id {order.id!r} repeats orders[{seen[order.id]}].id; ids must be unique")
            seen[order.id] = i
        return orders

    @field_validator("carriers")
    @classmethod
    def _known_carrier_tables(cls, tables: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        known = sorted((info.context or {}).get("carriers", ()))
        for name, table in tables.items():
            if known and name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f'; did you mean "{close[0]}"?' if close else f" (one of: {', '.join(known)})"
                raise ValueError(f"[carriers.{name}]: unknown carrier{hint}")
            if not isinstance(table, Mapping):
                raise ValueError(f"carriers.{name} must be a table like [carriers.{name}]")
        return tables

    def order(self, order_id: str) -> Order | None:
        """The order with this id, if any."""
        return next((o for o in self.orders if o.id == order_id), None)


# ---------------------------------------------------------------- loading and errors


def read_text(path: Path) -> str:
    """Read the file as UTF-8 text; a BOM is dropped, binary garbage is a ConfigError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "no such file (give --config PATH or set TRACKING_MONITOR_CONFIG)")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(str(path), "is a directory, expected a TOML file")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    if b"\x00" in data:
        raise ConfigError([Problem(str(path), "is a binary file, expected TOML text")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError([Problem(f"{path}:{line}", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8")]) from None
    return text


_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """tomllib with its error turned into `file:line:column: what`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else str(path)
        what = _TOML_POS.sub("", msg) if m else msg
        raise ConfigError([Problem(where, f"TOML syntax error: {what[:1].lower()}{what[1:]}")]) from None


def load_watchlist(path: Path, carriers: Iterable[str] = ()) -> Watchlist:
    """Read, parse and validate a watchlist; raise ConfigError listing every problem."""
    text = read_text(path)
    return validate_data(parse_toml(text, path), text, path, carriers)


def validate_data(data: dict[str, Any], text: str, path: Path, carriers: Iterable[str] = ()) -> Watchlist:
    """Validate parsed TOML; problems name file:line and the field path."""
    try:
        return Watchlist.model_validate(data, context={"carriers": set(carriers)})
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, text, path)) from None


def problems_from(exc: ValidationError, text: str, path: Path, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """One Problem per pydantic error, located at file:line; `prefix` roots a sub-table's errors."""
    locate = _Locator(text)
    return [_problem({**err, "loc": (*prefix, *err["loc"])}, path, locate) for err in exc.errors()]


def field_path(loc: tuple[Any, ...]) -> str:
    """('orders', 2, 'dispute', 'wait_until') -> 'orders[2].dispute.wait_until'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_EXPECTED = {
    "missing": "required, but missing",
    "string_type": "expected text in quotes",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list like [\"a\", \"b\"]",
    "model_type": "expected a table",
    "dict_type": "expected a table",
    "literal_error": None,  # pydantic's own text lists the choices
}


def _problem(err: Mapping[str, Any], path: Path, locate: _Locator) -> Problem:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _TAGS))
    kind = err["type"]
    if kind == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        allowed = _allowed_keys(parent)
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else (f" (allowed: {', '.join(allowed)})" if allowed else "")
        message = f"unknown key {key!r}{hint}"
    elif kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
    else:
        message = _EXPECTED.get(kind) or str(err["msg"]).replace("Input should be", "expected")
        if kind != "missing" and "input" in err:
            message += f", got {err['input']!r}"
    # A cross-field check on an order ("before ordered_on") is reported on the field it names.
    if kind == "value_error" and loc and isinstance(loc[-1], int) and loc[0] == "orders":
        named = message.split(" ", 1)[0]
        if named in Order.model_fields:
            loc = (*loc, named)
    where = f"{path}:{line}" if (line := locate(loc)) else str(path)
    return Problem(where, f"{field_path(loc)}: {message}" if loc else message)


_TAGS = {"date", "datetime", "function-before[_parse_when()]", "function-after"}


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    model: Any = Watchlist
    for part in parent:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


class _Locator:
    """Finds the line of a field path in TOML text, so field errors can say file:line."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")

    def __init__(self, text: str) -> None:
        self.entries: list[tuple[tuple[Any, ...], int]] = []
        counters: dict[tuple[Any, ...], int] = {}
        table: tuple[Any, ...] = ()
        for lineno, line in enumerate(text.splitlines(), 1):
            if m := self._HEADER.match(line):
                names = self._split(m.group(2))
                table = self._expand(names, counters)
                if m.group(1) == "[[":
                    key = tuple(names)
                    counters[key] = counters.get(key, -1) + 1
                    table = (*table, counters[key])
                self.entries.append((table, lineno))
            elif m := self._KEY.match(line):
                self.entries.append(((*table, *self._split(m.group(1))), lineno))

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [p.strip().strip("\"'") for p in re.findall(r"""(?:"[^"]*"|'[^']*'|[^.]+)""", dotted)]

    @staticmethod
    def _expand(names: list[str], counters: Mapping[tuple[Any, ...], int]) -> tuple[Any, ...]:
        # [orders.dispute] after [[orders]] belongs to the last order.
        out: list[Any] = []
        for i, name in enumerate(names):
            out.append(name)
            idx = counters.get(tuple(names[: i + 1]))
            if idx is not None and i < len(names) - 1:
                out.append(idx)
        return tuple(out)

    def __call__(self, loc: tuple[Any, ...]) -> int | None:
        best, best_len = None, -1
        for path, lineno in self.entries:
            n = len(path)
            if n > best_len and loc[:n] == path:
                best, best_len = lineno, n
        return best
