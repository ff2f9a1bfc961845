"""The TOML watchlist: parsed, validated and typed, with errors that name file:line and the field."""
from __future__ import annotations

import ast
import difflib
import json
import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from carriers.detect import normalize, shape_problem
from monitor.durations import HINT as DURATION_HINT
from monitor.durations import MAX_DURATION, DurationTooLong, format_duration, parse_duration
from monitor.errors import ConfigError, Problem
from monitor.textsafe import escaped
from monitor.windows import ANCHORS, NAMES, PAYMENTS, WindowTable
from monitor.windows import table as window_table

DATE_HINT = "a date like 2026-12-16 (or a date and time like 2026-12-16T18:00:00)"
DAY_HINT = "a date like 2026-12-16 (a day, without a time)"
# Every date of the watchlist and of --now lies in this window: wide enough for any real order, and narrow enough
# that whatever the program computes from one (plus or minus a duration of at most MAX_DURATION, moved by
# shift_dates_from, turned into an instant in any zone) is still a date Python can hold.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
WINDOW_HINT = f"a date between {FIRST_DAY} and {LAST_DAY}"
MAX_ID_LENGTH = 100  # the longest marketplace order numbers have about 30 characters
MAX_SOURCE_LENGTH = 300  # an order's `source`: "mail " and a Message-ID, which mail programs keep short
MAX_NESTING = 20  # lists and tables inside each other; a watchlist needs 4, and deeper ones overflow parsers' stacks
_SHOWN = 60  # characters of a value that an error message repeats


def in_window(value: date | datetime) -> bool:
    """Whether a date, or a date-time's own calendar day, lies between FIRST_DAY and LAST_DAY."""
    # A UTC offset is less than a day, so a date-time whose day is inside converts to any zone without overflow.
    return FIRST_DAY <= (value.date() if isinstance(value, datetime) else value) <= LAST_DAY


# A URL with a user and password, a token in its query, or a long token-like part (Apprise puts bot tokens and
# webhook keys in the host or the path): only its scheme is shown.
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)([^\s\"'<>\\]*)")
_CREDENTIAL = re.compile(r"@|[?&;][\w\-]*(?:token|key|secret|pass|auth|sig)[\w\-]*=|[A-Za-z0-9_\-]{16,}", re.I)


def mask_secrets(text: str) -> str:
    """`text` with every URL that may carry a credential cut to its scheme, like "tgram://…"."""
    return _URL.sub(lambda m: m.group(1) + "…" if _CREDENTIAL.search(m.group(2)) else m.group(0), text)


def _q(text: str) -> str:
    """Text as the user would write it in TOML: in double quotes, controls and invisible characters escaped."""
    return escaped(json.dumps(text, ensure_ascii=False))


def _short(shown: str) -> str:
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."


def _describe(value: object) -> str:
    """A value as it looks in the TOML file, not as Python prints it; a long one cut, a URL's credentials masked."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _short(str(value))
    if isinstance(value, str):
        return _q(_short(mask_secrets(value)))
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _kind(value: object) -> str:
    """What sort of value this is, without showing it (for places that may hold secrets)."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (date, time)):
        return "a date or time"
    return _describe(value) if isinstance(value, (Mapping, list, tuple)) else "a value"


def _duration(value: object) -> timedelta:
    """parse_duration, with the value shown as it is written in the file."""
    try:
        return parse_duration(value)
    except DurationTooLong:
        raise ValueError(f"expected a duration of at most {_q(format_duration(MAX_DURATION))} (10 years), "
                         f"got {_describe(value)}") from None
    except ValueError:
        pass
    if isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"expected {DURATION_HINT}; a duration cannot be negative, got {_describe(value)}")
    quoted = "" if isinstance(value, str) else " in quotes"
    raise ValueError(f"expected {DURATION_HINT}{quoted}, got {_describe(value)}")


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _read_when(value: object) -> date | datetime | None:
    """A TOML date/datetime, or the same as an ISO string; None when it is neither."""
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            pass
    return None


def _windowed(when: date | datetime, value: object) -> None:
    if not in_window(when):
        raise ValueError(f"expected {WINDOW_HINT}, got {_describe(value)}")


def _parse_when(value: object) -> date | datetime:
    """Accept a TOML date/datetime or the same as an ISO string, in the window; keep date-only values as dates."""
    when = _read_when(value)
    if when is None:
        raise ValueError(f"expected {DATE_HINT}, got {_describe(value)}")
    _windowed(when, value)
    return when


def _parse_day(value: object) -> date:
    """A day only: a time of day would be silently dropped, so one other than midnight is refused."""
    when = _read_when(value)
    if isinstance(when, datetime) and when.time() == time(0) and when.tzinfo is None:
        when = when.date()
    if when is None or isinstance(when, datetime):
        raise ValueError(f"expected {DAY_HINT}, got {_describe(value)}")
    _windowed(when, value)
    return when


When = Annotated[date | datetime, BeforeValidator(_parse_when)]
Day = Annotated[date, BeforeValidator(_parse_day)]

# The checks below raise errors of this type, whose message is already the finished sentence.
_BAD = "watchlist_value"
_Found = list[tuple[tuple[str | int, ...], str, Any]]  # (location, message, the value at fault)


def _detail(loc: tuple[str | int, ...], message: str, value: Any, kind: str = _BAD, ctx: dict[str, Any] | None = None,
            ) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, "{message}", {**(ctx or {}), "message": message}),
                            loc=loc, input=value)


