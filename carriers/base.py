"""What a carrier adapter is, and how adapters are found (entry-point group `tracking_monitor.carriers`)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from carriers.errors import CarrierError, RateLimitedError
from carriers.model import Shipment

ENTRY_POINT_GROUP = "tracking_monitor.carriers"

Clock = Callable[[], datetime]
FetchResult = dict[str, Shipment | CarrierError]


class CarrierSettings(BaseModel):
    """Keys every `[carriers.<id>]` table accepts; adapters subclass it for their own."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


def seconds_to_utc_midnight(now: datetime) -> float:
    """Seconds from `now` to the next 00:00 UTC, when daily quotas reset."""
    tomorrow = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    return (tomorrow - now).total_seconds()


class DailyBudget:
    """Requests left today (UTC days: DHL and 17TRACK reset their quotas at 00:00 GMT)."""

    def __init__(self, limit: int | None, used: int = 0) -> None:
        self.limit = limit
        self.used = used
        self.spent = 0  # requests made since the monitor last read this counter

    def take(self, clock: Clock, carrier: str) -> None:
        """Count one request, or raise when today's budget is spent."""
        if self.limit is not None and self.used >= self.limit:
            raise RateLimitedError(f"daily budget of {self.limit} requests spent; it resets at 00:00 UTC",
                                   carrier=carrier, retry_after=seconds_to_utc_midnight(clock()))
        self.used += 1
        self.spent += 1

    def drain(self) -> int:
        """Requests made since the last drain (the monitor persists them)."""
        spent, self.spent = self.spent, 0
        return spent


class Carrier(ABC):
    """One tracking source; `fetch` never raises for a single bad number, it returns the error beside results."""

    id: ClassVar[str]
    label: ClassVar[str]
    max_batch: ClassVar[int] = 1
    needs_credentials: ClassVar[bool] = True
    Settings: ClassVar[type[CarrierSettings]] = CarrierSettings

    def __init__(self, settings: CarrierSettings, *, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.budget = DailyBudget(None)  # HTTP adapters set the documented daily quota
        self.memory: MutableMapping[str, str] = {}  # the monitor swaps in a store-backed map before polling

    def missing_credentials(self) -> str | None:
        """Name what is missing for this carrier to work, or None when it can run."""
        return None

    @abstractmethod
    async def fetch(self, numbers: Sequence[str]) -> FetchResult:
        """Ask the carrier about up to `max_batch` numbers; an error for the whole call may be raised."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most adapters share one client
        """Release network resources."""


def load_registry() -> dict[str, type[Carrier]]:
    """Every installed adapter by id, built-in ones included."""
    found: dict[str, type[Carrier]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        found[getattr(cls, "id", ep.name)] = cls
    return found


def build_settings(cls: type[Carrier], raw: Mapping[str, Any]) -> CarrierSettings:
    """Validate one `[carriers.<id>]` table against the adapter's own settings model."""
    return cls.Settings.model_validate(dict(raw))
