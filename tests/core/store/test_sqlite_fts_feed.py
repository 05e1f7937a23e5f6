"""FTS is fed per batch by `add_batch`: each stored row indexed once; old files upgraded."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.events import new_event
from core.store.base import EventQuery
from core.store.sqlite_events import SCHEMA_VERSION, SqliteEventStore

T0 = datetime(2024, 9, 1, 8, 0, tzinfo=UTC)


def event(minute: int, text: str, *, own_id: str | None = None) -> dict[str, object]:
    made = new_event(timestamp=T0 + timedelta(minutes=minute), dataset="syslog", original=text)
    if own_id is not None:
        made["event"]["id"] = own_id
    return made


def fts_rows(conn: sqlite3.Connection, word: str) -> int:
    query = "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?"
    return int(conn.execute(query, (f'"{word}"',)).fetchone()[0])


def test_redelivered_and_duplicate_ids_are_indexed_once(tmp_path: Path) -> None:
    own = "0" * 14 + "a1b2c3d4e5f6"
    with SqliteEventStore(tmp_path / "events.sqlite") as store:
        store.add_batch([event(0, "alpha once", own_id=own), event(1, "beta")])
        store.add_batch([event(0, "alpha once", own_id=own), event(2, "gamma 10.0.0.5")])
        store.add_batch([event(3, "delta", own_id=own)])  # ignored entirely
        conn = store._conn
        assert fts_rows(conn, "alpha") == 1
        assert fts_rows(conn, "delta") == 0
        assert store.count(EventQuery(text="10.0.0.5")) == 1
        assert store.count(EventQuery()) == 3
        conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")


def test_version_1_file_loses_its_insert_trigger(tmp_path: Path) -> None:
    """A file written by schema 1 (trigger-fed index) keeps working and is indexed once."""
    path = tmp_path / "events.sqlite"
    with SqliteEventStore(path) as store:
        store.add_batch([event(0, "before upgrade")])
        store._conn.executescript(
            "CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN "
            "INSERT INTO events_fts (rowid, original) "
            "VALUES (new.rowid, json_extract(new.body, '$.event.original')); END; "
            "PRAGMA user_version=1;"
        )
    with SqliteEventStore(path) as store:
        conn = store._conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "events_fts_insert" not in names
        store.add_batch([event(1, "after upgrade")])
        assert fts_rows(conn, "upgrade") == 2
        assert store.count(EventQuery(text="after")) == 1
        conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")


def index_terms(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """Every (term, event time, position) in the FTS index, read through fts5vocab."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, events_fts, instance)"
    )
    return conn.execute(
        "SELECT v.term, e.ts, v.offset FROM temp.vocab AS v JOIN events AS e ON e.rowid = v.doc "
        "ORDER BY v.term, e.ts, v.offset"
    ).fetchall()


def test_bound_text_indexes_what_json_extract_indexes(tmp_path: Path) -> None:
    """A batch of new rows binds each event's text (no json_extract); the index is the same."""
    texts = ['quote " and \\ backslash', "unicode é ü 日本", "tab\there", "10.0.0.5 port 22"]
    flat = new_event(timestamp=T0, dataset="syslog", original="flat key text")
    flat.pop("event")
    flat.update({"event.kind": "event", "event.dataset": "syslog", "event.original": "flat"})

    def batch() -> list[dict[str, object]]:
        return [event(n, text) for n, text in enumerate(texts)] + [dict(flat)]

    with SqliteEventStore(tmp_path / "bound.sqlite") as bound:
        bound.add_batch(batch())  # all new: bound text
        bound_terms = index_terms(bound._conn)
        bound._conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")
        assert bound.count(EventQuery(text="日本")) == 1
    with SqliteEventStore(tmp_path / "extracted.sqlite") as extracted:
        events = batch()
        own = "0" * 14 + "a1b2c3d4e5f6"
        duplicate = event(9, "dup", own_id=own)
        extracted.add_batch([duplicate])
        extracted.add_batch([*events, duplicate])  # one id already stored: json_extract path
        extracted._conn.execute("DELETE FROM events WHERE id = ?", (own,))
        assert index_terms(extracted._conn) == bound_terms
