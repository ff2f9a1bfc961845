"""How long a carrier's pickup points keep an unclaimed parcel before sending it back, and where that was read.

Read in November 2026 from the carriers' own pages as quoted by public articles; none of these is in an API.
A carrier not listed (the aggregators, Cainiao, a plugin) gets DEFAULT, which is an estimate. Every figure is
the shortest usual one for that carrier's counters, so a warning comes early rather than late; the notice the
pickup point sends names the real date, and `pickup_hold` (in [rules] or in one order) overrides the figure.
"""
from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple


class Hold(NamedTuple):
    """A pickup hold and where the figure comes from."""

    time: timedelta
    source: str  # what the figure was read from; empty: an estimate

    @property
    def published(self) -> bool:
        """True when the figure was read from a carrier's rule, not estimated."""
        return bool(self.source)


HOLDS: dict[str, Hold] = {
    # La Poste keeps items "en instance" 15 calendar days at a bureau de poste; Colissimo relay points keep a
    # parcel 14 days and Pickup Station lockers 5 (aide.laposte.fr, as quoted by public guides).
    "laposte": Hold(timedelta(days=14), "La Poste: 14 days at a relay point, 15 at a post office, 5 in a locker"),
    # USPS holds a parcel waiting at the Post Office 15 days (Priority Mail Express: 5).
    "usps": Hold(timedelta(days=15), "USPS: 15 days at the Post Office (Priority Mail Express: 5)"),
    # UPS Access Point locations keep a parcel 7 calendar days, then send it back.
    "ups": Hold(timedelta(days=7), "UPS: 7 calendar days at an Access Point"),
    # DHL's Packstation FAQ: "sieben Kalendertage – mit dem Tag der Einstellung" (9 when redirected there).
    "dhl": Hold(timedelta(days=7), "DHL: 7 calendar days in a Packstation or branch, the first day included"),
    # FedEx Office and Ship Centers hold 5 business days; retail partners (Walgreens, Dollar General) 7 days.
    "fedex": Hold(timedelta(days=5), "FedEx: 5 business days at a FedEx location (7 at a retail partner)"),
}
DEFAULT = Hold(timedelta(days=7), "")  # most pickup networks keep a parcel 7 to 15 days; the short end


def hold_for(*carriers: str) -> Hold:
    """The hold of the first of `carriers` (adapter ids, most specific first) with a published one, else DEFAULT."""
    return next((HOLDS[c] for c in carriers if c in HOLDS), DEFAULT)