def _invalid(found: _Found, title: str, errors: Iterable[Any] = ()) -> ValidationError:
    """One error per found problem, each on its own field; pydantic's `errors` are kept so none hides another."""
    kept = [_detail(e["loc"], e["msg"], e.get("input"), e["type"], e.get("ctx")) for e in errors]
    return ValidationError.from_exception_data(title, kept + [_detail(loc, msg, value) for loc, msg, value in found])


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
    backups: int = 7  # daily backups of the state kept; 0: none made
    # For demonstrations and tests: the orders' dates were written as if today were this day, and move
    # forward with the calendar, so an example file keeps showing the same alerts. See shifted().
    shift_dates_from: Day | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        # OSError: a name that is a folder of the zone database ("Europe") or too long to be a file name.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1) if len(value) <= _SHOWN else []
            hint = f"; did you mean {_q(close[0])}?" if close else ' (expected an IANA name like "Europe/Paris")'
            raise ValueError(f"unknown time zone {_describe(value)}{hint}") from None
        return value

    @field_validator("state_dir")
    @classmethod
    def _usable_path(cls, value: Path | None) -> Path | None:
        # The operating system refuses a NUL in a path, and a control character there is a mistake.
        if value is not None and (bad := next((c for c in str(value) if unicodedata.category(c) == "Cc"), None)):
            raise ValueError(f'has the control character U+{ord(bad):04X}; expected a folder path like '
                             f'"/var/lib/tracking-monitor", got {_describe(str(value))}')
        return value

    @field_validator("poll_interval")
    @classmethod
    def _sane_interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5):
            raise ValueError(f'expected at least "5m" (carriers throttle or ban faster polling), got {_q(format_duration(value))}')
        return value

    @field_validator("backups")
    @classmethod
    def _sane_backups(cls, value: int) -> int:
        if not 0 <= value <= 366:
            raise ValueError(f"expected how many daily backups of the state to keep, from 0 (none) to 366, got {value}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The watchlist's zone as a tzinfo."""
        return ZoneInfo(self.timezone)


def _apprise_url(url: str) -> str:
    # The URL may hold a password or token: the message names the mistake, never the URL.
    if "://" not in url:
        raise ValueError('expected an Apprise URL like "ntfy://ntfy.sh/topic"; this one has no "scheme://" part')
    return url


_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
QUIET_HINT = 'hours like "22:00-08:00" (from-to, 24-hour clock, in [monitor].timezone), or "off"'


@dataclass(frozen=True)
class QuietHours:
    """A daily stretch when only urgent alerts go out; `start` None means never quiet ("off")."""

    start: time | None
    end: time | None

    def hold_until(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """The end of the quiet stretch `now` falls in, or None when `now` is not quiet."""
        if self.start is None or self.end is None:
            return None
        local = now.astimezone(zone)
        today, t = local.date(), local.time().replace(tzinfo=None)
        if self.start < self.end:
            inside, end_day = self.start <= t < self.end, today
        else:  # across midnight: 22:00-08:00
            inside = t >= self.start or t < self.end
            end_day = today + timedelta(days=1) if t >= self.start else today
        return datetime.combine(end_day, self.end, zone) if inside else None

    def __str__(self) -> str:
        return "off" if self.start is None or self.end is None else f"{self.start:%H:%M}-{self.end:%H:%M}"


def _quiet_hours(value: object) -> QuietHours:
    if isinstance(value, QuietHours):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "off":
        return QuietHours(None, None)
    parts = [_CLOCK.fullmatch(p.strip()) for p in text.split("-")] if text else []
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected {QUIET_HINT}, got {_describe(value)}")
    start, end = (time(int(m.group(1)), int(m.group(2))) for m in parts if m)
    if start == end:
        raise ValueError(f'expected two different times, got {_describe(value)}; write "off" for no quiet hours')
    return QuietHours(start, end)


Quiet = Annotated[QuietHours, BeforeValidator(_quiet_hours),
                  WithJsonSchema({"type": "string", "pattern": r"^\s*(?:[oO][fF][fF]|\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2})\s*$",
                                  "description": QUIET_HINT})]
_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,39}")
_SECRET = re.compile(r"[a-z0-9_]{1,60}")
# Names the environment settings already use (TRACKING_MONITOR_CONFIG…): a secret cannot take them.
RESERVED_SECRETS = ("config", "notify_urls", "secrets_dir")


def _destination_name(value: str) -> str:
    if value == "terminal" or not _NAME.fullmatch(value):
        why = '"terminal" is reserved for alerts printed to the terminal' if value == "terminal" else f"got {_q(value)}"
        raise ValueError(f"expected a short name of lowercase letters, digits, - or _, like \"phone\"; {why}")
    return value


def _secret_name(value: str) -> str:
    if not _SECRET.fullmatch(value) or value in RESERVED_SECRETS:
        why = "that name is taken by a setting" if value in RESERVED_SECRETS else f"got {_q(value)}"
        raise ValueError(f'expected a secret name of lowercase letters, digits or _, like "phone_url"; {why}')
    return value


def _tag(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f'expected a tag of lowercase letters, digits, - or _, like "family", got {_q(value)}')
    return value


Tag = Annotated[str, AfterValidator(_tag)]


class NotifyDestination(_Section):
    """One `[[notify.destinations]]` entry: a named place alerts go to."""

    name: Annotated[str, AfterValidator(_destination_name)]
    url: Annotated[str, AfterValidator(_apprise_url)] | None = None
    url_secret: Annotated[str, AfterValidator(_secret_name)] | None = None
    min_severity: Literal["info", "warning", "urgent"] = "info"
    tags: list[Tag] = []
    quiet_hours: Quiet | None = None  # None: [notify].quiet_hours

    @model_validator(mode="after")
    def _one_url(self) -> NotifyDestination:
        if (self.url is None) == (self.url_secret is None):
            both = self.url is not None
            raise _invalid([(("url_secret",) if both else (), "expected either url or url_secret, not both" if both else
                             'required, but missing: expected url = "ntfy://…" or url_secret = "phone_url"', None)],
                           "NotifyDestination")
        return self


class NotifySection(_Section):
    """`[notify]`: where alerts go, when, and how often; no destination at all prints them to the terminal."""

    urls: list[Annotated[str, AfterValidator(_apprise_url)]] = []
    destinations: list[NotifyDestination] = []
    quiet_hours: Quiet = QuietHours(None, None)
    expire_after: Duration = timedelta(days=7)
    repeat_urgent: Duration = timedelta(days=1)
    repeat_urgent_within: Duration = timedelta(days=3)
    send_timeout: Duration = timedelta(seconds=30)

    @field_validator("destinations")
    @classmethod
    def _unique_names(cls, dests: list[NotifyDestination]) -> list[NotifyDestination]:
        seen: dict[str, int] = {}
        found: _Found = []
        for i, d in enumerate(dests):
            if d.name in seen:
                found.append(((i, "name"), f"{_q(d.name)} is already the name of destinations[{seen[d.name]}]; "
                               "expected each name only once", d.name))
            seen.setdefault(d.name, i)
        if found:
            raise _invalid(found, "destinations")
        return dests

    @field_validator("expire_after", "send_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"expected a duration longer than zero, like \"30s\", got {_q(format_duration(value))}")
        return value


def _distinct_steps(steps: list[timedelta]) -> list[timedelta]:
    """protection_warn: each step once, largest first."""
    seen: set[timedelta] = set()
    for step in steps:
        if step in seen:
            raise ValueError(f"{_q(format_duration(step))} is given twice; expected each step only once, like [\"7d\", \"3d\", \"1d\"]")
        seen.add(step)
    return sorted(steps, reverse=True)


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
    pickup_hold: Duration | None = None  # None: the carrier's published hold (carriers.holds), else an estimate
    holiday_shift: bool = True

    @field_validator("protection_warn")
    @classmethod
    def _steps(cls, steps: list[timedelta]) -> list[timedelta]:
        return _distinct_steps(steps)


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
            raise _invalid([(("wait_until",), f"{self.wait_until} is before opened_on {self.opened_on}; "
                             "expected the same day or later", self.wait_until)], "Dispute")
        return self


def _lowered(value: object) -> object:
    """Text compared case-insensitively ("PayPal" is "paypal"); anything else left for the type check."""
    return value.strip().lower() if isinstance(value, str) else value


def _listed(value: object) -> object:
    """One name where a list is expected stands for a list of one."""
    return [value] if isinstance(value, str) else value


Payment = Annotated[Literal[PAYMENTS], BeforeValidator(_lowered)]  # type: ignore[valid-type]
Anchor = Annotated[Literal[ANCHORS], BeforeValidator(_lowered)]  # type: ignore[valid-type]


class WindowOverride(_Section):
    """`[windows.<name>]`: a row of the protection-window table changed; unset keys keep the shipped values."""

    title: str | None = None
    length: Duration | None = None
    counted_from: Annotated[list[Anchor], BeforeValidator(_listed)] | None = None
    opens_after: Duration | None = None
    action: str | None = None
    source: str | None = None
    estimate: bool | None = None
    enabled: bool = True

    @field_validator("counted_from")
    @classmethod
    def _some_anchor(cls, value: list[str] | None) -> list[str] | None:
        if value == []:
            raise ValueError(f"expected at least one of: {', '.join(map(_q, ANCHORS))}")
        return value

    @field_validator("title", "action", "source")
    @classmethod
    def _some_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():  # an alert would start " ends in 3 days"
            raise ValueError("expected some text, got an empty one")
        return value

    @field_validator("length")
    @classmethod
    def _some_length(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError(f"expected a duration longer than zero, like \"90d\" (enabled = false drops the row), "
                             f"got {_q(format_duration(value))}")
        return value


def _order_id(value: object) -> object:
    """An order id as text: marketplace order numbers are digits, and an unquoted one is the same id."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _source(value: str) -> str:
    if len(value) > MAX_SOURCE_LENGTH:
        raise ValueError(f"is {len(value)} characters long; expected at most {MAX_SOURCE_LENGTH}, like \"mail <id@host>\"")
    if bad := next((c for c in value if unicodedata.category(c) in ("Cc", "Cf")), None):
        raise ValueError(f"has the control or invisible character U+{ord(bad):04X}; expected visible text")
    return value


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
    paid_with: list[Payment] | None = None  # adds the PayPal and card windows (monitor/windows.py)
    estimated_delivery: Day | None = None  # the marketplace's latest estimate; promised_by when not given
    seller_contacted_on: Day | None = None
    archived: bool = False
    dispute: Dispute | None = None
    notify: list[Tag] | None = None  # tags: only destinations with one of them get this order's alerts
    source: Annotated[str, AfterValidator(_source)] = ""  # where `import` found it: "mail <Message-ID>", "pasted text"

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        value = _order_id(value)
        if value == "":
            raise ValueError("must not be empty; expected the marketplace's order number in quotes")
        if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
            raise ValueError(f"is {len(value)} characters long; expected an order number of at most {MAX_ID_LENGTH}")
        # An id is printed in alerts, logs and file names: a control or invisible character would act or hide there.
        if isinstance(value, str) and (bad := next((c for c in value if unicodedata.category(c) in ("Cc", "Cf")), None)):
            raise ValueError(f"has the control or invisible character U+{ord(bad):04X}; expected an order number of "
                             f"visible characters, got {_describe(value)}")
        return value

    @field_validator("tracking")
    @classmethod
    def _normalize_tracking(cls, value: str | None) -> str | None:
        if value is None:
            return None
        number = normalize(value)
        if number and (why := shape_problem(number)):
            raise ValueError(f"{_q(value)} {why}")
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
        hint = f"; did you mean {_q(close[0])}?" if close else f" (expected one of: {', '.join(map(_q, choices))})"
        raise ValueError(f"unknown carrier {_q(value)}{hint}")

    @field_validator("protection_warn")
    @classmethod
    def _steps(cls, steps: list[timedelta] | None) -> list[timedelta] | None:
        return None if steps is None else _distinct_steps(steps)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Order:
        start = _day(self.ordered_on)
        found: _Found = []
        for name in ("tracking_since", "promised_by", "protection_ends", "delivered_on", "seller_contacted_on",
                     "estimated_delivery"):
            value = getattr(self, name)
            if value is not None and _day(value) < start:
                found.append(((name,), f"{_day(value)} is before ordered_on {start}; expected the order date or later", value))
        if found:
            raise _invalid(found, "Order")
        return self

    @model_validator(mode="after")
    def _share_values(self, info: ValidationInfo) -> Order:
        """One object for each value many orders hold alike (their set of keys, shop, carrier, dates), shared as
        each order is made: a daemon keeps every order in memory, and 100,000 of them are 70 MB lighter (and
        lighter still while the file is loaded). The values are equal, so nothing else changes."""
        shared: dict[object, Any] | None = (info.context or {}).get("shared")
        if shared is None:
            return self
        keys = self.__pydantic_fields_set__  # never changed in place: a copy of an order gets its own set
        object.__setattr__(self, "__pydantic_fields_set__", shared.setdefault(frozenset(keys), keys))
        fields = self.__dict__
        for name, value in fields.items():
            # Not date-times: two equal instants may be written in different zones, and print differently.
            if type(value) in (str, date, timedelta):
                fields[name] = shared.setdefault((type(value), value), value)
        return self

    def rules(self, base: Rules) -> Rules:
        """The effective rules for this order: [rules] with this order's overrides on top."""
        if self.model_fields_set.isdisjoint(RULE_KEYS):  # the usual order: no need to read every key, every cycle
            return base
        overrides = {k: getattr(self, k) for k in RULE_KEYS if getattr(self, k) is not None}
        return base.model_copy(update=overrides) if overrides else base


_ORDER_FIELDS = tuple(Order.model_fields)


class OrderView:
    """An order as a loaded watchlist keeps it: Order's fields in slots, about 250 bytes where the pydantic model
    takes about 1 KiB (a daemon keeps every order; 100,000 of them were 100 MiB). It reads like an Order, and
    copies and dumps go through a real Order."""

    __slots__ = (*_ORDER_FIELDS, "model_fields_set")
    model_fields = Order.model_fields

    @classmethod
    def of(cls, order: Order) -> OrderView:
        """The view of a validated order."""
        view = object.__new__(cls)
        for name in _ORDER_FIELDS:
            object.__setattr__(view, name, getattr(order, name))
        object.__setattr__(view, "model_fields_set", order.model_fields_set)
        return view

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError(f"an order is read-only (setting {name}); use model_copy(update=...)")

    def model(self) -> Order:
        """The same order as a pydantic Order."""
        return Order.model_construct(set(self.model_fields_set), **{n: getattr(self, n) for n in _ORDER_FIELDS})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> OrderView:
        """Order.model_copy, kept as a view."""
        return OrderView.of(self.model().model_copy(update=update, deep=deep))

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """Order.model_dump."""
        return self.model().model_dump(**kwargs)

    rules = Order.rules

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Order | OrderView):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _ORDER_FIELDS)

    __hash__ = None  # type: ignore[assignment]  # like Order's: equal by value, not hashable

    def __repr__(self) -> str:
        return f"OrderView(id={self.id!r})"  # type: ignore[attr-defined]


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _id_key(oid: str) -> str:
    """What makes two ids the same order: "ABC123", " abc123" and a full-width "ＡＢＣ123" are one order number."""
    return unicodedata.normalize("NFKC", oid).strip().casefold()


