"""Signed audit checkpoints: truncation below a kept checkpoint is seen; bad files are named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session, sessionmaker

from core.audit import record
from core.audit_checkpoint import (
    FORMAT,
    create_checkpoint,
    parse_checkpoint,
    public_key_hex,
    verify_checkpoint,
)
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ConflictError, ValidationError
from core.store.relational import create_db_engine

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    return db_settings


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def _write(sessions: sessionmaker[Session], clock: FrozenClock, n: int) -> None:
    with sessions() as db:
        for i in range(n):
            clock.advance(timedelta(seconds=1))
            record(db=db, clock=clock, actor="a", action="case.viewed", object_type="case",
                   object_id=str(i))  # fmt: skip
            db.commit()


def _export(settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock) -> Any:
    with sessions() as db:
        document = create_checkpoint(db=db, clock=clock, settings=settings)
    # What the keeper stores and hands back: the JSON text, parsed again.
    return parse_checkpoint(json.dumps(document, indent=2))


def _check(settings: Settings, sessions: sessionmaker[Session], document: Any) -> Any:
    with sessions() as db:
        return verify_checkpoint(db=db, settings=settings, document=document)


def _delete_newest(settings: Settings, first_seq: int) -> None:
    """Truncation by someone with database rights: guard triggers dropped, newest rows gone."""
    _delete(settings, f"seq >= {first_seq}")


def _delete(settings: Settings, where: str) -> None:
    engine = create_db_engine(settings)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
            else:
                connection.exec_driver_sql(
                    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"
                )
            connection.exec_driver_sql(f"DELETE FROM audit_log WHERE {where}")
    finally:
        engine.dispose()


def test_a_checkpoint_holds_while_the_log_grows(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write(sessions, clock, 4)
    document = _export(settings, sessions, clock)
    assert document["format"] == FORMAT and document["seq"] == 4 and document["count"] == 4
    assert document["head_at"] == "2026-05-04T09:00:04.000Z"
    _write(sessions, clock, 2)
    result = _check(settings, sessions, document)
    assert result.ok and result.reason is None and result.chain.entries == 6


def test_the_signature_is_checkable_with_the_public_key_alone(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write(sessions, clock, 2)
    document = _export(settings, sessions, clock)
    assert document["public_key"] == public_key_hex(settings)
    body = {k: v for k, v in document.items() if k != "signature"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(document["public_key"]))
    public.verify(bytes.fromhex(document["signature"]), canonical)  # raises when wrong


def test_truncation_below_the_checkpoint_is_seen(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write(sessions, clock, 6)
    document = _export(settings, sessions, clock)
    _delete_newest(settings, first_seq=5)
    result = _check(settings, sessions, document)
    assert result.chain.ok and result.chain.entries == 4  # the shorter chain is valid on its own
    assert not result.ok and result.reason is not None
    assert "truncated" in result.reason and "ends at seq 4" in result.reason
    assert "seq 6" in result.reason


def test_truncation_hidden_by_new_entries_is_seen(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write(sessions, clock, 6)
    document = _export(settings, sessions, clock)
    _delete_newest(settings, first_seq=5)
    _write(sessions, clock, 3)  # the platform writes on; seq 6 exists again, with other content
    result = _check(settings, sessions, document)
    assert not result.ok and result.reason == "entry seq 6 differs from the checkpoint's head hash"


def test_an_altered_checkpoint_is_refused(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write(sessions, clock, 6)
    document = _export(settings, sessions, clock)
    _delete_newest(settings, first_seq=5)
    with sessions() as db:  # the attacker lowers the kept checkpoint to match
        lowered = create_checkpoint(db=db, clock=clock, settings=settings)
    forged = dict(document, seq=4, count=4, head_hash=lowered["head_hash"])
    result = _check(settings, sessions, forged)
    assert not result.ok and result.reason is not None and "signature" in result.reason


def test_a_checkpoint_of_another_platform_is_refused(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write(sessions, clock, 2)
    document = _export(settings, sessions, clock)
    other = settings.model_copy(
        update={"audit_signing_key": None, "data_dir": settings.data_dir / "o"}
    )
    result = _check(other, sessions, document)
    assert not result.ok and result.reason is not None and "another key" in result.reason


def test_no_checkpoint_of_a_broken_chain(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _write(sessions, clock, 3)
    _delete(settings, "seq = 1")
    with sessions() as db, pytest.raises(ConflictError, match="broken at seq 2"):
        create_checkpoint(db=db, clock=clock, settings=settings)


def test_an_empty_log_has_a_checkpoint_too(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    document = _export(settings, sessions, clock)
    assert document["seq"] == 0 and document["head_at"] == ""
    assert _check(settings, sessions, document).ok


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"seq": "4"}, "seq", "must be a int"),
        ({"seq": True}, "seq", "must be a int"),
        ({"head_hash": "ABC"}, "head_hash", "64 lowercase hex digits"),
        ({"format": "other/1"}, "format", "expected"),
        ({"created_at": "gisteren"}, "created_at", "ISO 8601"),
        ({"extra": 1}, "extra", "unknown field"),
        ({"count": 3}, "seq", "equal to count"),
    ],
)
def test_bad_checkpoint_files_name_the_field(
    change: dict[str, Any], field: str, problem: str
) -> None:
    good = {
        "format": FORMAT, "seq": 4, "count": 4, "head_hash": "a" * 64, "head_at": "",
        "created_at": "2026-05-04T09:00:00.000Z", "public_key": "b" * 64, "mac": "c" * 64,
        "signature": "d" * 128,
    }  # fmt: skip
    assert parse_checkpoint(json.dumps(good))["seq"] == 4
    with pytest.raises(ValidationError) as error:
        parse_checkpoint(json.dumps(good | change))
    assert error.value.field == field and problem in error.value.problem
    missing = {k: v for k, v in good.items() if k != "mac"}
    with pytest.raises(ValidationError, match="mac: missing"):
        parse_checkpoint(json.dumps(missing))
    with pytest.raises(ValidationError, match="not valid JSON"):
        parse_checkpoint(b"{not json")
