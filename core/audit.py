"""The append-only, keyed hash chain of the audit log: who did and who *viewed* what, and why.

Every entry carries the hash of the one before it, and an HMAC-SHA256 of its own hash under
`audit_key`, a key kept in the secrets store and never in the database. The database refuses
UPDATE and DELETE on `audit_log` (triggers from migration 0001); someone with file access can
drop those triggers and recompute the plain hashes with `entry_hash`, but without the key the
MACs of the entries they rewrote no longer match, so `verify` names the first of them. Removing
the newest entries leaves a valid shorter chain: signed checkpoints that an independent party
keeps (`core.audit_checkpoint`) detect truncation below the newest checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import Clock
from core.errors import ConfigError, ValidationError
from core.store.relational import Base, UTCDateTime, engine_settings

GENESIS_HASH = "0" * 64
# Domain separation: this key signs audit entries and nothing else.
_MAC_CONTEXT = b"dijkwacht audit entry v1\x00"
# Key of the PostgreSQL transaction-level advisory lock that serialises audit writers.
_PG_CHAIN_LOCK_KEY = 0x44_4B_57_41  # "DKWA"

# Column sizes, checked before writing so a long value is a clear error, not a database one.
_LIMITS = {"actor": 200, "action": 100, "object_type": 100, "object_id": 200, "purpose": 500}


class AuditEntry(Base):
    """One audit record; `hash` covers every other field, including `seq` and `prev_hash`.

    `mac` is the HMAC of `hash` under the audit key. It is nullable only because migration
    0005 adds it to existing rows; `verify` treats a missing MAC as tampering.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(postgresql.JSONB(), "postgresql")
    )
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.seq} {self.action} {self.object_type}:{self.object_id}>"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of walking the chain; when not `ok`, the first bad entry and why."""

    ok: bool
    entries: int
    head_hash: str
    bad_seq: int | None = None
    bad_at: datetime | None = None
    bad_action: str | None = None
    reason: str | None = None


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    purpose: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over sorted-key JSON of every field; the format must never change silently."""
    canonical = json.dumps(
        {
            "seq": seq,
            "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "purpose": purpose,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entry_mac(key: bytes, hash_hex: str) -> str:
    """HMAC-SHA256 of an entry's hash: only a holder of the audit key can (re)write an entry."""
    return hmac.new(key, _MAC_CONTEXT + hash_hex.encode("ascii"), hashlib.sha256).hexdigest()


def audit_key(db: Session) -> bytes:
    """The audit key for the database `db` talks to, from the secrets store of its settings.

    The key travels with the engine (`create_db_engine` attaches the settings), so record()
    keeps its signature and no global is read. A foreign engine has no key: a clear error.
    """
    settings = engine_settings(db.get_bind())
    if settings is None:
        raise ConfigError(
            "audit_key: the session's engine was not built by create_db_engine(settings), "
            "so the audit key is unknown"
        )
    return settings.secret("audit_key").encode("utf-8")


def _hash_of(entry: AuditEntry, *, seq: int | None = None) -> str:
    return entry_hash(
        seq=entry.seq if seq is None else seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        purpose=entry.purpose,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )


