"""The audit log as its writers and readers meet it: the key stays secret, the database refuses
changes, `record` joins the caller's transaction and checks its input, entries filter, writers
in parallel keep one chain, and the migration keys what was there before. Tampering:
test_audit_tampering.py."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.audit import (
    GENESIS_HASH,
    AuditEntry,
    entries,
    entry_hash,
    entry_mac,
    record,
    verify,
)
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from core.store.relational import create_db_engine
from tests.core.audit_chain import START, verify_chain, write_chain

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (a fresh schema per test)."""
    return db_settings


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def test_the_key_stays_in_the_secrets_store(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The key is a 0600 file in the secrets store; no log line and no table holds it."""
    import logging

    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # logs SQL and parameters
    try:
        write_chain(sessions, clock, n=3)
        result = verify_chain(sessions)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert result.ok
    key = settings.secret("audit_key")
    key_file = settings.resolved_data_dir / "secrets" / "audit_key"
    assert key_file.read_text(encoding="utf-8") == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "INSERT INTO audit_log" in caplog.text  # the log did capture the writes
    assert key not in caplog.text
    assert key not in repr(settings)
    with sessions() as db:
        chain = entries(db=db)
        dumped = " ".join(repr(vars(entry)) for entry in chain)
        for table in ("users", "alembic_version"):
            dumped += repr(db.execute(text(f"SELECT * FROM {table}")).all())
    assert key not in dumped
    assert all(e.mac == entry_mac(key.encode(), e.hash) for e in chain)


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
    assert verify_chain(sessions).ok


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
    write_chain(sessions, clock)
    with sessions() as db:
        assert [e.seq for e in entries(db=db, object_type="resident", object_id="3")] == [3]
        assert [e.seq for e in entries(db=db, actor="analyst0")] == [2, 4, 6]
        assert [e.seq for e in entries(db=db, since=START + timedelta(seconds=5))] == [5, 6]
        assert [e.seq for e in entries(db=db, limit=2, newest_first=True)] == [6, 5]
        assert entries(db=db, object_id="3")[0].purpose == "handling incident 7"


WRITER = """
import sys, time
from pathlib import Path
from typing import Any
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
    result = verify_chain(sessions)
    assert result.ok and result.entries == 80
    with sessions() as db:
        actors = [entry.actor for entry in entries(db=db)]
    assert actors.count("w1") == 40 and actors.count("w2") == 40


def test_migration_macs_existing_entries_and_keeps_the_guard(db_settings: Settings) -> None:
    """Entries written before the key existed get their MAC at migration and verify after."""
    from core.store.relational import create_session_factory, migrate

    migrate(db_settings, "breach02")
    engine = create_db_engine(db_settings)
    prev = GENESIS_HASH
    try:
        with engine.begin() as connection:
            for seq in (1, 2, 3):
                fields: dict[str, Any] = {
                    "seq": seq,
                    "at": START,
                    "actor": "a",
                    "action": "old.entry",
                    "object_type": "t",
                    "object_id": None,
                    "purpose": None,
                    "details": {},
                }
                digest = entry_hash(**fields, prev_hash=prev)
                connection.execute(
                    text(
                        "INSERT INTO audit_log (seq, at, actor, action, object_type, details, "
                        "prev_hash, hash) VALUES (:seq, :at, 'a', 'old.entry', 't', '{}', "
                        ":prev, :hash)"
                    ),
                    {"seq": seq, "at": START.replace(tzinfo=None), "prev": prev, "hash": digest},
                )
                prev = digest
        migrate(db_settings)
        sessions = create_session_factory(engine)
        with sessions() as db:
            assert verify(db=db).ok and verify(db=db).entries == 3
            record(db=db, clock=FrozenClock(START), actor="a", action="new.entry", object_type="t")
            db.commit()
            assert verify(db=db).entries == 4
            with pytest.raises(DBAPIError, match="append-only"):
                db.execute(update(AuditEntry).values(actor="mallory"))
            db.rollback()
    finally:
        engine.dispose()


def test_a_foreign_engine_has_no_audit_key(settings: Settings, clock: FrozenClock) -> None:
    """An engine not built by create_db_engine(settings) cannot reach the secrets store."""
    from sqlalchemy import create_engine

    from core.errors import ConfigError
    from core.store.relational import migrate

    migrate(settings)
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as db, pytest.raises(ConfigError, match="audit_key: the session"):
            record(db=db, clock=clock, actor="a", action="x.y", object_type="t")
    finally:
        engine.dispose()
