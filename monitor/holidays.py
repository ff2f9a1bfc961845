"""Chinese public-holiday periods, when sellers answer slowly or not at all (calendar from `holidays`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays as _holidays


@dataclass(frozen=True, slots=True)
class HolidayPeriod:
    """A run of consecutive days off, e.g. National Day golden week."""

    name: str
    first: date
    last: date

    def overlap_days(self, start: date, end: date) -> int:
        """Days of this period within [start, end] inclusive."""
        lo, hi = max(start, self.first), min(end, self.last)
        return (hi - lo).days + 1 if hi >= lo else 0


def _base_name(name: str) -> str:
    # "Labor Day (observed)" and "Day off (substituted from …)" belong to the holiday beside them.
    return name.split(" (")[0]


@lru_cache(maxsize=32)
def periods(year: int) -> tuple[HolidayPeriod, ...]:
    """Holiday periods touching `year`, neighbouring days and weekends between them merged."""
    cal = _holidays.China(years=(year - 1, year, year + 1), language="en_US")
    runs: list[tuple[list[str], date, date]] = []
    for day, name in sorted(cal.items()):
        if runs and _bridged(runs[-1][2], day):
            runs[-1] = (runs[-1][0] + [_base_name(name)], runs[-1][1], day)
        else:
            runs.append(([_base_name(name)], day, day))
    return tuple(
        HolidayPeriod(_main_name(names), first, last) for names, first, last in runs if first.year <= year <= last.year
    )


def _main_name(names: list[str]) -> str:
    """The name most days of a run carry, ignoring bridge days and eves."""
    real = [n for n in names if n != "Day off" and not n.endswith("Eve")] or names
    return max(real, key=real.count)


def _bridged(last: date, day: date) -> bool:
    """True when only a weekend (or nothing) lies between two days off."""
    gap = last + timedelta(days=1)
    while gap < day:
        if gap.weekday() < 5:
            return False
        gap += timedelta(days=1)
    return True


def overlapping(start: date, end: date) -> list[HolidayPeriod]:
    """Holiday periods that share at least one day with [start, end]."""
    found: dict[HolidayPeriod, None] = {}
    for year in range(start.year, end.year + 1):
        for p in periods(year):
            if p.overlap_days(start, end):
                found[p] = None
    return list(found)