def _normalised_details(details: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip through JSON so what we hash is exactly what the database gives back later.
    try:
        normalised = json.loads(json.dumps(details or {}, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError("details", f"must be JSON-serialisable: {exc}") from None
    if not isinstance(normalised, dict):
        raise ValidationError("details", "must be a mapping")
    return normalised


def _check_fields(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if name in ("actor", "action", "object_type") and not value.strip():
            raise ValidationError(name, "must not be empty")
        if len(value) > _LIMITS[name]:
            raise ValidationError(name, f"longer than {_LIMITS[name]} characters")


def _lock_chain(db: Session) -> None:
    """Serialise writers so two of them never both extend the same last entry.

    SQLite: the caller's write unit (`core.store.unit_of_work`) began with BEGIN IMMEDIATE and
    holds the database's one write lock already. PostgreSQL: a transaction-level advisory lock.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK_KEY})


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An audit entry checked and normalised, waiting for its place in the chain (`append`)."""

    actor: str
    action: str
    object_type: str
    object_id: str | None
    purpose: str | None
    details: dict[str, Any]
    key: bytes


def prepare(
    *,
    key: bytes,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> PendingEntry:
    """Validate the fields and normalise the details: everything that needs no write lock.

    A boundary that opens a write unit only for the entry (`core.privacy.read_audit`) calls this
    before the unit, so the lock is held for the chain step alone. ValidationError names the
    bad field.
    """
    _check_fields(
        {
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "purpose": purpose,
        }
    )
    return PendingEntry(
        actor, action, object_type, object_id, purpose, _normalised_details(details), key
    )


def append(*, db: Session, clock: Clock, pending: PendingEntry) -> AuditEntry:
    """Chain a prepared entry after the last one, in the caller's write unit (see `record`).

    The time is read here, under the chain's lock, so `at` never goes backwards along `seq`.
    """
    at = clock.now()
    if at.tzinfo is None:
        raise ValidationError("at", "clock returned a naive datetime; expected UTC")
    at = at.astimezone(UTC)

    _lock_chain(db)
    last = db.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last is not None else (1, GENESIS_HASH)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=pending.actor,
        action=pending.action,
        object_type=pending.object_type,
        object_id=pending.object_id,
        purpose=pending.purpose,
        details=pending.details,
        prev_hash=prev_hash,
    )
    entry.hash = _hash_of(entry)
    entry.mac = entry_mac(pending.key, entry.hash)
    db.add(entry)
    db.flush()
    return entry


def record(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's write unit; the boundary commits it with its change.

    Writing in the caller's transaction means the change and its audit entry land together or
    not at all. Call it inside `unit_of_work(factory)` (write): on SQLite that unit began with
    BEGIN IMMEDIATE, so the chain's last entry is read under the write lock. A deferred (read)
    transaction would have to upgrade to write here, which SQLite refuses at once with
    "database is locked"; an audited read therefore writes its entry in a write unit of its
    own (`core.privacy.read_audit`, which calls `prepare` before that unit and `append` in it).
    Should a stale reader race anyway, the primary key on `seq` refuses the second entry: the
    chain can fail a write but never fork.
    """
    pending = prepare(
        key=audit_key(db),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        purpose=purpose,
        details=details,
    )
    return append(db=db, clock=clock, pending=pending)


def _reordered_from(db: Session, entry: AuditEntry) -> int | None:
    """The seq this entry's content was written at, when it is intact but moved."""
    if entry.prev_hash == GENESIS_HASH:
        original = 1
    else:
        before = db.scalar(select(AuditEntry.seq).where(AuditEntry.hash == entry.prev_hash))
        if before is None:
            return None
        original = before + 1
    if original != entry.seq and _hash_of(entry, seq=original) == entry.hash:
        return original
    return None


def _problem(
    db: Session, key: bytes, entry: AuditEntry, expected_seq: int, prev_hash: str
) -> str | None:
    """Why `entry` breaks the chain, or None when it is sound; first failing check wins."""
    if entry.seq != expected_seq:
        missing = (
            f"seq {expected_seq}"
            if entry.seq == expected_seq + 1
            else f"seq {expected_seq}..{entry.seq - 1}"
        )
        return f"entry deleted: {missing} missing before this entry"
    if _hash_of(entry) != entry.hash:
        moved = _reordered_from(db, entry)
        if moved is not None:
            return f"entries reordered: this entry was written as seq {moved}"
        return "content modified: hash does not match the entry's fields"
    if entry.mac is None:
        return "MAC missing: entry was written without the audit key"
    if not hmac.compare_digest(entry.mac, entry_mac(key, entry.hash)):
        return "MAC does not match: entry was inserted, edited or re-chained without the audit key"
    if entry.prev_hash != prev_hash:
        return (
            "chain broken: prev_hash does not match the previous entry's hash "
            "(an entry before it was deleted, replaced or reordered)"
        )
    return None


def verify(*, db: Session, batch_size: int = 1000, key: bytes | None = None) -> VerifyResult:
    """Walk the whole chain in seq order; report the first bad entry and the reason.

    Checks per entry: seq follows the previous one (no gap), the hash matches the fields, the
    MAC matches the hash under the audit key (`key`, default: from the secrets store), and
    `prev_hash` is the previous entry's hash.
    """
    key = audit_key(db) if key is None else key
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    rows = db.scalars(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    )
    for entry in rows:
        problem = _problem(db, key, entry, expected_seq, prev_hash)
        if problem is not None:
            return VerifyResult(
                ok=False,
                entries=count,
                head_hash=prev_hash,
                bad_seq=entry.seq,
                bad_at=entry.at,
                bad_action=entry.action,
                reason=problem,
            )
        count += 1
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    return VerifyResult(ok=True, entries=count, head_hash=prev_hash)


def entries(
    *,
    db: Session,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[AuditEntry]:
    """Entries matching every given filter, in chain order; the basis of timelines."""
    query = select(AuditEntry)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.seq.desc() if newest_first else AuditEntry.seq)
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query))


VERIFIED_ACTION = "audit.verified"


@dataclass(frozen=True, slots=True)
class Verification:
    """One recorded run of `verify`: when, by whom, and what it found."""

    seq: int
    at: datetime
    actor: str
    ok: bool
    entries: int
    bad_seq: int | None
    reason: str | None


def record_verification(
    *, db: Session, clock: Clock, actor: str, result: VerifyResult
) -> AuditEntry:
    """Put a verification run on the record (in the caller's write unit), pass or fail.

    BIO2 8.15.06 asks that an official independent of operations checks the logs' integrity
    periodically; the record shows that it happened, who ran it and what it found. It is
    appended after the chain's head, so even a broken chain gets the failed run on record.
    """
    return record(
        db=db,
        clock=clock,
        actor=actor,
        action=VERIFIED_ACTION,
        object_type="audit_log",
        object_id=str(result.entries),
        details={
            "ok": result.ok,
            "entries": result.entries,
            "head_hash": result.head_hash,
            "bad_seq": result.bad_seq,
            "reason": result.reason,
        },
    )


def verifications(*, db: Session, since: datetime | None = None) -> list[Verification]:
    """Recorded verification runs since `since`, oldest first."""
    query = select(AuditEntry).where(AuditEntry.action == VERIFIED_ACTION)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return [
        Verification(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            ok=bool(entry.details.get("ok")),
            entries=int(entry.details.get("entries") or 0),
            bad_seq=entry.details.get("bad_seq"),
            reason=entry.details.get("reason"),
        )
        for entry in db.scalars(query.order_by(AuditEntry.seq))
    ]


def count(*, db: Session) -> int:
    """Number of entries in the log."""
    return db.scalar(select(func.count()).select_from(AuditEntry)) or 0
