"""SqliteEventStore: batches, search paths (indexed, JSON, FTS), paging, dead letters."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FrozenClock
from core.errors import NotFoundError, ValidationError
from core.events import new_event
from core.store.base import DeadLetter, EventQuery, InvalidEventError
from core.store.sqlite_events import MAX_DEAD_LETTER_BYTES, SqliteEventStore

T0 = datetime(2024, 9, 1, 8, 0, tzinfo=UTC)


def make(
    minute: int,
    *,
    dataset: str = "system.auth",
    host: str = "web-01",
    user: str = "jan",
    ip: str = "10.0.0.5",
    text: str = "login ok",
    outcome: str = "success",
) -> dict[str, Any]:
    return new_event(
        timestamp=T0 + timedelta(minutes=minute),
        dataset=dataset,
        original=f"{text} user={user} src={ip}",
        fields={
            "host.name": host,
            "user.name": user,
            "source.ip": ip,
            "event.outcome": outcome,
            "process.pid": 1000 + minute,
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    with SqliteEventStore(
        tmp_path / "events.sqlite", clock=FrozenClock(T0 + timedelta(days=1))
    ) as opened:
        yield opened


@pytest.fixture
def filled(store: SqliteEventStore) -> SqliteEventStore:
    store.add_batch(
        [
            make(0, host="web-01", user="jan", ip="10.0.0.5", text="login ok"),
            make(1, host="web-02", user="anouk", ip="10.0.0.6", text="login failed password"),
            make(2, host="db-01", user="jan", ip="10.0.0.5", text="sudo session opened"),
            make(
                3,
                dataset="apache.access",
                host="web-01",
                user="sem",
                ip="192.168.1.9",
                text="GET /burgerzaken/afspraak 200",
                outcome="failure",
            ),
            make(
                4,
                dataset="apache.access",
                host="web-02",
                user="jan",
                ip="10.0.0.5",
                text="POST /login 403 failed",
            ),
        ]
    )
    return store


def test_batch_returns_sortable_ids_and_round_trips(store: SqliteEventStore) -> None:
    events = [make(2), make(0), make(1)]
    ids = store.add_batch(events)
    assert len(ids) == len(set(ids)) == 3
    # Ids sort by event time, whatever the insertion order.
    assert sorted(ids) == [ids[1], ids[2], ids[0]]
    for event_id, event in zip(ids, events, strict=True):
        assert store.get(event_id).event == event
    assert store.count(EventQuery()) == 3


def test_empty_batch_stores_nothing(store: SqliteEventStore) -> None:
    assert store.add_batch([]) == []
    assert store.count(EventQuery()) == 0


def test_invalid_event_names_index_and_field_and_stores_nothing(store: SqliteEventStore) -> None:
    bad = make(1)
    del bad["event"]["dataset"]
    with pytest.raises(InvalidEventError) as caught:
        store.add_batch([make(0), bad, make(2)])
    assert caught.value.index == 1
    assert caught.value.event_field == "event.dataset"
    assert caught.value.field == "events[1].event.dataset"
    assert isinstance(caught.value, ValidationError)
    assert store.count(EventQuery()) == 0


def test_naive_timestamp_is_rejected_with_field(store: SqliteEventStore) -> None:
    bad = make(0)
    bad["@timestamp"] = "2024-09-01T08:00:00"
    with pytest.raises(InvalidEventError, match=r"events\[0\]\.@timestamp: must carry a time zone"):
        store.add_batch([bad])


def test_get_unknown_raises_not_found(store: SqliteEventStore) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        store.get("nope")


@pytest.mark.parametrize(
    ("filters", "expected_minutes"),
    [
        ({"host.name": "web-01"}, [3, 0]),
        ({"user.name": "jan"}, [4, 2, 0]),
        ({"source.ip": "10.0.0.5", "event.dataset": "system.auth"}, [2, 0]),
        ({"event.dataset": "apache.access"}, [4, 3]),
        ({"event.outcome": "failure"}, [3]),  # not indexed: json_extract on the body
        ({"process.pid": 1002}, [2]),  # non-string JSON value
        ({"host.name": ["db-01", "web-02"]}, [4, 2, 1]),  # any of
        ({"url.path": None, "host.name": "db-01"}, [2]),  # absent field
        ({"host.name": "nowhere"}, []),
    ],
)
def test_search_by_field(
    filled: SqliteEventStore, filters: dict[str, Any], expected_minutes: list[int]
) -> None:
    found = filled.search(EventQuery(filters=filters))
    assert [e.event["process"]["pid"] - 1000 for e in found] == expected_minutes
    assert filled.count(EventQuery(filters=filters)) == len(expected_minutes)


def test_indexed_filter_uses_index(filled: SqliteEventStore) -> None:
    plan = filled._conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM events WHERE host_name = ? ORDER BY ts DESC", ("x",)
    ).fetchall()
    assert any("events_host_ts" in str(row) for row in plan)


def test_time_range_is_half_open(filled: SqliteEventStore) -> None:
    query = EventQuery(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert [e.event["process"]["pid"] for e in filled.search(query)] == [1002, 1001]
    assert filled.count(query) == 2


def test_time_range_accepts_other_zones(filled: SqliteEventStore) -> None:
    amsterdam = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam"))
    assert filled.count(EventQuery(start=amsterdam + timedelta(minutes=4))) == 1


def test_naive_query_time_is_rejected(filled: SqliteEventStore) -> None:
    with pytest.raises(ValidationError) as caught:
        filled.search(EventQuery(start=datetime(2024, 9, 1)))
    assert caught.value.field == "start"


def test_text_search_uses_fts(filled: SqliteEventStore) -> None:
    assert [e.event["process"]["pid"] for e in filled.search(EventQuery(text="failed"))] == [
        1004,
        1001,
    ]
    # All words must occur, in any order.
    assert filled.count(EventQuery(text="password failed")) == 1
    # Punctuation is matched as a phrase, not parsed as FTS5 syntax.
    assert filled.count(EventQuery(text="10.0.0.5")) == 3
    assert filled.count(EventQuery(text='"/burgerzaken/afspraak" -x')) == 0
    assert filled.count(EventQuery(text="/burgerzaken/afspraak")) == 1
    assert filled.count(EventQuery(text="failed", filters={"host.name": "web-02"})) == 2
    assert filled.count(EventQuery(text="   ")) == 5


def test_order_and_paging(store: SqliteEventStore) -> None:
    store.add_batch([make(minute) for minute in range(25)])
    pages = [
        store.search(EventQuery(limit=10, offset=offset, order="asc")) for offset in (0, 10, 20)
    ]
    pids = [e.event["process"]["pid"] - 1000 for page in pages for e in page]
    assert pids == list(range(25))
    newest = store.search(EventQuery(limit=3))
    assert [e.event["process"]["pid"] - 1000 for e in newest] == [24, 23, 22]


def test_same_timestamp_pages_are_stable(store: SqliteEventStore) -> None:
    store.add_batch([make(0) for _ in range(7)])
    first = store.search(EventQuery(limit=4))
    second = store.search(EventQuery(limit=4, offset=4))
    assert len({e.id for e in first + second}) == 7


def test_bad_limit_is_rejected(store: SqliteEventStore) -> None:
    with pytest.raises(ValidationError, match="limit"):
        store.search(EventQuery(limit=-1))


def test_counts_by(filled: SqliteEventStore) -> None:
    assert filled.counts_by("user.name") == [("jan", 3), ("anouk", 1), ("sem", 1)]
    assert filled.counts_by("event.outcome") == [("success", 4), ("failure", 1)]
    assert filled.counts_by("host.name", EventQuery(filters={"user.name": "jan"}), limit=1) == [
        ("db-01", 1)
    ]


def test_dead_letters_round_trip_with_truncation(store: SqliteEventStore) -> None:
    big = b"x" * (MAX_DEAD_LETTER_BYTES + 10)
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
    assert letters[1].raw == big[:MAX_DEAD_LETTER_BYTES]
    assert letters[1].raw_length == len(big)
    assert letters[0].received_at == T0 + timedelta(days=1)
    assert [d.source for d in store.list_dead_letters(source="b.jsonl")] == ["b.jsonl"]


def test_schema_is_wal_and_full_sync(store: SqliteEventStore) -> None:
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    with SqliteEventStore(path) as first:
        ids = first.add_batch([make(0)])
    with SqliteEventStore(path) as second:
        assert second.get(ids[0]).event["user"]["name"] == "jan"
        assert second.count(EventQuery(text="login")) == 1


def test_store_is_bound_to_its_thread(store: SqliteEventStore) -> None:
    import threading

    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.count(EventQuery())
        except sqlite3.ProgrammingError as exc:
            errors.append(exc)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert errors


def test_deleting_an_event_removes_it_from_the_text_index(filled: SqliteEventStore) -> None:
    conn = filled._conn
    conn.execute("DELETE FROM events WHERE user_name = 'anouk'")
    assert filled.count(EventQuery(text="password")) == 0
    assert filled.count(EventQuery(text="failed")) == 1
    conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")


def test_factory_opens_sqlite_stores_in_data_dir(tmp_path: Path) -> None:
    from core.config import load_settings
    from core.store.factory import open_alert_store, open_event_store

    settings = load_settings(data_dir=tmp_path / "data", environment="test")
    events, alerts = open_event_store(settings), open_alert_store(settings)
    try:
        assert isinstance(events, SqliteEventStore)
        assert (tmp_path / "data" / "events.sqlite").is_file()
        assert (tmp_path / "data" / "alerts.sqlite").is_file()
    finally:
        events.close()
        alerts.close()


def test_event_carrying_its_own_id_is_stored_once(store: SqliteEventStore) -> None:
    # The collectors' spool assigns event.id in the store's format; a redelivery after a crash
    # between the store commit and the spool ack must not duplicate the event.
    first = make(0, text="redelivered once")
    first["event"]["id"] = "0" * 14 + "a1b2c3d4e5f6"
    second = make(1, text="fresh")
    upstream = make(2, text="upstream id")
    upstream["event"]["id"] = "winlog-4624"  # not our format: the store draws its own id
    ids = store.add_batch([first, second, upstream])
    again = store.add_batch([first])
    assert ids[0] == again[0] == first["event"]["id"]
    assert ids[2] != "winlog-4624"
    assert store.count(EventQuery()) == 3
    assert store.count(EventQuery(text="redelivered")) == 1
    assert store.get(ids[0]).event["event"]["id"] == ids[0]
