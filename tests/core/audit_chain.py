"""Writing, tampering with and verifying an audit chain, for the audit log's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.audit import (
    GENESIS_HASH,
    VerifyResult,
    entries,
    entry_hash,
    record,
    verify,
)
from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def write_chain(sessions: sessionmaker[Session], clock: FrozenClock, n: int = 6) -> None:
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


def tamper(settings: Settings, *statements: str) -> None:
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


def rechain(settings: Settings, sessions: sessionmaker[Session], *, renumber: bool) -> None:
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
    tamper(settings, *updates)


def verify_chain(sessions: sessionmaker[Session]) -> VerifyResult:
    with sessions() as db:
        return verify(db=db)
