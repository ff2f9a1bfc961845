"""China's calendar is loaded alone, and gives the library's own holidays."""
from __future__ import annotations

import json
import subprocess
import sys

YEARS = list(range(2015, 2036))

# Each side runs in a fresh interpreter: in one process, the first to load holidays.countries.china would serve both.
LIBRARY = f"""
import json, holidays
cal = holidays.China(years={YEARS}, language="en_US")
print(json.dumps(sorted((d.isoformat(), n) for d, n in cal.items())))
"""
OURS = f"""
import json, sys
from monitor.holidays import _china
cal = _china()(years={YEARS}, language="en_US")
loaded = sum(1 for m in sys.modules if m.startswith("holidays"))
print(json.dumps([sorted((d.isoformat(), n) for d, n in cal.items()), loaded]))
"""


def _run(code: str) -> object:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_china_alone_is_the_library_calendar_without_every_country() -> None:
    """The calendar read alone equals `holidays.China` over 21 years; the other countries stay unloaded."""
    library = _run(LIBRARY)
    days, loaded = _run(OURS)
    assert days == library
    assert len(days) > 21 * 7  # every year has its holidays
    assert loaded < 100  # the whole package is over 300 modules: about 7.5 MiB the daemon does not need
