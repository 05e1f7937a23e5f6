"""SqliteAlertStore: add, queue search, counts, status updates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FrozenClock
from core.errors import NotFoundError, ValidationError
from core.store.base import AlertQuery, NewAlert
from core.store.sqlite_alerts import SqliteAlertStore

T0 = datetime(2024, 9, 1, 8, 0, tzinfo=UTC)


def alert(minute: int, **changes: Any) -> NewAlert:
    values: dict[str, Any] = {
        "rule_id": "r-brute",
        "rule_title": "Brute force",
        "level": "high",
        "created_at": T0 + timedelta(minutes=minute),
        "host_name": "web-01",
        "user_name": "jan",
        "body": {"events": [f"e{minute}"], "tags": ["attack.t1110"], "n": minute},
    }
    values.update(changes)
    return NewAlert(**values)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0 + timedelta(hours=1))


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> Iterator[SqliteAlertStore]:
    with SqliteAlertStore(tmp_path / "alerts.sqlite", clock=clock) as opened:
        yield opened


def minutes(found: list[Any]) -> list[int]:
    return [a.body["n"] for a in found]


def test_add_and_get_round_trip(store: SqliteAlertStore) -> None:
    ids = store.add_batch([alert(0), alert(1, exercise_id="drill-7", level="low")])
    first = store.get(ids[0])
    assert first.status == "new" and first.assignee is None
    assert first.created_at == T0 and first.rule_title == "Brute force"
    assert first.body == {"events": ["e0"], "tags": ["attack.t1110"], "n": 0}
    assert store.get(ids[1]).exercise_id == "drill-7"
    with pytest.raises(NotFoundError):
        store.get("missing")


def test_invalid_alert_names_index_and_field(store: SqliteAlertStore) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add_batch([alert(0), alert(1, level="urgent")])
    assert caught.value.field == "alerts[1].level"
    with pytest.raises(ValidationError) as naive:
        store.add_batch([alert(0, created_at=datetime(2024, 9, 1))])
    assert naive.value.field == "alerts[0].created_at"
    assert store.count(AlertQuery()) == 0


def test_search_filters_sort_and_page(store: SqliteAlertStore) -> None:
    store.add_batch(
        [
            alert(0, level="low"),
            alert(1, level="critical", rule_id="r-exfil", host_name="db-01"),
            alert(2, level="medium", exercise_id="drill-1"),
            alert(3, level="high", user_name="anouk"),
            alert(4, level="critical"),
        ]
    )
    assert minutes(store.search(AlertQuery())) == [4, 3, 2, 1, 0]
    assert minutes(store.search(AlertQuery(sort="oldest", limit=2, offset=1))) == [1, 2]
    assert minutes(store.search(AlertQuery(sort="severity"))) == [4, 1, 3, 2, 0]
    assert minutes(store.search(AlertQuery(levels=["critical", "high"]))) == [4, 3, 1]
    assert minutes(store.search(AlertQuery(rule_ids=["r-exfil"]))) == [1]
    assert minutes(store.search(AlertQuery(host_name="db-01"))) == [1]
    assert minutes(store.search(AlertQuery(user_name="anouk"))) == [3]
    assert minutes(store.search(AlertQuery(exercise=True))) == [2]
    assert minutes(store.search(AlertQuery(exercise=False))) == [4, 3, 1, 0]
    window = AlertQuery(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert minutes(store.search(window)) == [2, 1]
    assert store.count(window) == 2
    assert store.count(AlertQuery(levels=["critical"], exercise=False)) == 2


def test_update_status_and_queue(store: SqliteAlertStore, clock: FrozenClock) -> None:
    ids = store.add_batch([alert(minute) for minute in range(4)])
    clock.advance(timedelta(minutes=5))
    assert store.update_status(ids[:2], status="assigned", assignee="analyst1") == 2
    assert store.update_status([ids[2]], status="closed") == 1
    assigned = store.get(ids[0])
    assert assigned.status == "assigned" and assigned.assignee == "analyst1"
    assert assigned.updated_at == T0 + timedelta(hours=1, minutes=5)
    assert minutes(store.search(AlertQuery(statuses=["new"]))) == [3]
    assert minutes(store.search(AlertQuery(statuses=["new", "assigned"]))) == [3, 1, 0]
    assert store.count(AlertQuery(assignee="analyst1")) == 2
    # Acknowledging keeps the assignee when none is given.
    store.update_status([ids[0]], status="acknowledged")
    assert store.get(ids[0]).assignee == "analyst1"


def test_update_status_is_all_or_nothing(store: SqliteAlertStore) -> None:
    ids = store.add_batch([alert(0)])
    with pytest.raises(NotFoundError, match="ghost"):
        store.update_status([ids[0], "ghost"], status="closed")
    assert store.get(ids[0]).status == "new"


def test_update_status_validates(store: SqliteAlertStore) -> None:
    ids = store.add_batch([alert(0)])
    with pytest.raises(ValidationError) as caught:
        store.update_status(ids, status="assigned")
    assert caught.value.field == "assignee"
    with pytest.raises(ValidationError) as bad:
        store.update_status(ids, status="done")  # type: ignore[arg-type]
    assert bad.value.field == "status"


def test_queue_first_page_needs_no_sort(store: SqliteAlertStore) -> None:
    plan = " ".join(
        str(row)
        for row in store._conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM alerts WHERE status = ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 50",
            ("new",),
        )
    )
    assert "alerts_status_created" in plan
    assert "TEMP B-TREE" not in plan


def test_merge_body_sets_keys_and_keeps_the_rest(store: SqliteAlertStore) -> None:
    (alert_id,) = store.add_batch([alert(0)])
    store.merge_body(alert_id, {"count": 3, "last_seen": "x"})
    body = store.get(alert_id).body
    assert body["count"] == 3 and body["last_seen"] == "x" and body["n"] == 0
    with pytest.raises(NotFoundError):
        store.merge_body("nope", {"count": 1})
