"""Where an order stands: its tracking state, and whether it is archived (by the buyer, or by itself once
its last window has closed).

Automatic archiving is computed from the watchlist and the stored tracking, never written into the user's
file: extending a date in the file brings the order back at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from carriers.model import Status
from monitor.rules import History, delivered_at, last_window_end
from monitor.watchlist import Order
from monitor.windows import DEFAULT_TABLE, WindowTable

_NO_HISTORY = History()
# Every status code tracking_state() gives (and `status --json` shows): a carrier's Status, or one of its own.
STATUS_CODES = (*(s.value for s in Status), "failing", "pending", "no source", "no tracking")


@dataclass(frozen=True, slots=True)
class Archived:
    """Why an order is archived: the buyer said so, or its last window closed at `since`."""

    by_user: bool
    since: datetime | None = None


def closes_at(order: Order, hist: History, zone: ZoneInfo, windows: WindowTable = DEFAULT_TABLE) -> datetime | None:
    """When the order's last window closes; None while a window stays open with no known end."""
    return last_window_end(order, delivered_at(order, hist, zone), zone, windows.applicable(order.shop, order.paid_with))


def archived(order: Order, hist: History, now: datetime, zone: ZoneInfo,
             windows: WindowTable = DEFAULT_TABLE) -> Archived | None:
    """Whether the order is archived at `now`, and why; None while it is watched."""
    if order.archived:
        return Archived(by_user=True)
    end = closes_at(order, hist, zone, windows)
    return Archived(by_user=False, since=end) if end is not None and now >= end else None


def polling_over(order: Order, now: datetime, zone: ZoneInfo, windows: WindowTable = DEFAULT_TABLE) -> bool:
    """No carrier call is worth spending on this order any more (`windows`: the watchlist's, overrides included).

    Decided from the watchlist alone: tracking can only keep an order open longer by showing a delivery,
    and a delivered shipment is final and no longer polled anyway.
    """
    return order.delivered_on is not None or archived(order, _NO_HISTORY, now, zone, windows) is not None



def tracking_state(order: Order, hist: History, polled: bool) -> str:
    """One word for where the parcel is: delivered, failing, a carrier status, pending, no source or no tracking."""
    if order.delivered_on:
        return "delivered"
    if hist.failing_since is not None:
        return "failing"
    if hist.status is not None:
        return hist.status.value
    if order.tracking:
        return "pending" if polled else "no source"  # a number no configured source can ask
    return "no tracking"
