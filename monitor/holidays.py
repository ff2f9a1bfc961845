"""Chinese public-holiday periods, when sellers answer slowly or not at all (calendar from `holidays`)."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

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


@lru_cache(maxsize=1)
def _china() -> Any:
    """The library's China calendar class, with its own module loaded alone."""
    # `holidays.China` imports the package `holidays.countries`, whose __init__ imports every country: 280 modules
    # and 7.5 MiB of the daemon's 60 MiB budget on a Raspberry Pi, for the one calendar read here. Loading the
    # module file by itself (importlib's documented recipe) gives the same class; a later `import holidays.countries`
    # finds it in sys.modules. Should the library move the file, the usual import still works.
    name = "holidays.countries.china"
    if name in sys.modules:
        return sys.modules[name].China
    spec = importlib.util.spec_from_file_location(name, Path(_holidays.__file__).parent / "countries" / "china.py")
    if spec is None or spec.loader is None or not Path(spec.origin or "").is_file():
        return _holidays.China
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        return _holidays.China
    return module.China


@lru_cache(maxsize=32)
def periods(year: int) -> tuple[HolidayPeriod, ...]:
    """Holiday periods touching `year`, neighbouring days and weekends between them merged."""
    cal = _china()(years=(year - 1, year, year + 1), language="en_US")
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