def _repeated_ids(raw: object) -> _Found:
    """Order ids used twice, read from the raw list so a broken order elsewhere does not hide them."""
    found: _Found = []
    first: dict[str, tuple[int, str]] = {}
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        oid = _order_id(item.get("id")) if isinstance(item, Mapping) else None
        if not isinstance(oid, str) or not oid:
            continue
        if (seen := first.get(_id_key(oid))) is None:
            first[_id_key(oid)] = (i, oid)
            continue
        j, other = seen
        alike = "" if other == oid else f" ({_q(other)}: ids that differ only in case, spaces or width are the same order)"
        found.append(((i, "id"), f"{_q(oid)} is already the id of orders[{j}]{alike}; expected each order's id only once", oid))
    return found


def _named_tables(raw: object, handler: ValidatorFunctionWrapHandler, section: str, known: Sequence[str],
                  which: str) -> dict[str, Any]:
    """[section.<name>] tables validated, each name one of `known` (none known: any name) or an error that says
    which were meant, the tables' own errors kept beside it."""
    found: _Found = []
    for name, table in (raw.items() if isinstance(raw, Mapping) and known else ()):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean [{section}.{close[0]}]?" if close else f" (expected one of {which}{', '.join(known)})"
            found.append(((name,), f"unknown {section[:-1]} {_q(name)}{hint}", table))
    try:
        tables: dict[str, Any] = handler(raw)
    except ValidationError as exc:
        raise (_invalid(found, section, exc.errors()) if found else exc) from None
    if found:
        raise _invalid(found, section)
    return tables


