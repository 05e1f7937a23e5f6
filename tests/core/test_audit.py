"""The keyed audit chain: a clean chain verifies; tampering is found at the right entry, also
when the attacker re-chains the plain hashes (they lack the audit key)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.audit import (
    GENESIS_HASH,
    AuditEntry,
    VerifyResult,
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


def _rechain(settings: Settings, sessions: sessionmaker[Session], *, renumber: bool) -> None:
    """What an attacker without the key does after deleting or inserting rows: recompute every
    prev_hash and hash with the public `entry_hash` (and close seq gaps when `renumber`)."""
    with sessions() as db:
        chain = [
            {
                c: getattr(e, c)
                for c in (
                    "seq",
                    "at",
                    "actor",
                    "action",
                    "object_type",
                    "object_id",
                    "purpose",
                    "details",
                )
            }
            for e in entries(db=db)
        ]
    prev, updates = GENESIS_HASH, []
    for position, fields in enumerate(chain, start=1):
        old_seq = fields["seq"]
        if renumber:
            fields["seq"] = position
        new_hash = entry_hash(**fields, prev_hash=prev)
        updates.append(
            f"UPDATE audit_log SET seq = {fields['seq']}, prev_hash = '{prev}', "
            f"hash = '{new_hash}' WHERE seq = {old_seq}"
        )
        prev = new_hash
    _tamper(settings, *updates)


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


def test_deleted_entry_rechained_without_the_key_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """The issue's attack: delete an entry, renumber and re-chain the rest with entry_hash."""
    _write_chain(sessions, clock)
    _tamper(settings, "DELETE FROM audit_log WHERE seq = 3")
    _rechain(settings, sessions, renumber=True)
    with sessions() as db:
        chain = entries(db=db)
    # The plain chain is perfect again: only the MAC gives the attack away.
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in pairwise(chain))
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 3 and result.entries == 2
    assert result.bad_action == "incident.updated"  # the old seq 4, moved up into the gap
    assert result.bad_at == START + timedelta(seconds=4)
    assert result.reason is not None and "MAC does not match" in result.reason


def test_deleted_entry_rechained_keeping_seq_is_a_gap(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    _tamper(settings, "DELETE FROM audit_log WHERE seq = 3")
    _rechain(settings, sessions, renumber=False)
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 4
    assert result.reason is not None and "seq 3 missing" in result.reason


def test_inserted_entry_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    # Make room after seq 3 (highest first, so the primary key never collides), then insert a
    # forged entry copying seq 3's shape, and re-chain everything with plain hashes.
    shifts = [f"UPDATE audit_log SET seq = seq + 1 WHERE seq = {n}" for n in (6, 5, 4)]
    forged = (
        "INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, purpose, "
        "details, prev_hash, hash, mac) SELECT 4, at, 'mallory', action, object_type, "
        "object_id, purpose, details, prev_hash, hash, mac FROM audit_log WHERE seq = 3"
    )
    _tamper(settings, *shifts, forged)
    _rechain(settings, sessions, renumber=False)
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 4 and result.entries == 3
    assert result.reason is not None and "MAC does not match" in result.reason


def test_appended_entry_without_a_mac_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock, n=3)
    with sessions() as db:
        last = entries(db=db)[-1]
    fields: dict[str, Any] = {
        "seq": 4,
        "at": last.at,
        "actor": "mallory",
        "action": "x.y",
        "object_type": "t",
        "object_id": None,
        "purpose": None,
        "details": {},
    }
    forged = entry_hash(**fields, prev_hash=last.hash)
    with sessions() as db:
        db.add(AuditEntry(**fields, prev_hash=last.hash, hash=forged, mac=None))
        db.commit()
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 4 and result.bad_action == "x.y"
    assert result.reason is not None and "MAC missing" in result.reason


def test_edited_and_rechained_entry_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    _tamper(settings, "UPDATE audit_log SET actor = 'someone_else' WHERE seq = 5")
    _rechain(settings, sessions, renumber=False)
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 5 and result.entries == 4
    assert result.reason is not None and "MAC does not match" in result.reason


def test_reordered_and_rechained_entries_are_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock)
    _tamper(
        settings,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 100",
    )
    _rechain(settings, sessions, renumber=False)
    result = _verify(sessions)
    assert not result.ok and result.bad_seq == 2 and result.entries == 1
    assert result.reason is not None and "MAC does not match" in result.reason


def test_a_chain_is_only_valid_under_its_own_key(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write_chain(sessions, clock, n=2)
    with sessions() as db:
        assert verify(db=db).ok
        result = verify(db=db, key=b"another deployment's key" * 2)
    assert not result.ok and result.bad_seq == 1
    assert result.reason is not None and "MAC does not match" in result.reason


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
        _write_chain(sessions, clock, n=3)
        result = _verify(sessions)
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
    result = _verify(sessions)
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
