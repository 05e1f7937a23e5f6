"""What the contract asks of an event and an alert store together: paging depth and reuse."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.store.base import (
    MAX_RESULT_WINDOW,
    AlertQuery,
    AlertStore,
    EventQuery,
    EventStore,
)
from tests.core.store.contract.backend import Backend
from tests.core.store.sample import alert, make


def test_deep_pages_stop_at_the_result_window_only_where_there_is_one(
    backend: Backend, stores: tuple[EventStore, AlertStore]
) -> None:
    """Elasticsearch serves no row past its result window; SQLite pages as deep as asked (a
    retro-hunt reads far past it)."""
    events, alerts = stores
    deep_events = EventQuery(offset=MAX_RESULT_WINDOW - 5, limit=10)
    deep_alerts = AlertQuery(offset=MAX_RESULT_WINDOW - 5, limit=10)
    if backend.name == "elasticsearch":
        for search, query in ((events.search, deep_events), (alerts.search, deep_alerts)):
            with pytest.raises(ValidationError) as caught:
                search(query)  # type: ignore[operator, arg-type]
            assert caught.value.field == "offset"
    else:
        assert events.search(deep_events) == [] and alerts.search(deep_alerts) == []
    assert events.search(EventQuery(offset=MAX_RESULT_WINDOW - 10, limit=10)) == []


# -- lifecycle ---------------------------------------------------------------------------------


def test_open_stores_are_reusable_and_close_keeps_what_was_written(
    backend: Backend, stores: tuple[EventStore, AlertStore]
) -> None:
    events, alerts = stores
    assert events.reusable() and alerts.reusable()
    event_ids = events.add_batch([make(0)])
    alert_ids = alerts.add_batch([alert(0)])
    events.close()
    alerts.close()
    again_events, again_alerts = backend.pair()
    assert again_events.get(event_ids[0]).id == event_ids[0]
    assert again_alerts.get(alert_ids[0]).rule_id == "r-brute"
