"""Human durations ("90m", "12h", "7d", "1d12h") as used everywhere in the watchlist."""
from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"(?:\d+\s*[smhdw]\s*)+")
HINT = 'a duration like "7d", "12h" or "90m"'
# Ten years: longer than any deadline a buyer waits for, and short enough that a date of the watchlist's window
# plus or minus it is still a date Python can compute with.
MAX_DURATION = timedelta(days=3650)


class DurationTooLong(ValueError):
    """A well-formed duration longer than MAX_DURATION."""


def parse_duration(text: object) -> timedelta:
    """Parse a duration string; raise ValueError naming what was expected (DurationTooLong beyond MAX_DURATION)."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected {HINT} (a quoted string), got {_short(text)}")
    s = text.strip().lower()
    if not s or not _WHOLE.fullmatch(s):
        raise ValueError(f"expected {HINT}, got {_short(text)}")
    limit = int(MAX_DURATION.total_seconds())
    seconds = 0
    for n, unit in _PART.findall(s):
        # Checked part by part and before int(): "9999999999d" or thousands of digits never reach timedelta.
        digits = n.lstrip("0") or "0"
        if len(digits) > len(str(limit)) or (seconds := seconds + int(digits) * _UNITS[unit]) > limit:
            raise DurationTooLong(f"expected at most {format_duration(MAX_DURATION)} (10 years), got {_short(text)}")
    return timedelta(seconds=seconds)


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def format_duration(value: timedelta) -> str:
    """The shortest exact string that parse_duration reads back."""
    secs = int(value.total_seconds())
    if secs == 0:
        return "0m"
    out = []
    for unit in "dhms":
        n, secs = divmod(secs, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)
