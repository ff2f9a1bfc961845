"""One typed error tree for everything a carrier can do wrong.

CarrierError
├── AuthError          the key is wrong or disabled: needs the user, never retried
├── NotFoundError      the carrier does not know this number (yet)
├── RateLimitedError   too many calls: wait `retry_after` seconds before the next one
├── UnavailableError   network, timeout or 5xx: transient, retry later
└── BadPayloadError    the carrier answered something we cannot read
"""
from __future__ import annotations

# The longest wait a carrier can impose (Retry-After, X-RateLimit-Reset, a spent quota): a value past it is a
# placeholder or garbage (Retry-After in year 9999), and asking again once a day costs at most one refused call.
MAX_IMPOSED_WAIT = 24 * 3600.0  # seconds


def imposed_wait(seconds: float | None) -> float | None:
    """A wait a carrier asked for as seconds within [0, MAX_IMPOSED_WAIT]; None for None or NaN (no usable wait)."""
    if seconds is None or seconds != seconds:  # NaN is the only value not equal to itself
        return None
    # Compared before any float(): an int too large for a float still clamps instead of overflowing.
    return float(min(max(seconds, 0), MAX_IMPOSED_WAIT))


class CarrierError(Exception):
    """Base of every carrier failure; `carrier` names the adapter."""

    transient = False

    def __init__(self, message: str, *, carrier: str = "", number: str = "") -> None:
        super().__init__(message)
        self.carrier = carrier
        self.number = number

    def __str__(self) -> str:
        where = " ".join(p for p in (self.carrier, self.number) if p)
        return f"{where}: {self.args[0]}" if where else str(self.args[0])


class AuthError(CarrierError):
    """Credentials rejected; only the user can fix it."""


class NotFoundError(CarrierError):
    """The carrier has no data for this number."""


class RateLimitedError(CarrierError):
    """The carrier asked us to slow down; `retry_after` is always clamped by `imposed_wait`."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str) -> None:
        super().__init__(message, **kw)
        self.retry_after = imposed_wait(retry_after)


class UnavailableError(CarrierError):
    """Network trouble or a server error; worth retrying later."""

    transient = True


class BadPayloadError(CarrierError):
    """The answer did not have the documented shape."""
