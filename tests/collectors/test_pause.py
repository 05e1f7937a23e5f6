"""Pause, never exit: the writer, the consumer and the tailers wait out a locked database.

The locks are real: a second SQLite connection holds `BEGIN IMMEDIATE` on the file while the
component under test runs with a short busy timeout, then lets go.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError as SAOperationalError

from collectors.consumer import run_consumer_thread
from collectors.health import IngestHealth, Pauser
from collectors.spool import SPOOL_FILE, Spool
from collectors.spool_writer import SpoolWriter
from collectors.tailer import run_tailers
from core.config import Settings
from core.config_sections import TailFile
from core.events import Event, new_event
from core.store.base import EventQuery
from core.store.faults import describe_fault
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.net import rfc5424, wait_for

T0 = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
FAST = {"first": 0.05, "cap": 0.2}


def make(n: int) -> Event:
    return new_event(timestamp=T0, dataset="test", original=f"seq={n}")


@contextmanager
def locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Hold the write lock of a SQLite file from another connection until the block ends."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (sqlite3.OperationalError("database is locked"), "database is locked"),
        (sqlite3.OperationalError("database or disk is full"), "disk full (SQLITE_FULL)"),
        (sqlite3.OperationalError("disk I/O error"), "disk I/O error"),
        (OSError(errno.ENOSPC, "No space left on device"), "disk full (ENOSPC)"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only file system (EROFS)"),
        (OSError(errno.EACCES, "Permission denied"), "permission denied (EACCES)"),
        (
            SAOperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
            "database is locked",
        ),
        (
            SAOperationalError("UPDATE", {}, Exception("could not serialize access due to x")),
            "write conflict with another transaction (40001)",
        ),
        (SAOperationalError("UPDATE", {}, Exception("deadlock detected")), "write conflict"),
    ],
)
def test_recoverable_faults_are_named(exc: BaseException, cause: str) -> None:
    described = describe_fault(exc)
    assert described is not None and described.startswith(cause)


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad"), sqlite3.OperationalError("no such table: x"), KeyError("event")],
)
def test_bugs_are_not_faults(exc: BaseException) -> None:
    assert describe_fault(exc) is None


def test_pauser_logs_once_backs_off_and_resumes(caplog: pytest.LogCaptureFixture) -> None:
    health = IngestHealth()
    pauser = Pauser(health=health, component="spool-writer", setting="data_dir=/d",
                    blocks_input=True, first=2.0, cap=5.0)  # fmt: skip
    full = OSError(errno.ENOSPC, "No space left on device")
    with caplog.at_level(logging.INFO, logger="collectors.health"):
        delays = [pauser.fault(full) for _ in range(4)]
        assert health.paused and health.retry_after_s == 5
        assert health.reason == "spool-writer: data_dir=/d: disk full (ENOSPC)"
        pauser.ok()
    assert delays == [2.0, 4.0, 5.0, 5.0]
    assert not health.paused and not health.degraded
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert messages[0] == (
        "spool-writer paused: data_dir=/d: disk full (ENOSPC); pausing ingest, retrying in 2 s"
    )
    assert len(messages) == 2 and messages[1].startswith("spool-writer resumed after")
    assert pauser.fault(ValueError("bug")) is None


def test_consumer_pauses_on_a_locked_store_and_loses_nothing(tmp_path: Path) -> None:
    health = IngestHealth()
    pauser = Pauser(health=health, component="consumer", setting="data_dir=x",
                    blocks_input=False, **FAST)  # fmt: skip
    events_path = tmp_path / "events.sqlite"
    with Spool(tmp_path / "spool.sqlite") as spool:
        spool.append([make(n) for n in range(50)], source="t")
    SqliteEventStore(events_path).close()  # schema in place before the lock is taken
    stop = threading.Event()
    failures: list[BaseException] = []
    with locked(events_path):
        thread = run_consumer_thread(
            open_spool=lambda: Spool(tmp_path / "spool.sqlite", busy_timeout_s=0.1),
            open_store=lambda: SqliteEventStore(events_path, timeout_s=0.1),
            batch_size=20,
            on_batch=None,
            stop=stop,
            failures=failures,
            pauser=pauser,
        )
        wait_for(lambda: pauser.pauses == 1, what="consumer paused")
        assert health.degraded and not health.paused  # the spool still takes input
        assert thread.is_alive()

    def pending() -> int:
        with Spool(tmp_path / "spool.sqlite") as spool:
            return spool.pending()

    try:
        wait_for(lambda: pending() == 0, what="consumer resumed")
        wait_for(lambda: not health.degraded, what="health cleared")
    finally:
        stop.set()
        thread.join(10)
    assert failures == []
    with SqliteEventStore(events_path) as reader:
        stored = reader.search(EventQuery(limit=100, order="asc"))
    assert sorted(e.event["event"]["original"] for e in stored) == sorted(
        f"seq={n}" for n in range(50)
    )


def test_spool_writer_holds_senders_while_the_spool_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    Spool(path).close()
    health = IngestHealth()

    async def scenario() -> None:
        writer = SpoolWriter(lambda: Spool(path, busy_timeout_s=0.1), health=health,
                             setting="data_dir=x")  # fmt: skip
        writer._pauser = Pauser(health=health, component="spool-writer", setting="data_dir=x",
                                blocks_input=True, **FAST)  # fmt: skip
        writer.start(asyncio.get_running_loop())
        try:
            with locked(path):
                future = writer.write("t", [make(1), make(2)])
                while not health.paused:
                    await asyncio.sleep(0.02)
                assert writer.full  # TCP readers see this and stop reading
                await asyncio.sleep(0.3)
                assert not future.done()  # not acknowledged, not failed: held
            await asyncio.wait_for(future, 10)
            assert not health.paused and not writer.full
        finally:
            writer.stop()

    asyncio.run(scenario())
    with Spool(path) as spool:
        assert [e["event"]["original"] for _, e in spool.take(10)] == ["seq=1", "seq=2"]


def test_tailers_pause_and_resume_from_their_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_file = tmp_path / "app.log"
    log_file.write_bytes(b"".join(rfc5424(n) + b"\n" for n in range(30)))
    data_dir = tmp_path / "data"
    spool_path = data_dir / SPOOL_FILE
    settings = Settings(data_dir=data_dir, environment="test")  # type: ignore[call-arg]
    Spool(spool_path).close()
    # The tailer opens its spool through its open_spool; give it a short busy timeout.
    monkeypatch.setattr(
        "collectors.tailer.open_spool",
        lambda s: Spool(s.resolved_data_dir / SPOOL_FILE, busy_timeout_s=0.1),
    )
    health = IngestHealth()
    pauser = Pauser(health=health, component="tail", setting="data_dir=x",
                    blocks_input=False, **FAST)  # fmt: skip
    stop = threading.Event()
    files = [TailFile(path=log_file, format="rfc5424")]
    with locked(spool_path):
        thread = threading.Thread(
            target=run_tailers,
            kwargs={
                "settings": settings,
                "stop": stop,
                "poll_interval": 0.02,
                "files": files,
                "pauser": pauser,
            },
        )
        thread.start()
        wait_for(lambda: pauser.pauses == 1, what="tailer paused")
        with log_file.open("ab") as more:
            more.write(b"".join(rfc5424(n) + b"\n" for n in range(30, 40)))

    def spooled() -> int:
        with Spool(spool_path) as spool:
            return spool.pending()

    try:
        wait_for(lambda: spooled() == 40, what="tailer resumed")
        assert not health.degraded
    finally:
        stop.set()
        thread.join(10)
    with Spool(spool_path) as spool:
        lines = [e["message"] for _, e in spool.take(100)]
    assert lines == [f"seq={n}" for n in range(40)]  # every line once, in order
