"""The hash-chained audit log: a clean chain verifies; tampering is found at the right entry."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.audit import GENESIS_HASH, AuditEntry, VerifyResult, entries, record, verify
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from core.store.relational import create_db_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (a fresh schema per test)."""
    return db_settings


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def _db_file(settings: Settings) -> Path:
    return settings.resolved_data_dir / "dijkwacht.sqlite"


def _write_chain(sessions: sessionmaker[Session], clock: FrozenClock, n: int = 6) -> None:
    with sessions() as db:
        for i in range(1, n + 1):
            clock.advance(timedelta(seconds=1))
            record(
                db=db,
                clock=clock,
                actor=f"analyst{i % 2}",
                action="personal_data.viewed" if i % 2 else "incident.updated",
                object_type="resident" if i % 2 else "incident",
                object_id=str(i),
                purpose="handling incident 7" if i % 2 else None,
                details={"i": i, "fields": ["name", "address"], "note": "één"},
            )
            db.commit()


def _tamper(settings: Settings, *statements: str) -> None:
    """What an attacker with database owner rights does: drop the guard triggers, then edit."""
    engine = create_db_engine(settings)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
            else:
                connection.exec_driver_sql(
                    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"
                )
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _verify(sessions: sessionmaker[Session]) -> VerifyResult:
    with sessions() as db:
        return verify(db=db)


def test_a_clean_chain_verifies(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    with sessions() as db:
        chain = entries(db=db)
    assert [entry.seq for entry in chain] == [1, 2, 3, 4, 5, 6]
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(chain))
    assert chain[0].at == START + timedelta(seconds=1)
    result = _verify(sessions)
    assert result.ok and result.entries == 6 and result.head_hash == chain[-1].hash
    assert result.bad_seq is None


def test_empty_log_is_intact(sessions: sessionmaker[Session]) -> None:
    result = _verify(sessions)
    assert result.ok and result.entries == 0 and result.head_hash == GENESIS_HASH


def test_modified_details_fail_at_that_entry(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    _tamper(settings, """UPDATE audit_log SET details = '{"i": 99}' WHERE seq = 4""")
    result = _verify(sessions)
    assert not result.ok
    assert result.bad_seq == 4 and result.entries == 3
    assert result.reason is not None and "content modified" in result.reason
    assert result.bad_action == "incident.updated"
    assert result.bad_at == START + timedelta(seconds=4)


def test_deleted_entry_fails_at_the_next_entry(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    _tamper(settings, "DELETE FROM audit_log WHERE seq = 3")
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 4
    assert result.reason is not None and "deleted" in result.reason and "seq 3" in result.reason


def test_deleting_and_renumbering_still_fails(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    _tamper(
        settings,
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3",
    )
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 3


def test_swapped_entries_fail_at_the_first_of_them(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    columns = "at, actor, action, object_type, object_id, purpose, details, prev_hash, hash"
    _tamper(
        settings,
        f"CREATE TABLE swap AS SELECT seq, {columns} FROM audit_log WHERE seq IN (2, 5)",
        "UPDATE audit_log SET (" + columns + ") = (SELECT " + columns + " FROM swap WHERE "
        "swap.seq = CASE audit_log.seq WHEN 2 THEN 5 ELSE 2 END) WHERE seq IN (2, 5)",
    )
    with sessions() as db:
        assert [e.object_id for e in entries(db=db)] == ["1", "5", "3", "4", "2", "6"]
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 2 and result.entries == 1
    assert result.reason is not None and "reordered" in result.reason
    assert "seq 5" in result.reason


def test_the_database_refuses_update_and_delete(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        record(db=db, clock=clock, actor="a", action="user.created", object_type="user")
        db.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(update(AuditEntry).values(actor="mallory"))
        db.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            db.query(AuditEntry).delete()
        db.rollback()
    assert _verify(sessions).ok


def test_record_joins_the_callers_transaction(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        record(db=db, clock=clock, actor="a", action="case.opened", object_type="case")
        db.rollback()
    with sessions() as db:
        assert entries(db=db) == []


def test_record_refuses_bad_input(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    with sessions() as db:
        with pytest.raises(ValidationError) as error:
            record(
                db=db, clock=clock, actor="a", action="x.y", object_type="t", details={"d": {1, 2}}
            )
        assert error.value.field == "details"
        with pytest.raises(ValidationError) as error:
            record(db=db, clock=clock, actor=" ", action="x.y", object_type="t")
        assert error.value.field == "actor"
        with pytest.raises(ValidationError) as error:
            record(db=db, clock=clock, actor="a", action="x" * 101, object_type="t")
        assert error.value.field == "action"


def test_entries_filter_by_object_actor_and_time(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    with sessions() as db:
        assert [e.seq for e in entries(db=db, object_type="resident", object_id="3")] == [3]
        assert [e.seq for e in entries(db=db, actor="analyst0")] == [2, 4, 6]
        assert [e.seq for e in entries(db=db, since=START + timedelta(seconds=5))] == [5, 6]
        assert [e.seq for e in entries(db=db, limit=2, newest_first=True)] == [6, 5]
        assert entries(db=db, object_id="3")[0].purpose == "handling incident 7"


WRITER = """
import sys, time
from pathlib import Path
from core.audit import record
from core.clock import SystemClock
from core.config import load_settings
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work

data_dir, name, count, url = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
settings = load_settings(environment="test", data_dir=data_dir, database_url=url or None)
engine = create_db_engine(settings)
sessions = create_session_factory(engine)
Path(data_dir, f"ready-{name}").touch()
while not Path(data_dir, "go").exists():
    time.sleep(0.01)
for i in range(count):
    with unit_of_work(sessions) as db:
        record(db=db, clock=SystemClock(), actor=name, action="test.written",
               object_type="test", object_id=str(i))
engine.dispose()
"""


def test_concurrent_writers_keep_one_valid_chain(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)  # PostgreSQL runs create no SQLite file here
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data_dir), name, "40", settings.database_url or ""],
            cwd=REPO_ROOT,
        )
        for name in ("w1", "w2")
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((data_dir / f"ready-{n}").exists() for n in ("w1", "w2")):
            assert time.monotonic() < deadline, "writers did not start"
            time.sleep(0.01)
        (data_dir / "go").touch()
        assert [writer.wait(timeout=60) for writer in writers] == [0, 0]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    result = _verify(sessions)
    assert result.ok and result.entries == 80
    with sessions() as db:
        actors = [entry.actor for entry in entries(db=db)]
    assert actors.count("w1") == 40 and actors.count("w2") == 40
