"""[monitor].shift_dates_from: a demo file's dates move with the calendar; nothing else changes."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from monitor.watchlist import Watchlist, shifted

ORDERS = [
    {"id": "A", "ordered_on": date(2026, 11, 1), "tracking": "LP00123456789FR", "tracking_since": date(2026, 11, 3),
     "promised_by": date(2026, 11, 20), "protection_ends": datetime(2026, 12, 16, 18, 0),
     "delivered_on": date(2026, 11, 28), "seller_contacted_on": date(2026, 11, 25), "refund_window": "15d",
     "stalled_after": "9d", "dispute": {"opened_on": date(2026, 11, 26), "wait_until": date(2026, 12, 2)}},
    {"id": "B", "ordered_on": datetime(2026, 11, 2, 23, 30), "shop": "Temu"},
]


def watchlist(start: date | None) -> Watchlist:
    monitor = {"timezone": "Europe/Paris", **({"shift_dates_from": start} if start else {})}
    return Watchlist.model_validate({"monitor": monitor, "orders": ORDERS})


@pytest.mark.parametrize(("today", "days"), [(date(2026, 11, 21), 0), (date(2026, 11, 22), 1),
                                             (date(2027, 3, 28), 127), (date(2026, 11, 1), -20)])
def test_every_order_date_moves_by_the_days_since(today: date, days: int) -> None:
    """Dates and date-times of the orders and their disputes move; every other value stays."""
    before = watchlist(date(2026, 11, 21))
    after = shifted(before, today)
    delta = timedelta(days=days)
    a, b = after.orders
    assert (a.ordered_on, a.tracking_since, a.promised_by, a.delivered_on, a.seller_contacted_on) == tuple(
        d + delta for d in (date(2026, 11, 1), date(2026, 11, 3), date(2026, 11, 20), date(2026, 11, 28),
                            date(2026, 11, 25)))
    assert a.protection_ends == datetime(2026, 12, 16, 18, 0) + delta  # the time of day stays
    assert a.dispute is not None and (a.dispute.opened_on, a.dispute.wait_until) == (
        date(2026, 11, 26) + delta, date(2026, 12, 2) + delta)
    assert b.ordered_on == datetime(2026, 11, 2, 23, 30) + delta
    assert (a.tracking, a.refund_window, a.stalled_after, b.shop) == ("LP00123456789FR", timedelta(days=15),
                                                                      timedelta(days=9), "Temu")
    assert after.monitor == before.monitor.model_copy(update={"shift_dates_from": today})
    assert after.rules == before.rules


def test_a_real_watchlist_is_left_as_it_is() -> None:
    """Without the key, nothing moves."""
    plain = watchlist(None)
    assert shifted(plain, date(2030, 1, 1)) is plain


def test_shifting_a_shifted_watchlist_moves_it_by_the_days_since() -> None:
    """A daemon shifts its watchlist again each new day: two steps land where one would."""
    start = watchlist(date(2026, 11, 21))
    twice = shifted(shifted(start, date(2026, 11, 25)), date(2027, 1, 3))
    once = shifted(start, date(2027, 1, 3))
    assert twice.orders == once.orders and twice.monitor.shift_dates_from == date(2027, 1, 3)
    assert shifted(once, date(2027, 1, 3)) is once
