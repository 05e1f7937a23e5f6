"""Audited reads that arrive together share one write unit; each still waits for its commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from core.accounts.models import Role
from core.audit import entries, verify
from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dashboard.audit_reads import GroupCommit, _writer_of, audit_read
from dashboard.security import Principal

PRINCIPAL = Principal(1, "ana", "Ana", Role.ANALYST, "session", None, None)
CLOCK = FrozenClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
READERS = 12


def _read(sessions: sessionmaker[Session], n: int, errors: list[BaseException]) -> None:
    try:
        with unit_of_work(sessions, write=False) as db:
            audit_read(
                db=db,
                clock=CLOCK,
                principal=PRINCIPAL,
                object_type="alert",
                object_id=f"a-{n}",
                purpose=None,
            )
    except BaseException as exc:  # kept and asserted on below
        errors.append(exc)


def _wait_queued(writer: GroupCommit, count: int) -> None:
    """Observe (no sleep) until `count` reads wait in the writer's queue."""
    with writer._queued:
        assert writer._queued.wait_for(lambda: len(writer._queue) == count, timeout=30)


def test_reads_queued_behind_a_unit_are_written_in_one_more_unit(settings: Settings) -> None:
    migrate(settings)
    engine = create_db_engine(settings)
    sessions = create_session_factory(engine)
    begins: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _k, statement, *_a: (
            begins.append(statement) if statement.startswith("BEGIN IMMEDIATE") else None
        ),
    )
    try:
        with sessions() as db:
            writer = _writer_of(db)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_read, args=(sessions, n, errors)) for n in range(READERS)
        ]
        # Stand in for a unit in progress: every reader queues behind it.
        with writer._writer_lock:
            for thread in threads:
                thread.start()
            _wait_queued(writer, READERS)
            assert not begins  # nothing written while the previous unit runs
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert writer.units == 1
        assert len(begins) == (1 if engine.dialect.name == "sqlite" else 0)
        with sessions() as db:
            assert sorted(e.object_id or "" for e in entries(db=db)) == sorted(
                f"a-{n}" for n in range(READERS)
            )
            assert verify(db=db).ok
    finally:
        engine.dispose()


def test_a_failed_unit_fails_every_read_in_it(settings: Settings) -> None:
    """Fail closed: when the group's unit cannot commit, no read in it is shown."""
    migrate(settings)
    engine = create_db_engine(settings)
    sessions = create_session_factory(engine)
    try:
        with sessions() as db:
            writer = _writer_of(db)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_read, args=(sessions, n, errors)) for n in range(3)]

        def refuse(_c: object, _k: object, statement: str, *_a: object) -> None:
            if statement.startswith("INSERT INTO audit_log"):
                raise RuntimeError("disk full")

        event.listen(engine, "before_cursor_execute", refuse)
        with writer._writer_lock:
            for thread in threads:
                thread.start()
            _wait_queued(writer, 3)
        for thread in threads:
            thread.join(timeout=30)
        event.remove(engine, "before_cursor_execute", refuse)
        assert len(errors) == 3 and all("disk full" in str(e) for e in errors)
        with sessions() as db:
            assert entries(db=db) == []
        # The writer keeps working for the next reads.
        _read(sessions, 99, errors)
        assert len(errors) == 3
    finally:
        engine.dispose()


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """SQLite and PostgreSQL: the group's entries are chained in one transaction on both."""
    return db_settings
