"""What a carrier adapter is, and how adapters are found (entry-point group `tracking_monitor.carriers`)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from carriers.errors import CarrierError
from carriers.model import Shipment

ENTRY_POINT_GROUP = "tracking_monitor.carriers"

Clock = Callable[[], datetime]
FetchResult = dict[str, Shipment | CarrierError]


class CarrierSettings(BaseModel):
    """Keys every `[carriers.<id>]` table accepts; adapters subclass it for their own."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


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
