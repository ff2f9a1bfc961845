"""Human durations ("90m", "12h", "7d", "1d12h") as used everywhere in the watchlist."""
from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"(?:\d+\s*[smhdw]\s*)+")
HINT = 'a duration like "7d", "12h" or "90m"'


def parse_duration(text: object) -> timedelta:
    """Parse a duration string; raise ValueError naming what was expected."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected {HINT} (a quoted string), got {text!r}")
    s = text.strip().lower()
    if not s or not _WHOLE.fullmatch(s):
        raise ValueError(f"expected {HINT}, got {text!r}")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(s)))


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
