"""Spool: durability across reopen, ids, checkpoints, counters, back-pressure, consumer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.consumer import SpoolConsumer
from collectors.spool import SCHEMA_VERSION, STORE_ID_RE, Spool, open_spool
from core.config import Settings
from core.events import Event, new_event
from core.store.base import DeadLetter, EventQuery
from core.store.sqlite_events import SqliteEventStore

T0 = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)


def make(n: int) -> Event:
    return new_event(timestamp=T0, dataset="test", original=f"seq={n}")


def test_append_is_durable_and_assigns_store_ids(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    upstream = make(1)
    upstream["event"]["id"] = "4624"
    with Spool(path) as spool:
        spool.append([make(0), upstream], source="t", checkpoint=("file:/x", {"offset": 10}))
    # A fresh connection (a restarted process) sees everything, in order.
    with Spool(path) as spool:
        taken = spool.take(10)
        assert [event["event"]["original"] for _, event in taken] == ["seq=0", "seq=1"]
        assert all(STORE_ID_RE.fullmatch(event["event"]["id"]) for _, event in taken)
        assert taken[1][1]["dijkwacht"]["source_event_id"] == "4624"
        assert spool.checkpoint("file:/x") == {"offset": 10}
        assert spool.checkpoint("missing") is None
        spool.ack(taken[0][0])
        assert [event["event"]["original"] for _, event in spool.take(10)] == ["seq=1"]
        assert spool.pending() == 1


def test_checkpoint_rolls_back_with_the_events(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.sqlite") as spool:
        spool.append([make(0)], source="t", checkpoint=("k", 1))
        bad: dict[str, Any] = make(1)
        bad["unserialisable"] = {1, 2}  # orjson refuses sets: the whole append fails
        with pytest.raises(TypeError):
            spool.append([bad], source="t", checkpoint=("k", 2))
        assert spool.checkpoint("k") == 1
        assert spool.pending() == 1


def test_back_pressure_and_counters(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.sqlite", max_pending=3) as spool:
        spool.append([make(0), make(1)], source="a")
        assert not spool.is_full()
        spool.append_dead([DeadLetter(source="a", reason="bad", raw=b"x" * 100_000)])
        assert spool.is_full()
        spool.count_dropped("a", 5)
        (counters,) = spool.counters()
        assert (counters.received, counters.parsed, counters.dead_lettered, counters.dropped) == (
            8,
            2,
            1,
            5,
        )
        assert counters.last_seen is not None
        ((_, letter),) = spool.take_dead(5)
        assert len(letter.raw) == 64 * 1024 and letter.raw_length == 100_000
        spool.ack_dead(10)
        spool.ack(10)
        assert spool.pending() == 0 and not spool.is_full()


def test_consumer_stores_exactly_once_on_redelivery(tmp_path: Path, settings: Settings) -> None:
    seen: list[int] = []

    def on_batch(events: Sequence[Event]) -> None:
        seen.append(len(events))

    with open_spool(settings) as spool, SqliteEventStore(settings.event_db_path) as store:
        spool.append([make(n) for n in range(5)], source="t")
        spool.append_dead([DeadLetter(source="t", reason="bad", raw=b"?")])
        # A crash after the store commit but before the ack: the same rows come again.
        store.add_batch([event for _, event in spool.take(3)])
        consumer = SpoolConsumer(spool=spool, store=store, batch_size=2, on_batch=on_batch)
        consumer.drain()
        assert store.count(EventQuery()) == 5
        assert spool.pending() == 0
        assert seen == [2, 2, 1]
        assert len(store.list_dead_letters()) == 1


def test_consumer_dead_letters_an_event_the_store_refuses(
    tmp_path: Path, settings: Settings
) -> None:
    with open_spool(settings) as spool, SqliteEventStore(settings.event_db_path) as store:
        bad = make(1)
        bad["@timestamp"] = "yesterday"
        spool.append([make(0), bad, make(2)], source="t")
        SpoolConsumer(spool=spool, store=store, batch_size=10).drain()
        assert store.count(EventQuery()) == 2
        (letter,) = store.list_dead_letters(source="spool")
        assert "@timestamp" in letter.reason
        assert spool.pending() == 0


def originals(taken: Sequence[tuple[int, Event]]) -> list[str]:
    return [event["event"]["original"] for _, event in taken]


def test_rows_hold_batches_and_take_returns_whole_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("collectors.spool.ROW_EVENTS", 3)
    with Spool(tmp_path / "s.sqlite") as spool:
        spool.append([make(n) for n in range(7)], source="t")  # rows of 3, 3 and 1
        spool.append([make(n) for n in range(7, 9)], source="t")  # a row of 2
        assert spool._conn.execute("SELECT count(*) FROM spool_batches").fetchone()[0] == 4
        assert spool.pending() == 9
        taken = spool.take(5)  # the second row would not fit: whole rows only
        assert originals(taken) == [f"seq={n}" for n in range(3)]
        assert [seq for seq, _ in taken] == [1, 2, 3]
        taken = spool.take(7)
        assert originals(taken) == [f"seq={n}" for n in range(7)]
        assert [seq for seq, _ in taken] == list(range(1, 8))
        (counters,) = spool.counters()
        assert counters.parsed == 9


def test_partial_ack_inside_a_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("collectors.spool.ROW_EVENTS", 4)
    with Spool(tmp_path / "s.sqlite") as spool:
        spool.append([make(n) for n in range(6)], source="t")  # rows of 4 and 2
        taken = spool.take(2)  # a first row longer than the limit is cut
        assert originals(taken) == ["seq=0", "seq=1"]
        spool.ack(taken[-1][0])
        assert spool.pending() == 4
        taken = spool.take(10)
        assert originals(taken) == [f"seq={n}" for n in range(2, 6)]
        spool.ack(taken[1][0])  # up to seq=3: the first row is done and deleted
        assert spool.pending() == 2
        assert spool._conn.execute("SELECT count(*) FROM spool_batches").fetchone()[0] == 1
    with Spool(tmp_path / "s.sqlite") as spool:  # the ack position survives a restart
        assert originals(spool.take(10)) == ["seq=4", "seq=5"]
        spool.ack(100)
        assert spool.pending() == 0 and spool.take(10) == []
        spool.append([make(9)], source="t")  # sequence numbers continue after the ack
        ((seq, event),) = spool.take(10)
        assert seq == 101 and event["event"]["original"] == "seq=9"
        assert spool.pending() == 1


def test_version_1_file_keeps_its_unacknowledged_events(tmp_path: Path) -> None:
    """A spool written by schema 1 (one row per event) is upgraded on open, in order."""
    import sqlite3

    import orjson

    path = tmp_path / "s.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
        " body BLOB NOT NULL);"
        "PRAGMA user_version=1;"
    )
    conn.executemany(
        "INSERT INTO spool (id, source, body) VALUES (?, 't', ?)",
        [(n, orjson.dumps(make(n))) for n in (41, 42, 43)],
    )
    conn.commit()
    conn.close()
    with Spool(path) as spool:
        assert spool._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert spool.pending() == 3
        taken = spool.take(10)
        assert [seq for seq, _ in taken] == [41, 42, 43]
        assert originals(taken) == ["seq=41", "seq=42", "seq=43"]
        spool.ack(42)
        spool.append([make(44)], source="t")
        assert [seq for seq, _ in spool.take(10)] == [43, 44]
        names = {row[0] for row in spool._conn.execute("SELECT name FROM sqlite_master")}
        assert "spool" not in names


def test_consumer_grows_batches_while_a_backlog_lasts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("collectors.spool.ROW_EVENTS", 1)
    seen: list[int] = []
    with open_spool(settings) as spool, SqliteEventStore(settings.event_db_path) as store:
        spool.append([make(n) for n in range(20)], source="t")
        consumer = SpoolConsumer(
            spool=spool,
            store=store,
            batch_size=2,
            max_batch_size=5,
            on_batch=lambda events: seen.append(len(events)),
        )
        consumer.drain()
        # 2, doubled while 2 or more are left, capped at 5; then back to 2 once all are moved.
        assert seen == [2, 4, 5, 5, 4]
        spool.append([make(n) for n in range(3)], source="t")
        consumer.drain()  # no backlog any more: back to the configured size
        assert seen[5:] == [2, 1]
        assert store.count(EventQuery()) == 23 and spool.pending() == 0
