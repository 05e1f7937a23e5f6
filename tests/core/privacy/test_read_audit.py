"""The read audit: a personal read needs a purpose and reaches the data subject's access report;
audited reads that arrive together share one write unit, each still waiting for its commit."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from core.accounts.models import Role
from core.audit import entries, verify
from core.clock import FrozenClock
from core.config import Settings
from core.privacy.access_report import audit_reads_of, build_report
from core.privacy.read_audit import GroupCommit, _writer_of, audit_read
from core.privacy.service import PrivacyError, PurposeRequired, audit_personal_read
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work


@dataclass(frozen=True)
class Reader:
    """What the read audit needs of the reader (the dashboard passes its Principal)."""

    username: str
    role: Role
    via: str


PRINCIPAL = Reader("ana", Role.ANALYST, "session")
SUBJECT, OTHER = "rp_" + "a" * 32, "rp_" + "b" * 32
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


def test_a_personal_read_needs_a_purpose_and_reaches_the_access_report(
    settings: Settings,
) -> None:
    migrate(settings)
    engine = create_db_engine(settings)
    sessions = create_session_factory(engine)
    try:
        with unit_of_work(sessions, write=False) as db:

            def read(object_id: str, purpose: str | None, subjects: list[str]) -> str | None:
                return audit_personal_read(
                    db=db, clock=CLOCK, principal=PRINCIPAL, object_type="alert",
                    object_id=object_id, purpose=purpose, subjects=subjects,
                )  # fmt: skip

            with pytest.raises(PurposeRequired) as refused:
                read("a-1", " kort ", [SUBJECT])
            assert isinstance(refused.value, PrivacyError) and refused.value.field == "purpose"
            clean = read("a-1", " melding  nagaan ", [SUBJECT, SUBJECT])
            read("a-2", "andere inwoner", [OTHER])
            read("a-3", None, [])  # no data subject: no purpose needed, still audited
        assert clean == "melding nagaan"
        with sessions() as db:
            (entry,) = audit_reads_of(db=db, pseudonym=SUBJECT)
            assert entry.details["subject_pseudonyms"] == [SUBJECT]
            assert (entry.details["role"], entry.details["via"]) == ("analyst", "session")
            report = build_report(
                pseudonym=SUBJECT,
                audit_entries=[entry],
                events=[],
                include_names=False,
                generated_at=CLOCK.now(),
            )
        assert [(r.record_type, r.purpose, r.employee) for r in report.records] == [
            ("alert", "melding nagaan", None)
        ]
    finally:
        engine.dispose()


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
