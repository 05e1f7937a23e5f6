"""One contract for every event and alert store backend: SQLite and Elasticsearch.

The same tests run against each backend (parametrised fixtures). Backend-specific behaviour
(SQLite pragmas and query plans, Elasticsearch index layout) is tested next to each backend.
`test_every_protocol_method_has_a_contract_test` fails when a method of `EventStore` or
`AlertStore` is called by no test here.
Elasticsearch stores here write with `refresh="wait_for"` so a write is visible to the next
read, as in SQLite; Elasticsearch adds `event.ingested`, which `_plain` removes for comparison.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FrozenClock
from core.errors import NotFoundError, ValidationError
from core.store.base import (
    ALERT_LEVELS,
    MAX_LIMIT,
    MAX_RESULT_WINDOW,
    AlertQuery,
    AlertStore,
    DeadLetter,
    EventQuery,
    EventStore,
    InvalidEventError,
    NewAlert,
)
from tests.core.store.sample import T0, make, sample_events
from tests.services import unique_name

BACKENDS = ["sqlite", "elasticsearch"]


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    """The event without the store's own `event.ingested`."""
    head = {k: v for k, v in event["event"].items() if k != "ingested"}
    return {**event, "event": head}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0 + timedelta(days=1))


@dataclass
class Backend:
    """Opens event and alert stores of one backend on the same storage, as often as asked."""

    name: str
    open: Callable[[], tuple[EventStore, AlertStore]]
    opened: list[tuple[EventStore, AlertStore]] = field(default_factory=list)

    def pair(self) -> tuple[EventStore, AlertStore]:
        pair = self.open()
        self.opened.append(pair)
        return pair


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Backend]:
    if request.param == "sqlite":
        from core.store.sqlite_alerts import SqliteAlertStore
        from core.store.sqlite_events import SqliteEventStore

        def open_sqlite() -> tuple[EventStore, AlertStore]:
            return (
                SqliteEventStore(tmp_path / "events.sqlite", clock=clock),
                SqliteAlertStore(tmp_path / "alerts.sqlite", clock=clock),
            )

        sqlite = Backend("sqlite", open_sqlite)
        yield sqlite
        for events, alerts in sqlite.opened:
            events.close()
            alerts.close()
        return
    from core.store import es_common
    from core.store.elasticsearch import ElasticsearchEventStore
    from core.store.elasticsearch_alerts import ElasticsearchAlertStore

    url = request.getfixturevalue("es_url")
    prefix = unique_name("contract-")

    def open_es() -> tuple[EventStore, AlertStore]:
        client = es_common.connect(url)  # each pair owns its client (closing one closes it)
        return (
            ElasticsearchEventStore(client, prefix=prefix, clock=clock, refresh="wait_for"),
            ElasticsearchAlertStore(client, prefix=prefix, clock=clock),
        )

    es = Backend("elasticsearch", open_es)
    try:
        yield es
    finally:
        for events, _ in es.opened:
            events.close()  # the pair's one client
        client = es_common.connect(url)
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        client.indices.delete_index_template(name=f"{prefix}-*")
        client.close()


@pytest.fixture
def stores(backend: Backend) -> tuple[EventStore, AlertStore]:
    return backend.pair()


@pytest.fixture
def store(stores: tuple[EventStore, AlertStore]) -> EventStore:
    return stores[0]


@pytest.fixture
def alerts(stores: tuple[EventStore, AlertStore]) -> AlertStore:
    return stores[1]


@pytest.fixture
def filled(store: EventStore) -> EventStore:
    store.add_batch(sample_events())
    return store


def pids(found: list[Any]) -> list[int]:
    return [e.event["process"]["pid"] - 1000 for e in found]


# -- events ------------------------------------------------------------------------------------


def test_batch_returns_sortable_ids_and_round_trips(store: EventStore) -> None:
    events = [make(2), make(0), make(1)]
    ids = store.add_batch(events)
    assert len(ids) == len(set(ids)) == 3
    assert sorted(ids) == [ids[1], ids[2], ids[0]]
    for event_id, event in zip(ids, events, strict=True):
        assert _plain(store.get(event_id).event) == event
    assert store.count(EventQuery()) == 3
    assert store.add_batch([]) == []
    assert store.count(EventQuery()) == 3