class ImapSection(_Section):
    """`[import.imap]`: a mailbox the daemon reads orders from (see monitor.inbox)."""

    host: str
    port: int | None = None  # None: 993 with TLS, else 143
    user: str
    password_secret: Annotated[str, AfterValidator(_secret_name)]
    folders: list[str] = ["INBOX"]
    tls: bool = True  # false only for a server on this machine: the password would cross the network in clear
    check_every: Duration = timedelta(minutes=15)

    @field_validator("check_every")
    @classmethod
    def _sane_check(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError(f'expected at least "1m" (mail servers throttle faster checks), got {_q(format_duration(value))}')
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 65535:
            raise ValueError(f"expected a port from 1 to 65535, like 993, got {value}")
        return value


class ImportSection(_Section):
    """`[import]`: where orders come in by themselves."""

    imap: ImapSection | None = None


class Watchlist(_Section):
    """The whole file."""

    monitor: MonitorSection = MonitorSection()
    notify: NotifySection = NotifySection()
    rules: Rules = Rules()
    carriers: dict[str, dict[str, Any]] = {}
    windows: dict[str, WindowOverride] = {}
    orders: list[Order] = []
    import_: ImportSection = Field(ImportSection(), alias="import")  # "import" is a Python keyword

    @field_validator("orders", mode="wrap")
    @classmethod
    def _unique_ids(cls, raw: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> list[Order]:
        repeated = _repeated_ids(raw)
        consume = (info.context or {}).get("consume", False)
        if not isinstance(raw, list):
            try:
                return handler(raw)  # type: ignore[no-any-return]
            except ValidationError as exc:
                raise (_invalid(repeated, "orders", exc.errors()) if repeated else exc) from None
        # Order by order, letting go of each parsed table once its order is made: with 100,000 orders the
        # tables and the orders together were the load's peak of memory, which a daemon keeps as its size.
        orders: list[Order] = []
        errors: list[Any] = []
        for i, item in enumerate(raw):
            try:
                made = handler([item])
                orders += [OrderView.of(o) for o in made] if consume else made  # type: ignore[misc]
            except ValidationError as exc:
                errors += [{**e, "loc": (i, *e["loc"][1:])} for e in exc.errors()]
            if consume:
                raw[i] = None
        if errors or repeated:
            raise _invalid(repeated, "orders", errors)
        return orders

    @field_validator("carriers", mode="wrap")
    @classmethod
    def _known_carrier_tables(cls, raw: object, handler: ValidatorFunctionWrapHandler,
                              info: ValidationInfo) -> dict[str, Any]:
        known = sorted((info.context or {}).get("carriers", ()))
        return _named_tables(raw, handler, "carriers", known, "the installed carriers: ")

    @field_validator("windows", mode="wrap")
    @classmethod
    def _known_windows(cls, raw: object, handler: ValidatorFunctionWrapHandler) -> dict[str, WindowOverride]:
        return _named_tables(raw, handler, "windows", NAMES, "the windows: ")

    @model_validator(mode="after")
    def _known_tags(self) -> Watchlist:
        tags = sorted({t for d in self.notify.destinations for t in d.tags})
        found: _Found = []
        for i, order in enumerate(self.orders):
            for j, tag in enumerate(order.notify or ()):
                if tag not in tags:
                    close = difflib.get_close_matches(tag, tags, n=1)
                    hint = (f"did you mean {_q(close[0])}?" if close else
                            f"expected one of: {', '.join(map(_q, tags))}" if tags else
                            "expected the tags of a [[notify.destinations]] entry, and none has tags")
                    found.append((("orders", i, "notify", j), f"no destination has the tag {_q(tag)}; {hint}", tag))
        if found:
            raise _invalid(found, "Watchlist")
        return self

    def window_table(self) -> WindowTable:
        """The protection windows: the shipped table with this file's [windows.<name>] values on top."""
        return window_table({name: w.model_dump(exclude_unset=True) for name, w in self.windows.items()})

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
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError([Problem(f"{path}:1", "is UTF-16 text, expected UTF-8; save the file as UTF-8")])
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ConfigError([Problem(f"{path}:{line}", "binary data (a NUL byte), expected a TOML text file")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([Problem(f"{path}:{line}:{column}", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); expected UTF-8: save the file as UTF-8")]) from None
    return text


_TOML_POS = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")


_TOO_DEEP = (f"lists or tables nested more than {MAX_NESTING} levels deep; expected at most {MAX_NESTING} "
             "(a watchlist needs 4)")


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """tomllib with its error turned into `file:line:column: what`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        what = _TOML_POS.sub("", msg)
        lines = text.split("\n")
        if m and m.group(1):
            lineno, col = int(m.group(1)), int(m.group(2))
        else:  # at the end of the file: point at what was left open
            lineno, col = _open_at_end(what, lines), 0
        where = f"{path}:{lineno}:{col}" if col else f"{path}:{lineno}"
        line = lines[lineno - 1].rstrip("\r") if 0 < lineno <= len(lines) else ""
        secret = _secret_line(line, _Locator(text).table_at(lineno))
        raise _syntax_error(where, _toml_message(what, line, col, secret)) from None
    except RecursionError:  # tomllib reads nested lists and tables by recursion
        raise _syntax_error(_at(path, _nesting_line(text)), _TOO_DEEP) from None
    except ValueError as exc:  # tomllib's int() refuses a number of thousands of digits (sys.int_info)
        limit = sys.get_int_max_str_digits()
        long = re.search(rf"[0-9_]{{{limit + 1},}}", text) if limit else None
        line = text.count("\n", 0, long.start()) + 1 if long else None
        raise _syntax_error(_at(path, line), f"a number of more than {limit} digits; expected a shorter number, "
                            "or an order number in quotes" if long else _short(str(exc))) from None
    if _depth(data) > MAX_NESTING:  # parsed, but deep enough to break the copies and edits made of it later
        raise _syntax_error(_at(path, _nesting_line(text)), _TOO_DEEP)
    return data


def _at(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def _syntax_error(where: str, message: str) -> ConfigError:
    return ConfigError([Problem(where, escaped(mask_secrets(f"TOML syntax error: {message}")))])


def _depth(data: object) -> int:
    """How many lists and tables are inside each other, counted without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


def _nesting_line(text: str) -> int | None:
    """The line where [ and { (outside strings and comments) first nest deeper than MAX_NESTING, if they do."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote[0] == '"':
                i += 1  # the escaped character cannot close the string
            elif text.startswith(quote, i):
                i, quote = i + len(quote) - 1, ""
        elif ch == "#":  # a comment runs to the end of its line
            end = text.find("\n", i)
            i = (len(text) if end < 0 else end) - 1
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote) - 1
        elif ch in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return text.count("\n", 0, i) + 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return None


def _open_at_end(what: str, lines: list[str]) -> int:
    """The line an unclosed string most likely starts on, else the last line with content."""
    filled = [i for i, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]
    quotes = {"Unterminated string": ('"""', "'''"), "Expected \"'\"": ("'",)}.get(what, ())
    opening = [i for i in filled if any(q in lines[i - 1] for q in quotes)]
    return (opening or filled or [1])[-1]


_DATEISH = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[T ][\d:.]+)?")
_BARE = re.compile(r"[A-Za-z][\w\-/.:]*")
_QUOTE_HINT = "text must be in quotes, like \"7d\" or \"Europe/Paris\""


# Keys whose value is or may be a credential; every key of [notify] and [carriers.*] is treated as one too.
_SECRET_KEYS = frozenset({"api_key", "client_secret", "client_id", "password", "token", "url", "urls", "url_secret"})
_SECRET_WORDS = re.compile(r"secret|token|password|passwd|api_?key|auth|url", re.I)
_SECRET_TABLES = frozenset({"notify", "carriers"})


def _secret_line(line: str, table: tuple[Any, ...]) -> bool:
    """Whether the value on this line may be a credential, by its key and by the table it is in."""
    key_m = _Locator._KEY.match(line)
    path = [p for p in (*table, *(_Locator._split(key_m.group(1)) if key_m else ())) if isinstance(p, str)]
    if path[:1] and path[0] in _SECRET_TABLES:
        return True
    return bool(path) and (path[-1] in _SECRET_KEYS or bool(_SECRET_WORDS.search(path[-1])))


def _example(key: str) -> str:
    """A placeholder value for a key, as a list for the keys that take one."""
    return '["…"]' if key in _LISTS else '"…"'


def _toml_message(what: str, line: str, col: int, secret: bool = False) -> str:
    """tomllib's terse message, said the way a person fixing the file needs it; a `secret` value is never shown."""
    key_m = _Locator._KEY.match(line)
    key = _Locator._split(key_m.group(1))[-1] if key_m else ""
    value = line.split("=", 1)[1].split("#", 1)[0].strip() if "=" in line else ""
    if what in ("Illegal character '\\n'", "Illegal character '\\r'"):
        return 'a quoted text is not closed: expected a closing " before the end of the line'
    if what == "Unterminated string" or what == "Expected \"'\"":
        return "a quoted text is never closed: expected its closing quote"
    if what == "Cannot overwrite a value":
        return f"{_q(key) if key else 'a key'} is given twice in the same table; expected each key only once"
    if m := re.fullmatch(r"Cannot declare (\(.*\)) twice", what):
        try:
            names = ".".join(ast.literal_eval(m.group(1)))
        except (ValueError, SyntaxError):
            names = "this table"
        return f"the table [{names}] appears twice; expected each [table] once (use [[{names}]] for a list of entries)"
    if what == "Expected '=' after a key in a key/value pair":
        return 'expected "=" after the key, like language = "en"'
    if what in ("Invalid date or datetime",) or (what.startswith("Expected newline") and _DATEISH.match(value)):
        token = _DATEISH.match(value)
        shown = f" {token.group(0)}" if token and not secret else ""
        return f"invalid date{shown}: expected {DATE_HINT}"
    if what.startswith("Expected newline"):
        return f"expected the end of the line after the value; {_QUOTE_HINT}, and one key = value per line"
    if what == "Invalid value":
        if secret and key and value[:1] not in ("[", "{"):  # it may be the credential itself: name the key only
            return f"the value of {key} is not in quotes: expected text in quotes, like {key} = {_example(key)}"
        if (bare := _BARE.fullmatch(value)) and key:
            return f"{value} is not a value: expected text in quotes, like {key} = {_q(bare.group(0))}"
        if not col:
            return 'the file ends in the middle of a value: expected a closing "]", "}" or quote'
        return "invalid value: expected text in quotes, a number, true or false, a date, or a list in [ ]"
    if what in ("Invalid hex value", "Unescaped '\\' in a string", "Escaped character is not a Unicode scalar value"):
        return "a backslash inside \"double quotes\" starts an escape: expected \\\\ for one backslash, or 'single quotes' (handy for Windows paths)"
    if what == "Expected ']' at the end of a table declaration":
        return 'a table header is not closed: expected "]" at its end, like [monitor]'
    if what == "Expected ']]' at the end of an array declaration":
        return 'a list-of-tables header is not closed: expected "]]" at its end, like [[orders]]'
    if what == "Unclosed array":
        return 'a list is not closed: expected "]"'
    if what == "Unclosed inline table":
        return 'an inline table is not closed: expected "}" on the same line'
    if what in ("Invalid statement", "Invalid initial character for a key part"):
        return 'expected a key = value line, a [table] header or a # comment'
    return what[:1].lower() + what[1:]


def load_watchlist(path: Path, carriers: Iterable[str] = ()) -> Watchlist:
    """Read, parse and validate a watchlist; raise ConfigError listing every problem."""
    text = read_text(path)
    return validate_data(parse_toml(text, path), text, path, carriers, consume=True)


def validate_data(data: dict[str, Any], text: str, path: Path, carriers: Iterable[str] = (), *,
                  consume: bool = False) -> Watchlist:
    """Validate parsed TOML; problems name file:line and the field path. `consume`: `data` is not used again, and
    each order's table is let go of once its order is made (the memory a large watchlist needs while loading)."""
    try:
        watchlist = Watchlist.model_validate(data, context={"carriers": set(carriers), "shared": {}, "consume": consume})
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, text, path)) from None
    return watchlist


def problems_from(exc: ValidationError, text: str, path: Path, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """One Problem per pydantic error, located at file:line and in file order; `prefix` roots a sub-table's errors."""
    locate = _Locator(text)
    found = [_problem({**err, "loc": (*prefix, *err["loc"])}, path, locate) for err in exc.errors()]
    return [p for _, p in sorted(found, key=lambda lp: (lp[0] is None, lp[0] or 0))]


def problem_at(text: str, path: Path, loc: tuple[Any, ...], message: str) -> Problem:
    """A problem found after validation (a missing secret…), located like the validation errors."""
    return Problem(_at(path, _Locator(text)(loc)), escaped(mask_secrets(f"{field_path(loc)}: {message}")))


def field_path(loc: tuple[Any, ...]) -> str:
    """('orders', 2, 'dispute', 'wait_until') -> 'orders[2].dispute.wait_until'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_EXPECTED = {
    "string_type": "expected text in quotes",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "path_type": "expected a folder path in quotes, like \"/var/lib/tracking-monitor\"",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
}
_LISTS = {"": '["a", "b"]', "urls": '["ntfy://ntfy.sh/topic"]', "protection_warn": '["7d", "3d", "1d"]',
          "tags": '["family"]', "notify": '["family"]', "destinations": "[[notify.destinations]] entries",
          "paid_with": '["paypal", "card"]', "counted_from": '["delivery", "estimated_delivery"]'}
_MISSING = {
    "id": 'required, but missing: expected id = "..." with the marketplace\'s order number',
    "ordered_on": "required, but missing: expected ordered_on = 2026-12-16 with the date of the order",
}


def _table(loc: tuple[Any, ...]) -> str:
    """How the table at `loc` is written in the file: [monitor], [[orders]], [orders.dispute]."""
    names = ".".join(str(p) for p in loc if not isinstance(p, int))
    return f"[[{names}]]" if loc and isinstance(loc[-1], int) else f"[{names}]"


def _is_tag(part: object) -> bool:
    # pydantic puts validator and union-member names into locations; they are not keys of the file.
    return isinstance(part, str) and (part in ("date", "datetime") or part.startswith("function-"))


def _problem(err: Mapping[str, Any], path: Path, locate: _Locator) -> tuple[int | None, Problem]:
    kind = err["type"]
    loc = tuple(err["loc"])
    if kind not in ("extra_forbidden", _BAD):
        loc = tuple(p for p in loc if not _is_tag(p))
    value = err.get("input")
    # Notification URLs and carrier settings may hold tokens: say what sort of value, never the value.
    got = _kind(value) if loc[:1] in (("notify",), ("carriers",)) else _describe(value)
    msg = str(err["msg"])
    if kind == "extra_forbidden":
        message = _unknown_key(loc, value)
    elif kind == _BAD:
        message = msg
    elif kind == "value_error":
        message = msg.removeprefix("Value error, ")
    elif kind == "missing":
        message = _MISSING.get(loc[-1], "required, but missing") if loc else "required, but missing"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"expected a table like {_table(loc)}, got {got}"
    elif kind == "list_type" and loc == ("orders",):
        message = f"expected a list of orders, each starting with a [[orders]] line (double brackets), got {got}"
    elif kind == "list_type":
        message = f"expected a list like {_LISTS.get(loc[-1], _LISTS[''])}, got {got}"
    elif kind == "string_type" and loc[-1:] == ("id",):
        message = f'expected the order number, like id = "8181000000000001", got {got}'
    elif kind == "literal_error":
        message = f"expected {str(err.get('ctx', {}).get('expected', '')).replace(chr(39), chr(34))}, got {got}"
    else:
        message = f"{_EXPECTED.get(kind) or msg.replace('Input should be', 'expected')}, got {got}"
    line = locate(loc)
    text = f"{field_path(loc)}: {message}" if loc else message
    return line, Problem(_at(path, line), escaped(mask_secrets(text)))  # one line, whatever the key


# Where each known key lives, to say so when one is put in the wrong table; [rules] before [[orders]].
_HOMES: tuple[tuple[str, type[BaseModel]], ...] = (
    ("[monitor]", MonitorSection), ("[notify]", NotifySection), ("[rules]", Rules), ("[[orders]]", Order),
    ("[orders.dispute]", Dispute), ("[[notify.destinations]]", NotifyDestination), ("[windows.<name>]", WindowOverride),
)


def _unknown_key(loc: tuple[Any, ...], value: object) -> str:
    parent, key = loc[:-1], str(loc[-1])
    here = _table(parent) if parent else ""
    allowed = _allowed_keys(parent)
    is_table = isinstance(value, Mapping) or (isinstance(value, list) and bool(value)
                                              and all(isinstance(v, Mapping) for v in value))
    step = () if isinstance(value, Mapping) else (0,)  # a list of tables is written [[name]]
    what = f"unknown table {_table((*parent, key, *step))}" if is_table else f"unknown key {_q(key)}"
    home = next((name for name, model in _HOMES if key in model.model_fields and name != here), None)
    # A near-miss of a key of this very table ("url" for "urls") is likelier than a key of another table.
    if home and not is_table and not difflib.get_close_matches(key, allowed, n=1, cutoff=0.85):
        below = " (every key below a [table] line belongs to that table: move it above that line)" if here else ""
        return f"{what} in {here or 'the top level'}; it belongs in {home}{below}"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"{what}; did you mean {_table((*parent, close[0], *step)) if is_table else _q(close[0])}?"
    return f"{what} (expected one of: {', '.join(allowed)})" if allowed else what


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    model: Any = Watchlist
    names = [p for p in parent if not isinstance(p, int)]
    if len(names) == 2 and names[0] == "carriers":  # [carriers.<id>] is checked by that adapter's own settings
        from carriers.base import load_registry

        adapter = load_registry().get(names[1])
        return list(adapter.Settings.model_fields) if adapter else []
    if len(names) == 2 and names[0] == "windows":  # [windows.<name>]: the name is a row, not a key
        return list(WindowOverride.model_fields)
    for part in names:
        # A key spelled differently from its field (`import`, a Python keyword) is found by its alias.
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return [f.alias or n for n, f in model.model_fields.items()]


class _Locator:
    """Finds the line of a field path in TOML text, so field errors can say file:line."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")

    def __init__(self, text: str) -> None:
        self.entries: list[tuple[tuple[Any, ...], int]] = []
        self.headers: list[tuple[int, tuple[Any, ...]]] = []  # (line, table) of each [table] line
        counters: dict[tuple[Any, ...], int] = {}
        table: tuple[Any, ...] = ()
        open_quote = ""  # inside a multi-line string, lines are text, not keys or headers
        for lineno, line in enumerate(text.split("\n"), 1):
            if open_quote:
                if open_quote in line:
                    open_quote = ""
                continue
            if m := self._HEADER.match(line):
                names = self._split(m.group(2))
                table = self._expand(names, counters)
                if m.group(1) == "[[":
                    key = tuple(names)
                    counters[key] = counters.get(key, -1) + 1
                    table = (*table, counters[key])
                self.entries.append((table, lineno))
                self.headers.append((lineno, table))
            elif m := self._KEY.match(line):
                self.entries.append(((*table, *self._split(m.group(1))), lineno))
            open_quote = next((q for q in ('"""', "'''") if line.count(q) % 2), "")

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [_Locator._unquote(p.strip()) for p in re.findall(r"""(?:"[^"]*"|'[^']*'|[^.]+)""", dotted)]

    @staticmethod
    def _unquote(part: str) -> str:
        if len(part) > 1 and part[0] == part[-1] == '"':
            try:  # a basic-string key may hold escapes like \n; JSON reads the common ones the same way
                return str(json.loads(part))
            except ValueError:
                pass
        return part.strip("\"'")

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

    def table_at(self, lineno: int) -> tuple[Any, ...]:
        """The table a line belongs to: that of the last [table] line above it (the top level before any)."""
        return next((table for line, table in reversed(self.headers) if line < lineno), ())

    def __call__(self, loc: tuple[Any, ...]) -> int | None:
        best, best_len = None, -1
        for path, lineno in self.entries:
            n = len(path)
            if n > best_len and loc[:n] == path:
                best, best_len = lineno, n
        if best is None:  # a key only ever written as a table header, like [[order]] for ("order",)
            best = next((lineno for path, lineno in self.entries if path[: len(loc)] == loc), None)
        return best


def shifted(watchlist: Watchlist, today: date) -> Watchlist:
    """The watchlist with every date of every order moved by the days from [monitor].shift_dates_from to `today`."""
    start = watchlist.monitor.shift_dates_from
    if start is None or start == today:
        return watchlist
    # A clock far off (a device booting in 1970) moves the dates at most as far as the window is wide, so every
    # date stays one Python can compute with: both ends and every order date are in the window.
    delta = min(max(today, FIRST_DAY), LAST_DAY) - start

    def move(model: _Section) -> dict[str, Any]:
        # Every field holding a date or date-time, whatever its name: a date field added later moves too.
        return {name: value + delta for name in type(model).model_fields
                if isinstance(value := getattr(model, name), date)}

    orders = [o.model_copy(update={**move(o), **({"dispute": o.dispute.model_copy(update=move(o.dispute))}
                                                 if o.dispute else {})}) for o in watchlist.orders]
    # The result says its dates are today's, so shifting it again on a later day moves them by the days since.
    return watchlist.model_copy(update={"orders": orders,
                                        "monitor": watchlist.monitor.model_copy(update={"shift_dates_from": today})})
