"""The keyed audit chain under attack: a clean chain verifies; tampering is found at the right
entry, also when the attacker re-chains the plain hashes (they lack the audit key)."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.audit import (
    GENESIS_HASH,
    AuditEntry,
    entries,
    entry_hash,
    verify,
)
from core.clock import FrozenClock
from core.config import Settings
from tests.core.audit_chain import START, rechain, tamper, verify_chain, write_chain


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (a fresh schema per test)."""
    return db_settings


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def test_a_clean_chain_verifies(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    with sessions() as db:
        chain = entries(db=db)
    assert [entry.seq for entry in chain] == [1, 2, 3, 4, 5, 6]
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(chain))
    assert chain[0].at == START + timedelta(seconds=1)
    result = verify_chain(sessions)
    assert result.ok and result.entries == 6 and result.head_hash == chain[-1].hash
    assert result.bad_seq is None


def test_empty_log_is_intact(sessions: sessionmaker[Session]) -> None:
    result = verify_chain(sessions)
    assert result.ok and result.entries == 0 and result.head_hash == GENESIS_HASH


def test_modified_details_fail_at_that_entry(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    tamper(settings, """UPDATE audit_log SET details = '{"i": 99}' WHERE seq = 4""")
    result = verify_chain(sessions)
    assert not result.ok
    assert result.bad_seq == 4 and result.entries == 3
    assert result.reason is not None and "content modified" in result.reason
    assert result.bad_action == "incident.updated"
    assert result.bad_at == START + timedelta(seconds=4)


def test_deleted_entry_fails_at_the_next_entry(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    tamper(settings, "DELETE FROM audit_log WHERE seq = 3")
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 4
    assert result.reason is not None and "deleted" in result.reason and "seq 3" in result.reason


def test_deleting_and_renumbering_still_fails(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    tamper(
        settings,
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3",
    )
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 3


def test_swapped_entries_fail_at_the_first_of_them(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    columns = "at, actor, action, object_type, object_id, purpose, details, prev_hash, hash"
    tamper(
        settings,
        f"CREATE TABLE swap AS SELECT seq, {columns} FROM audit_log WHERE seq IN (2, 5)",
        "UPDATE audit_log SET (" + columns + ") = (SELECT " + columns + " FROM swap WHERE "
        "swap.seq = CASE audit_log.seq WHEN 2 THEN 5 ELSE 2 END) WHERE seq IN (2, 5)",
    )
    with sessions() as db:
        assert [e.object_id for e in entries(db=db)] == ["1", "5", "3", "4", "2", "6"]
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 2 and result.entries == 1
    assert result.reason is not None and "reordered" in result.reason
    assert "seq 5" in result.reason


def test_deleted_entry_rechained_without_the_key_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """The issue's attack: delete an entry, renumber and re-chain the rest with entry_hash."""
    write_chain(sessions, clock)
    tamper(settings, "DELETE FROM audit_log WHERE seq = 3")
    rechain(settings, sessions, renumber=True)
    with sessions() as db:
        chain = entries(db=db)
    # The plain chain is perfect again: only the MAC gives the attack away.
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in pairwise(chain))
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 3 and result.entries == 2
    assert result.bad_action == "incident.updated"  # the old seq 4, moved up into the gap
    assert result.bad_at == START + timedelta(seconds=4)
    assert result.reason is not None and "MAC does not match" in result.reason


def test_deleted_entry_rechained_keeping_seq_is_a_gap(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    tamper(settings, "DELETE FROM audit_log WHERE seq = 3")
    rechain(settings, sessions, renumber=False)
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 4
    assert result.reason is not None and "seq 3 missing" in result.reason


def test_inserted_entry_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    # Make room after seq 3 (highest first, so the primary key never collides), then insert a
    # forged entry copying seq 3's shape, and re-chain everything with plain hashes.
    shifts = [f"UPDATE audit_log SET seq = seq + 1 WHERE seq = {n}" for n in (6, 5, 4)]
    forged = (
        "INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, purpose, "
        "details, prev_hash, hash, mac) SELECT 4, at, 'mallory', action, object_type, "
        "object_id, purpose, details, prev_hash, hash, mac FROM audit_log WHERE seq = 3"
    )
    tamper(settings, *shifts, forged)
    rechain(settings, sessions, renumber=False)
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 4 and result.entries == 3
    assert result.reason is not None and "MAC does not match" in result.reason


def test_appended_entry_without_a_mac_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock, n=3)
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
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 4 and result.bad_action == "x.y"
    assert result.reason is not None and "MAC missing" in result.reason


def test_edited_and_rechained_entry_is_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    tamper(settings, "UPDATE audit_log SET actor = 'someone_else' WHERE seq = 5")
    rechain(settings, sessions, renumber=False)
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 5 and result.entries == 4
    assert result.reason is not None and "MAC does not match" in result.reason


def test_reordered_and_rechained_entries_are_named(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock)
    tamper(
        settings,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 100",
    )
    rechain(settings, sessions, renumber=False)
    result = verify_chain(sessions)
    assert not result.ok and result.bad_seq == 2 and result.entries == 1
    assert result.reason is not None and "MAC does not match" in result.reason


def test_a_chain_is_only_valid_under_its_own_key(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    write_chain(sessions, clock, n=2)
    with sessions() as db:
        assert verify(db=db).ok
        result = verify(db=db, key=b"another deployment's key" * 2)
    assert not result.ok and result.bad_seq == 1
    assert result.reason is not None and "MAC does not match" in result.reason
