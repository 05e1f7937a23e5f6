"""The event-store half of the contract: writes, searches, counts and dead letters.

Elasticsearch adds `event.ingested`, which `_plain` removes for comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from core.clock import FrozenClock
from core.errors import NotFoundError, ValidationError
from core.store.base import (
    MAX_LIMIT,
    DeadLetter,
    EventQuery,
    EventStore,
    InvalidEventError,
)
from tests.core.store.sample import T0, make, pids


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    """The event without the store's own `event.ingested`."""
    head = {k: v for k, v in event["event"].items() if k != "ingested"}
    return {**event, "event": head}


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