def test_invalid_event_names_index_and_field_and_stores_nothing(store: EventStore) -> None:
    bad = make(1)
    del bad["event"]["dataset"]
    with pytest.raises(InvalidEventError) as caught:
        store.add_batch([make(0), bad, make(2)])
    assert caught.value.index == 1 and caught.value.field == "events[1].event.dataset"
    assert caught.value.event_field == "event.dataset"
    assert isinstance(caught.value, ValidationError)
    naive = make(0)
    naive["@timestamp"] = "2024-09-01T08:00:00"
    with pytest.raises(InvalidEventError, match=r"events\[0\]\.@timestamp: must carry a time zone"):
        store.add_batch([naive])
    assert store.count(EventQuery()) == 0
    with pytest.raises(NotFoundError, match="nope"):
        store.get("nope")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"host.name": "web-01"}, [3, 0]),
        ({"user.name": "jan"}, [4, 2, 0]),
        ({"source.ip": "10.0.0.5", "event.dataset": "system.auth"}, [2, 0]),
        ({"event.dataset": "apache.access"}, [4, 3]),
        ({"event.outcome": "failure"}, [3]),
        ({"process.pid": 1002}, [2]),
        ({"host.name": ["db-01", "web-02"]}, [4, 2, 1]),
        ({"url.path": None, "host.name": "db-01"}, [2]),
        ({"host.name": "nowhere"}, []),
    ],
)
def test_search_by_field(filled: EventStore, filters: dict[str, Any], expected: list[int]) -> None:
    assert pids(filled.search(EventQuery(filters=filters))) == expected
    assert filled.count(EventQuery(filters=filters)) == len(expected)


def test_exclude_leaves_values_out_and_keeps_events_without_the_field(
    filled: EventStore,
) -> None:
    everything = pids(filled.search(EventQuery()))
    without_web01 = [p for p in everything if p not in (3, 0)]
    query = EventQuery(exclude={"host.name": "web-01"})
    assert pids(filled.search(query)) == without_web01
    assert filled.count(query) == len(without_web01)
    no_path = EventQuery(filters={"host.name": "db-01"}, exclude={"url.path": "/nope"})
    assert pids(filled.search(no_path)) == [2]  # its url.path is absent: kept
    assert pids(filled.search(EventQuery(exclude={"process.pid": 1002}))) == [
        p for p in everything if p != 2
    ]


