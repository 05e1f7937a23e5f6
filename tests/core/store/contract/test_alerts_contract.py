"""The alert-store half of the contract: add, search, status changes and clean-up."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from core.clock import FrozenClock
from core.errors import NotFoundError, ValidationError
from core.store.base import (
    ALERT_LEVELS,
    MAX_LIMIT,
    AlertQuery,
    AlertStore,
    EventQuery,
    EventStore,
)
from tests.core.store.sample import T0, alert, make, pids

# -- alerts ------------------------------------------------------------------------------------


def minutes(found: list[Any]) -> list[int]:
    return [a.body["n"] for a in found]


def test_alert_add_and_get_round_trip(alerts: AlertStore) -> None:
    ids = alerts.add_batch([alert(0), alert(1, exercise_id="drill-7", level="low")])
    first = alerts.get(ids[0])
    assert first.status == "new" and first.assignee is None
    assert first.created_at == T0 and first.rule_title == "Brute force"
    assert first.body == {"events": ["e0"], "tags": ["attack.t1110"], "n": 0}
    assert alerts.get(ids[1]).exercise_id == "drill-7"
    with pytest.raises(NotFoundError):
        alerts.get("missing")


def test_invalid_alert_names_index_and_field(alerts: AlertStore) -> None:
    with pytest.raises(ValidationError) as caught:
        alerts.add_batch([alert(0), alert(1, level="urgent")])
    assert caught.value.field == "alerts[1].level"
    with pytest.raises(ValidationError) as naive:
        alerts.add_batch([alert(0, created_at=datetime(2024, 9, 1))])
    assert naive.value.field == "alerts[0].created_at"
    assert alerts.count(AlertQuery()) == 0


def test_alert_search_filters_sort_and_page(alerts: AlertStore) -> None:
    alerts.add_batch(
        [
            alert(0, level="low"),
            alert(1, level="critical", rule_id="r-exfil", host_name="db-01"),
            alert(2, level="medium", exercise_id="drill-1"),
            alert(3, level="high", user_name="anouk"),
            alert(4, level="critical"),
        ]
    )
    assert minutes(alerts.search(AlertQuery())) == [4, 3, 2, 1, 0]
    assert minutes(alerts.search(AlertQuery(sort="oldest", limit=2, offset=1))) == [1, 2]
    assert minutes(alerts.search(AlertQuery(sort="severity"))) == [4, 1, 3, 2, 0]
    assert minutes(alerts.search(AlertQuery(levels=["critical", "high"]))) == [4, 3, 1]
    assert minutes(alerts.search(AlertQuery(rule_ids=["r-exfil"]))) == [1]
    assert minutes(alerts.search(AlertQuery(host_name="db-01"))) == [1]
    assert minutes(alerts.search(AlertQuery(user_name="anouk"))) == [3]
    assert minutes(alerts.search(AlertQuery(exercise=True))) == [2]
    assert minutes(alerts.search(AlertQuery(exercise=False))) == [4, 3, 1, 0]
    window = AlertQuery(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert minutes(alerts.search(window)) == [2, 1]
    assert alerts.count(window) == 2
    assert alerts.count(AlertQuery(levels=["critical"], exercise=False)) == 2


def test_alert_count_slices_is_one_count_per_slice_and_level(alerts: AlertStore) -> None:
    """The queue's histogram: per level and slice, the same as a count of each, in one pass."""
    alerts.add_batch(
        [
            alert(0, level="low"),
            alert(1, level="critical"),
            alert(2, level="critical", host_name="db-01"),
            alert(4, level="high"),
            alert(9, level="low"),  # after the last slice
        ]
    )
    step = timedelta(minutes=2)
    by_level = alerts.count_slices(AlertQuery(), start=T0, step=step, buckets=3)
    assert set(by_level) == set(ALERT_LEVELS)
    for level, counts in by_level.items():
        expected = [
            alerts.count(
                AlertQuery(levels=[level], start=T0 + step * i, end=T0 + step * (i + 1))  # type: ignore[list-item]
            )
            for i in range(3)
        ]
        assert counts == expected, level
    assert by_level["critical"] == [1, 1, 0] and by_level["low"] == [1, 0, 0]
    narrowed = AlertQuery(host_name="db-01", start=T0 + timedelta(minutes=1))
    assert alerts.count_slices(narrowed, start=T0, step=step, buckets=3)["critical"] == [0, 1, 0]


def test_update_status_and_queue(alerts: AlertStore, clock: FrozenClock) -> None:
    ids = alerts.add_batch([alert(minute) for minute in range(4)])
    clock.advance(timedelta(minutes=5))
    assert alerts.update_status(ids[:2], status="assigned", assignee="analyst1") == 2
    assert alerts.update_status([ids[2]], status="closed") == 1
    assigned = alerts.get(ids[0])
    assert assigned.status == "assigned" and assigned.assignee == "analyst1"
    assert assigned.updated_at == T0 + timedelta(days=1, minutes=5)
    assert minutes(alerts.search(AlertQuery(statuses=["new"]))) == [3]
    assert minutes(alerts.search(AlertQuery(statuses=["new", "assigned"]))) == [3, 1, 0]
    assert alerts.count(AlertQuery(assignee="analyst1")) == 2
    alerts.update_status([ids[0]], status="acknowledged")
    assert alerts.get(ids[0]).assignee == "analyst1"


