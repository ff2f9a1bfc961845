"""Where an order stands: its tracking state, and whether it is archived (by the buyer, or by itself once
its last window has closed).

Automatic archiving is computed from the watchlist and the stored tracking, never written into the user's
file: extending a date in the file brings the order back at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.rules import DELIVERED_RELEVANCE, History, delivered_at, instant
from monitor.watchlist import Order

# domain.md: after an order completes (buyer protection over), AliExpress still takes refund requests for 15 days.
AFTER_COMPLETION = timedelta(days=15)
_NO_HISTORY = History()


@dataclass(frozen=True, slots=True)
class Archived:
    """Why an order is archived: the buyer said so, or its last window closed at `since`."""

    by_user: bool
    since: datetime | None = None


def closes_at(order: Order, hist: History, zone: ZoneInfo) -> datetime | None:
    """When the order's last window closes; None while a window stays open with no known end."""
    delivered = delivered_at(order, hist, zone)
    if delivered is not None:
        # After delivery: the time to inspect it, the refund window, and a "not as described" dispute while
        # protection runs.
        ends = [delivered + DELIVERED_RELEVANCE]
        if order.refund_window:
            ends.append(delivered + order.refund_window)
        if order.protection_ends is not None:
            ends.append(instant(order.protection_ends, zone))
    elif order.protection_ends is not None:
        # Not received: the order completes when protection ends, and a refund can be asked for a while after.
        ends = [instant(order.protection_ends, zone) + max(order.refund_window or timedelta(0), AFTER_COMPLETION)]
    else:
        return None  # no deadline known: watched until the buyer archives it
    dispute = order.dispute
    if dispute is not None and dispute.wait_until is not None:
        ends.append(instant(dispute.wait_until + timedelta(days=1), zone))
    elif dispute is not None and dispute.opened_on is not None:
        return None  # a dispute is open with no date to wait for: keep watching
    return max(ends)


def archived(order: Order, hist: History, now: datetime, zone: ZoneInfo) -> Archived | None:
    """Whether the order is archived at `now`, and why; None while it is watched."""
    if order.archived:
        return Archived(by_user=True)
    end = closes_at(order, hist, zone)
    return Archived(by_user=False, since=end) if end is not None and now >= end else None


def polling_over(order: Order, now: datetime, zone: ZoneInfo) -> bool:
    """No carrier call is worth spending on this order any more.

    Decided from the watchlist alone: tracking can only keep an order open longer by showing a delivery,
    and a delivered shipment is final and no longer polled anyway.
    """
    return order.delivered_on is not None or archived(order, _NO_HISTORY, now, zone) is not None



def tracking_state(order: Order, hist: History, polled: bool) -> str:
    """One word for where the parcel is: delivered, failing, a carrier status, pending, not polled or no tracking."""
    if order.delivered_on:
        return "delivered"
    if hist.failing_since is not None:
        return "failing"
    if hist.status is not None:
        return hist.status.value
    if order.tracking:
        return "pending" if polled else "not polled"
    return "no tracking"