def test_time_range_is_half_open_and_zone_aware(filled: EventStore) -> None:
    query = EventQuery(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert pids(filled.search(query)) == [2, 1]
    assert filled.count(query) == 2
    amsterdam = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam"))
    assert filled.count(EventQuery(start=amsterdam + timedelta(minutes=4))) == 1
    with pytest.raises(ValidationError) as caught:
        filled.search(EventQuery(start=datetime(2024, 9, 1)))
    assert caught.value.field == "start"


def test_text_search_needs_every_word_and_parses_no_syntax(filled: EventStore) -> None:
    assert pids(filled.search(EventQuery(text="failed"))) == [4, 1]
    assert filled.count(EventQuery(text="password failed")) == 1
    assert filled.count(EventQuery(text="10.0.0.5")) == 3
    assert filled.count(EventQuery(text='"/burgerzaken/afspraak" -x')) == 0
    assert filled.count(EventQuery(text="/burgerzaken/afspraak")) == 1
    assert filled.count(EventQuery(text="failed", filters={"host.name": "web-02"})) == 2
    assert filled.count(EventQuery(text="   ")) == 5


def test_order_paging_and_stable_ties(store: EventStore) -> None:
    store.add_batch([make(minute) for minute in range(25)])
    pages = [store.search(EventQuery(limit=10, offset=o, order="asc")) for o in (0, 10, 20)]
    assert [pid for page in pages for pid in pids(page)] == list(range(25))
    assert pids(store.search(EventQuery(limit=3))) == [24, 23, 22]
    store.add_batch([make(100) for _ in range(7)])
    window = EventQuery(start=T0 + timedelta(minutes=100))
    first = store.search(EventQuery(start=window.start, limit=4))
    second = store.search(EventQuery(start=window.start, limit=4, offset=4))
    assert len({e.id for e in first + second}) == 7
    with pytest.raises(ValidationError, match="limit"):
        store.search(EventQuery(limit=-1))


def test_count_stops_at_the_cap(filled: EventStore) -> None:
    assert filled.count(EventQuery(), cap=3) == 3
    assert filled.count(EventQuery(text="failed"), cap=1) == 1
    assert filled.count(EventQuery(text="failed"), cap=10) == 2
    assert filled.count(EventQuery(filters={"user.name": "jan"}), cap=100) == 3


def test_count_slices_is_one_count_per_slice(filled: EventStore) -> None:
    """Half-open slices of the histogram; the query's own range and text still apply."""
    slices = filled.count_slices
    step = timedelta(minutes=2)
    assert slices(EventQuery(), start=T0, step=step, buckets=3) == [2, 2, 1]
    assert slices(EventQuery(text="failed"), start=T0, step=step, buckets=3) == [1, 0, 1]
    later = EventQuery(start=T0 + timedelta(minutes=1), filters={"user.name": "jan"})
    assert slices(later, start=T0, step=step, buckets=3) == [0, 1, 1]
    before = T0 - timedelta(minutes=1)
    assert slices(EventQuery(), start=before, step=timedelta(minutes=1), buckets=2) == [0, 1]
    with pytest.raises(ValidationError, match="step"):
        slices(EventQuery(), start=T0, step=timedelta(0), buckets=3)


def test_counts_by(filled: EventStore) -> None:
    counts_by = filled.counts_by
    assert counts_by("user.name") == [("jan", 3), ("anouk", 1), ("sem", 1)]
    assert counts_by("event.outcome") == [("success", 4), ("failure", 1)]
    assert counts_by("host.name", EventQuery(filters={"user.name": "jan"}), limit=1) == [
        ("db-01", 1)
    ]


def test_dead_letters_round_trip_with_truncation(store: EventStore, clock: FrozenClock) -> None:
    big = b"x" * (64 * 1024 + 10)
    store.add_dead_letters(
        [
            DeadLetter(source="a.jsonl", reason="bad JSON", raw=b"{nope", offset=12),
            DeadLetter(source="b.jsonl", reason="too big", raw=big, offset=0),
        ]
    )
    letters = store.list_dead_letters()
    assert [(d.source, d.reason, d.offset) for d in letters] == [
        ("a.jsonl", "bad JSON", 12),
        ("b.jsonl", "too big", 0),
    ]
    assert letters[0].raw == b"{nope" and letters[0].raw_length == 5
    assert letters[1].raw == big[: 64 * 1024] and letters[1].raw_length == len(big)
    assert letters[0].received_at == clock.now()
    assert [d.source for d in store.list_dead_letters(source="b.jsonl")] == ["b.jsonl"]
    assert store.delete_dead_letters([letters[0].id or 0]) == 1
    assert [d.source for d in store.list_dead_letters()] == ["b.jsonl"]


def test_dead_letter_counts_per_source(store: EventStore, clock: FrozenClock) -> None:
    assert store.dead_letter_counts() == []
    store.add_dead_letters(
        [DeadLetter(source="auth.log", reason="r", raw=b"x") for _ in range(3)]
        + [DeadLetter(source="udp://10.0.0.5:514", reason="r", raw=b"y")]
    )
    counts = store.dead_letter_counts()
    assert [(c.source, c.count) for c in counts] == [("auth.log", 3), ("udp://10.0.0.5:514", 1)]
    assert counts[0].newest == clock.now()


def test_event_carrying_its_own_id_is_stored_once(store: EventStore) -> None:
    first = make(0, text="redelivered once")
    first["event"]["id"] = "0" * 14 + "a1b2c3d4e5f6"
    upstream = make(2, text="upstream id")
    upstream["event"]["id"] = "winlog-4624"
    ids = store.add_batch([first, make(1, text="fresh"), upstream])
    again = store.add_batch([first])
    assert ids[0] == again[0] == first["event"]["id"]
    assert ids[2] != "winlog-4624"
    assert store.count(EventQuery()) == 3
    assert store.count(EventQuery(text="redelivered")) == 1
    assert store.get(ids[0]).event["event"]["id"] == ids[0]


# -- alerts ------------------------------------------------------------------------------------


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
        (EventQuery(limit=-1), "limit"),
        (EventQuery(limit=MAX_LIMIT + 1), "limit"),
        (EventQuery(offset=-1), "offset"),
        (EventQuery(order="sideways"), "order"),  # type: ignore[arg-type]
        (EventQuery(filters={"host..name": "x"}), "filters"),
        (EventQuery(filters={"host.name": []}), "filters.host.name"),
        (EventQuery(exclude={"": "x"}), "exclude"),
        (EventQuery(end=datetime(2024, 9, 1)), "end"),
    ],
)
def test_bad_event_queries_name_the_field(store: EventStore, query: EventQuery, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        store.search(query)
    assert caught.value.field == field


def test_bad_event_reads_name_the_field(store: EventStore) -> None:
    reads: list[tuple[Callable[[], object], str]] = [
        (lambda: store.count(EventQuery(filters={"host.name": []})), "filters.host.name"),
        (lambda: store.counts_by("user..name"), "field"),
        (lambda: store.counts_by("user.name", limit=0), "limit"),
        (lambda: store.count_slices(EventQuery(), start=T0, step=timedelta(0), buckets=1), "step"),
        (
            lambda: store.count_slices(
                EventQuery(), start=datetime(2024, 9, 1), step=timedelta(hours=1), buckets=1
            ),
            "start",
        ),
        (lambda: store.list_dead_letters(limit=-1), "limit"),
        (lambda: store.delete_by_exercise(""), "exercise_id"),
    ]
    for read, named in reads:
        with pytest.raises(ValidationError) as caught:
            read()
        assert caught.value.field == named


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
                search(query)  # type: ignore[operator]
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


# -- coverage of the protocols -----------------------------------------------------------------


def _protocol_methods(protocol: type) -> set[str]:
    return {name for name, value in vars(protocol).items() if callable(value) and name[0] != "_"}


def contract_coverage(source: str) -> dict[str, set[str]]:
    """Methods each protocol's tests call: a test covers `.name` of a protocol its fixture
    parameters are annotated with (`store: EventStore`, `stores: tuple[EventStore, ...]`)."""
    covered: dict[str, set[str]] = {"EventStore": set(), "AlertStore": set()}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        protocols = {
            name.id
            for arg in node.args.args
            if arg.annotation is not None
            for name in ast.walk(arg.annotation)
            if isinstance(name, ast.Name) and name.id in covered
        }
        used = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        for protocol in protocols:
            covered[protocol] |= used
    return covered


def test_every_protocol_method_has_a_contract_test() -> None:
    covered = contract_coverage(Path(__file__).read_text(encoding="utf-8"))
    missing = {
        protocol.__name__: sorted(_protocol_methods(protocol) - covered[protocol.__name__])
        for protocol in (EventStore, AlertStore)
    }
    assert missing == {"EventStore": [], "AlertStore": []}


def test_the_coverage_check_sees_a_missing_method() -> None:
    source = (
        "def test_a(store: EventStore) -> None:\n    store.search(q)\n"
        "def test_b(stores: tuple[EventStore, AlertStore]) -> None:\n    e, a = stores\n"
        "    a.merge_body('x', {})\n"
        "def helper(alerts: AlertStore) -> None:\n    alerts.get('x')\n"
    )
    covered = contract_coverage(source)
    assert covered == {"EventStore": {"search", "merge_body"}, "AlertStore": {"merge_body"}}
    assert "get" in _protocol_methods(AlertStore) - covered["AlertStore"]
