"""SqliteEventStore specifics: query plans, WAL, the FTS index, persistence, threads, the factory.

What every event store does (batches, search, paging, dead letters) is in
contract/test_events_contract.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import FrozenClock
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.core.store.sample import T0, make, sample_events


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    with SqliteEventStore(
        tmp_path / "events.sqlite", clock=FrozenClock(T0 + timedelta(days=1))
    ) as opened:
        yield opened


@pytest.fixture
def filled(store: SqliteEventStore) -> SqliteEventStore:
    store.add_batch(sample_events())
    return store


def test_events_round_trip_unchanged(store: SqliteEventStore) -> None:
    # Unlike Elasticsearch, SQLite adds no `event.ingested`: what is read is what was written.
    events = [make(2), make(0), make(1)]
    ids = store.add_batch(events)
    for event_id, event in zip(ids, events, strict=True):
        assert store.get(event_id).event == event


def test_indexed_filter_uses_index(filled: SqliteEventStore) -> None:
    plan = filled._conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM events WHERE host_name = ? ORDER BY ts DESC", ("x",)
    ).fetchall()
    assert any("events_host_ts_partial" in str(row) for row in plan)


@pytest.mark.parametrize(
    ("path", "value", "index"),
    [
        ("host.name", "web-01", "events_host_ts_partial"),
        ("user.name", ["jan", "anouk"], "events_user_ts_partial"),
        ("source.ip", 10, "events_source_ip_ts_partial"),
    ],
)
def test_partial_indexes_serve_every_value_filter(
    filled: SqliteEventStore, path: str, value: object, index: str
) -> None:
    """The nullable columns' indexes skip NULL rows, yet `=` and `IN` filters still use them."""
    from core.store.sqlite_event_sql import where_clause

    where, params = where_clause(EventQuery(filters={path: value}))
    plan = filled._conn.execute(f"EXPLAIN QUERY PLAN SELECT id FROM events{where}", params)
    assert any(index in str(row) for row in plan.fetchall())


def test_partial_indexes_hold_only_rows_with_the_field(store: SqliteEventStore) -> None:
    with_user, without_user = make(0), make(1)
    del without_user["user"]
    store.add_batch([with_user, without_user])
    conn = store._conn
    indexed = conn.execute(
        "SELECT count(*) FROM events INDEXED BY events_user_ts_partial WHERE user_name = 'jan'"
    ).fetchone()[0]
    assert indexed == 1
    assert store.count(EventQuery(filters={"user.name": None})) == 1
    assert store.count(EventQuery(filters={"user.name": "jan"})) == 1


def test_version_2_file_gets_partial_indexes(tmp_path: Path) -> None:
    """A schema 2 file (full indexes on the nullable columns) is upgraded on open, data kept."""
    from core.store.sqlite_events import SCHEMA_VERSION

    path = tmp_path / "events.sqlite"
    with SqliteEventStore(path) as store:
        store.add_batch(sample_events())
        store._conn.executescript(
            "DROP INDEX events_host_ts_partial; DROP INDEX events_user_ts_partial;"
            "DROP INDEX events_source_ip_ts_partial;"
            "CREATE INDEX events_host_ts ON events (host_name, ts);"
            "CREATE INDEX events_user_ts ON events (user_name, ts);"
            "CREATE INDEX events_source_ip_ts ON events (source_ip, ts);"
            "PRAGMA user_version=2;"
        )
        expected = store.count(EventQuery(filters={"user.name": "jan"}))
    with SqliteEventStore(path) as store:
        conn = store._conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"events_host_ts", "events_user_ts", "events_source_ip_ts"}.isdisjoint(names)
        assert {
            "events_host_ts_partial",
            "events_user_ts_partial",
            "events_source_ip_ts_partial",
        } <= names
        assert expected > 0
        assert store.count(EventQuery(filters={"user.name": "jan"})) == expected
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_version_3_file_counts_deletions_after_upgrade(tmp_path: Path) -> None:
    """Schema 4 adds the deletion counter that cached histograms check; a schema 3 file gets
    it (and the trigger that bumps it) on open, its events kept."""
    path = tmp_path / "events.sqlite"
    with SqliteEventStore(path) as store:
        store.add_batch(sample_events())
        store._conn.executescript(
            "DROP TRIGGER events_fts_delete; DROP TABLE event_deletions;"
            "CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN "
            "INSERT INTO events_fts (events_fts, rowid, original) VALUES "
            "('delete', old.rowid, json_extract(old.body, '$.event.original')); END;"
            "PRAGMA user_version=3;"
        )
    with SqliteEventStore(path) as store:
        conn = store._conn
        assert conn.execute("SELECT n FROM event_deletions").fetchall() == [(0,)]
        conn.execute("DELETE FROM events WHERE user_name = 'jan'")
        conn.commit()
        assert conn.execute("SELECT n FROM event_deletions").fetchone()[0] > 0
        assert store.count(EventQuery(filters={"user.name": "jan"})) == 0


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


def test_store_can_be_handed_to_another_thread(store: SqliteEventStore) -> None:
    """FastAPI may run a request-scoped store's teardown in another pool thread."""
    import threading

    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(store.count(EventQuery())))
    thread.start()
    thread.join()
    assert results == [0]
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join()
    with pytest.raises(sqlite3.ProgrammingError):
        store.count(EventQuery())


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
