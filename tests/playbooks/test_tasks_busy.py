"""A task whose unit of work finds SQLite locked past the busy timeout is retried, not failed."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from core.config import Settings
from core.store import relational
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from playbooks.tasks import retry_when_busy


class Retry(Exception):
    """Stands in for celery.exceptions.Retry: what `task.retry()` returns to be raised."""


@dataclass
class _Request:
    retries: int = 2


@dataclass
class FakeTask:
    """Only what `retry_when_busy` uses of a bound Celery task (pure logic, no broker)."""

    request: _Request = field(default_factory=_Request)
    countdowns: list[float] = field(default_factory=list)

    def retry(self, *, countdown: float) -> Retry:
        self.countdowns.append(countdown)
        return Retry()


def test_a_locked_database_becomes_a_retry_with_backoff(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(settings)
    monkeypatch.setattr(relational, "SQLITE_BUSY_TIMEOUT_MS", 100)
    engine = create_db_engine(settings)
    holder = sqlite3.connect(str(make_url(settings.sqlalchemy_url).database), isolation_level=None)
    task = FakeTask()
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
        with (
            pytest.raises(Retry),
            retry_when_busy(task, settings),
            unit_of_work(create_session_factory(engine)),  # BEGIN IMMEDIATE waits 0.1 s
        ):
            raise AssertionError("the unit began although another writer holds the lock")
        assert task.countdowns == [settings.action_retry_backoff_seconds * 4]
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def test_other_database_errors_are_not_retried(settings: Settings) -> None:
    task = FakeTask()
    with pytest.raises(OperationalError), retry_when_busy(task, settings):
        raise OperationalError("SELECT nope", {}, sqlite3.OperationalError("no such table: nope"))
    assert task.countdowns == []
