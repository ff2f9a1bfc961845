"""The state keeps in memory only the events the rules read (rules.needed): the findings must not change."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.model import EventKind, Status, TrackingEvent
from monitor.rules import FUTURE_SLACK, History, Policy, evaluate, needed
from monitor.watchlist import Order, Rules

NOW = datetime(2026, 7, 20, 9, 0, tzinfo=UTC)
ORDER = Order.model_validate({"id": "A1", "ordered_on": "2026-06-01", "tracking": "LP00123456789CN",
                              "promised_by": "2026-07-01", "protection_ends": "2026-08-01", "refund_window": "15d"})
POLICY = Policy(Rules(), UTC)

_event = st.builds(lambda hours, kind, n: TrackingEvent(NOW + timedelta(hours=hours), kind, f"event {n}"),
                   st.integers(-60 * 24, 72), st.sampled_from(list(EventKind)), st.integers(0, 9))


def _seen(h: History, now: datetime) -> list[tuple[object, ...]]:
    return [(f.kind, f.key, f.severity, f.due, f.title, f.message, f.action) for f in evaluate(ORDER, h, now, POLICY)]


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=12), st.sampled_from(list(Status)), st.integers(0, 20 * 24))
def test_the_rules_find_the_same_on_the_needed_events(events: list[TrackingEvent], status: Status,
                                                      later: int) -> None:
    """Now and at any later time (the state keeps the events it picked until the number gets news), with events
    from the future, several deliveries and unusual events among them."""
    ordered = tuple(sorted(events, key=lambda e: e.time))
    kept = needed(ordered, NOW + FUTURE_SLACK)
    for now in (NOW, NOW + timedelta(hours=later)):
        assert _seen(History("demo", status, kept), now) == _seen(History("demo", status, ordered), now)


def test_an_event_from_the_future_is_kept_but_never_the_latest_news() -> None:
    """A carrier's placeholder date in 2030 must not hide that the parcel stalled: it is evidence, not news."""
    stale = TrackingEvent(NOW - timedelta(days=12), EventKind.IN_TRANSIT, "Departed")
    bogus = TrackingEvent(datetime(2030, 1, 1, tzinfo=UTC), EventKind.IN_TRANSIT, "Placeholder")
    h = History("demo", Status.IN_TRANSIT, needed((stale, bogus), NOW + FUTURE_SLACK))
    assert h.events == (stale, bogus)
    assert h.last_event(NOW) is stale
    assert "stalled" in {f.kind for f in evaluate(ORDER, h, NOW, POLICY)}
