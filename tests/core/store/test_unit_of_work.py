"""`unit_of_work`: commits once at the end, rolls back on error, and read units never commit."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.audit import AuditEntry, record
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ConflictError
from core.store.unit_of_work import is_locked_error, is_write_unit, unit_of_work

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def _entries(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(AuditEntry)) or 0


def _write(db: Session) -> None:
    record(db=db, clock=FrozenClock(START), actor="a", action="x.y", object_type="t")


def test_a_write_unit_commits_once_and_rolls_back_on_error(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as db:
        assert is_write_unit(db)
        _write(db)
    assert _entries(sessions) == 1
    with pytest.raises(ConflictError), unit_of_work(sessions) as db:
        _write(db)
        raise ConflictError("refused")
    assert _entries(sessions) == 1


def test_commit_on_keeps_the_work_of_a_named_error_and_still_raises(
    sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(ConflictError), unit_of_work(sessions, commit_on=(ConflictError,)) as db:
        _write(db)  # e.g. a refused login's audit entry
        raise ConflictError("refused")
    assert _entries(sessions) == 1
    with pytest.raises(KeyError), unit_of_work(sessions, commit_on=(ConflictError,)) as db:
        _write(db)
        raise KeyError("other errors still roll back")
    assert _entries(sessions) == 1


def test_a_read_unit_never_commits(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions, write=False) as db:
        assert not is_write_unit(db)
        _write(db)
    assert _entries(sessions) == 0


@pytest.mark.parametrize(
    ("message", "locked"),
    [
        ("database is locked", True),
        ("database table is locked", True),
        ("database is busy", True),
        ("no such table: x", False),
    ],
)
def test_is_locked_error_reads_the_driver_message(message: str, locked: bool) -> None:
    wrapped = OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError(message))
    assert is_locked_error(wrapped) is locked
    assert is_locked_error(sqlite3.OperationalError(message)) is locked


def test_a_lazy_write_unit_takes_the_write_lock_at_its_first_statement(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    """The lock is taken by the unit's first statement, even a read (BEGIN IMMEDIATE), not
    when the unit opens: a web request's caller check runs (and may write) in between."""
    if db_settings.database_url:
        pytest.skip("SQLite's write lock; PostgreSQL locks rows")
    other = sqlite3.connect(make_url(db_settings.sqlalchemy_url).database or "", timeout=0)
    try:
        with unit_of_work(sessions, lazy=True) as db:
            assert not db.in_transaction()
            other.execute("BEGIN IMMEDIATE")  # nobody holds the lock yet
            other.execute("ROLLBACK")
            db.scalar(select(func.count()).select_from(AuditEntry))  # a read, first
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            _write(db)
        assert _entries(sessions) == 1
    finally:
        other.close()
