"""A loaded watchlist keeps its orders as OrderView (slots): it must read, copy and dump exactly like an Order."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.watchlist import Order, OrderView, Rules, load_watchlist, shifted

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def _orders() -> list[tuple[Order, OrderView]]:
    views = load_watchlist(EXAMPLE).orders
    return [(Order.model_validate(v.model_dump(exclude_unset=True)), v) for v in views]


@pytest.mark.parametrize("pair", _orders(), ids=lambda p: p[1].id)
def test_a_view_reads_copies_and_dumps_like_its_order(pair: tuple[Order, OrderView]) -> None:
    """Every field, the keys set, the effective rules, dumps, and a copy with a change."""
    order, view = pair
    assert isinstance(view, OrderView) and view == order
    assert all(getattr(view, name) == getattr(order, name) for name in Order.model_fields)
    assert view.model_fields_set == order.model_fields_set
    assert view.rules(Rules()) == order.rules(Rules())
    assert view.model_dump(exclude_none=True) == order.model_dump(exclude_none=True)
    moved = view.model_copy(update={"ordered_on": order.ordered_on + timedelta(days=1)})
    assert isinstance(moved, OrderView) and moved.ordered_on == order.ordered_on + timedelta(days=1)
    assert moved.id == order.id and view.ordered_on == order.ordered_on
    with pytest.raises(TypeError, match="read-only"):
        view.item = "x"  # type: ignore[misc]


def test_a_shifted_demo_keeps_views() -> None:
    """The example moves its dates each day: the moved orders stay light."""
    wl = load_watchlist(EXAMPLE)
    later = shifted(wl, wl.monitor.shift_dates_from + timedelta(days=3))  # type: ignore[operator]
    assert all(isinstance(o, OrderView) for o in later.orders)
    assert later.orders[0].ordered_on == wl.orders[0].ordered_on + timedelta(days=3)