def test_update_status_is_all_or_nothing_and_validates(alerts: AlertStore) -> None:
    ids = alerts.add_batch([alert(0)])
    with pytest.raises(NotFoundError, match="ghost"):
        alerts.update_status([ids[0], "ghost"], status="closed")
    assert alerts.get(ids[0]).status == "new"
    with pytest.raises(ValidationError) as caught:
        alerts.update_status(ids, status="assigned")
    assert caught.value.field == "assignee"
    with pytest.raises(ValidationError) as bad:
        alerts.update_status(ids, status="done")  # type: ignore[arg-type]
    assert bad.value.field == "status"


def test_merge_body_sets_top_level_keys(alerts: AlertStore) -> None:
    ids = alerts.add_batch([alert(0)])
    alerts.merge_body(ids[0], {"repeat_count": 3, "n": 0})
    assert alerts.get(ids[0]).body == {
        "events": ["e0"],
        "tags": ["attack.t1110"],
        "n": 0,
        "repeat_count": 3,
    }
    with pytest.raises(NotFoundError):
        alerts.merge_body("missing", {"x": 1})


def test_delete_by_exercise_removes_only_that_drills_data(
    stores: tuple[EventStore, AlertStore],
) -> None:
    events, alerts = stores
    drill = make(1)
    drill["dijkwacht"] = {"exercise": {"id": "drill-9"}}
    events.add_batch([make(0), drill])
    alerts.add_batch([alert(0), alert(1, exercise_id="drill-9"), alert(2, exercise_id="drill-8")])
    stored = {pids([e])[0]: e.event for e in events.search(EventQuery())}
    assert stored[1]["dijkwacht"] == {"exercise": {"id": "drill-9"}}  # the extension round-trips
    assert "dijkwacht" not in stored[0]
    assert events.delete_by_exercise("drill-9") == 1
    assert alerts.delete_by_exercise("drill-9") == 1
    assert pids(events.search(EventQuery())) == [0]
    assert minutes(alerts.search(AlertQuery(sort="oldest"))) == [0, 2]
    for store in (events, alerts):
        with pytest.raises(ValidationError, match="exercise_id"):
            store.delete_by_exercise("")


def test_alerts_carry_first_and_last_event_time_and_sort_by_it(alerts: AlertStore) -> None:
    early = T0 - timedelta(hours=5)
    ids = alerts.add_batch(
        [
            alert(1, body={"n": 1, "event_time": (T0 - timedelta(hours=1)).isoformat()}),
            alert(2, first_event_at=early, last_event_at=early + timedelta(minutes=3)),
            alert(3, body={"n": 3}),  # no event time: the storage time
        ]
    )
    by_event = alerts.search(AlertQuery(time="event", sort="newest"))
    assert [a.body.get("n") for a in by_event] == [3, 1, 2]
    second = alerts.get(ids[1])
    assert second.first_event_at == early
    assert second.last_event_at == early + timedelta(minutes=3)
    window = AlertQuery(time="event", start=T0 - timedelta(hours=2), end=T0)
    assert [a.id for a in alerts.search(window)] == [ids[0]]
    assert alerts.count(window) == 1
    later = T0 + timedelta(hours=2)
    alerts.merge_body(ids[0], {"last_seen": later.isoformat(), "count": 2})
    assert alerts.get(ids[0]).last_event_at == later
    with pytest.raises(ValidationError) as caught:
        alerts.search(AlertQuery(time="stored"))  # type: ignore[arg-type]
    assert caught.value.field == "time"


# -- the shared checks: the same error, naming the same field, on every backend ----------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (AlertQuery(limit=-1), "limit"),
        (AlertQuery(limit=MAX_LIMIT + 1), "limit"),
        (AlertQuery(offset=-1), "offset"),
        (AlertQuery(sort="loudest"), "sort"),  # type: ignore[arg-type]
        (AlertQuery(statuses=("open",)), "statuses"),  # type: ignore[arg-type]
        (AlertQuery(levels=("urgent",)), "levels"),  # type: ignore[arg-type]
        (AlertQuery(start=datetime(2024, 9, 1)), "start"),
    ],
)
def test_bad_alert_queries_name_the_field(
    alerts: AlertStore, query: AlertQuery, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        alerts.search(query)
    assert caught.value.field == field
    if field not in ("limit", "offset", "sort"):  # a count has no page
        with pytest.raises(ValidationError) as counted:
            alerts.count(query)
        assert counted.value.field == field


def test_bad_new_alerts_name_index_and_field(alerts: AlertStore) -> None:
    cases = [
        (alert(0, rule_id=" "), "alerts[0].rule_id"),
        (alert(0, status="assigned"), "alerts[0].assignee"),
        (alert(0, status="open"), "alerts[0].status"),
        (alert(0, created_at=datetime(1969, 12, 31, tzinfo=T0.tzinfo)), "alerts[0].created_at"),
        (alert(0, first_event_at=datetime(2024, 9, 1)), "alerts[0].first_event_at"),
    ]
    for bad, named in cases:
        with pytest.raises(ValidationError) as caught:
            alerts.add_batch([bad])
        assert caught.value.field == named
    assert alerts.count(AlertQuery()) == 0
