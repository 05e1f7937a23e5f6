"""Signed checkpoints of the audit chain, kept by a party outside the platform.

The keyed chain gives away every edit, insertion, deletion and re-chaining, but deleting the
newest entries leaves a valid, shorter chain. A checkpoint states "the log reached seq N with
head hash H": MACed under `audit_key` and signed with Ed25519 under `audit_signing_key`, then
handed to someone who keeps it (the DPO's archive, an auditor). `verify_checkpoint` later shows
the log still holds that entry unchanged, so truncation below a checkpoint is seen. Entries
newer than the newest checkpoint can still be removed unseen: export checkpoints often.

The signature covers the canonical JSON (sorted keys, no spaces, UTF-8) of every field except
`signature`; anyone with the public key can check it with any Ed25519 tool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditEntry, VerifyResult, audit_key, verify
from core.clock import Clock, utc_iso
from core.config import Settings
from core.errors import ConflictError, ValidationError

FORMAT = "dijkwacht-audit-checkpoint/1"
_SEED_CONTEXT = b"dijkwacht audit checkpoint signing v1\x00"
_MAC_CONTEXT = b"dijkwacht audit checkpoint v1\x00"
_HEX64 = frozenset("0123456789abcdef")
# Field -> expected type; every field is required and no other is allowed.
_FIELDS: dict[str, type] = {
    "format": str,
    "seq": int,
    "count": int,
    "head_hash": str,
    "head_at": str,
    "created_at": str,
    "public_key": str,
    "mac": str,
    "signature": str,
}


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    """Whether the log still holds the checkpoint, and the state of the chain as a whole."""

    ok: bool
    seq: int
    reason: str | None
    chain: VerifyResult


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The platform's Ed25519 key, derived from the `audit_signing_key` secret."""
    seed = hashlib.sha256(
        _SEED_CONTEXT + settings.secret("audit_signing_key").encode("utf-8")
    ).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(settings: Settings) -> str:
    """The raw 32-byte Ed25519 public key, hex: what the keeper of checkpoints pins."""
    public = signing_key(settings).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _mac(key: bytes, document: dict[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k not in ("mac", "signature")}
    return hmac.new(key, _MAC_CONTEXT + _canonical(body), hashlib.sha256).hexdigest()


def create_checkpoint(*, db: Session, clock: Clock, settings: Settings) -> dict[str, Any]:
    """A signed checkpoint of the current head; refused when the chain does not verify.

    Signing a broken chain would vouch for the tampering, so the chain is verified first.
    """
    chain = verify(db=db)
    if not chain.ok:
        raise ConflictError(
            f"audit log is broken at seq {chain.bad_seq} ({chain.reason}); "
            "no checkpoint is exported for a broken chain"
        )
    head = db.scalar(select(AuditEntry).where(AuditEntry.seq == chain.entries))
    document: dict[str, Any] = {
        "format": FORMAT,
        "seq": chain.entries,
        "count": chain.entries,
        "head_hash": chain.head_hash,
        "head_at": utc_iso(head.at) if head is not None else "",
        "created_at": utc_iso(clock.now()),
        "public_key": public_key_hex(settings),
    }
    document["mac"] = _mac(audit_key(db), document)
    body = {k: v for k, v in document.items() if k != "signature"}
    document["signature"] = signing_key(settings).sign(_canonical(body)).hex()
    return document


def parse_checkpoint(raw: bytes | str) -> dict[str, Any]:
    """The checkpoint document, or a ValidationError naming the field and the problem."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("checkpoint", f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValidationError("checkpoint", "must be a JSON object")
    for name, kind in _FIELDS.items():
        if name not in document:
            raise ValidationError(name, "missing")
        value = document[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValidationError(name, f"must be a {kind.__name__}, got {value!r:.40}")
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise ValidationError(unknown[0], "unknown field")
    if document["format"] != FORMAT:
        raise ValidationError("format", f"expected {FORMAT!r}, got {document['format']!r:.60}")
    if document["seq"] < 0 or document["count"] != document["seq"]:
        raise ValidationError("seq", "must be >= 0 and equal to count")
    for name, size in (("head_hash", 64), ("mac", 64), ("public_key", 64), ("signature", 128)):
        value = document[name]
        if len(value) != size or not set(value) <= _HEX64:
            raise ValidationError(name, f"must be {size} lowercase hex digits")
    try:
        datetime.fromisoformat(document["created_at"])
    except ValueError:
        raise ValidationError("created_at", "not an ISO 8601 time") from None
    return document


def verify_checkpoint(
    *, db: Session, settings: Settings, document: dict[str, Any]
) -> CheckpointResult:
    """Check the checkpoint's signature and MAC, then that the log still holds its head entry."""
    seq = int(document["seq"])
    chain = verify(db=db)

    def failed(reason: str) -> CheckpointResult:
        return CheckpointResult(ok=False, seq=seq, reason=reason, chain=chain)

    if document["public_key"] != public_key_hex(settings):
        return failed("signed by another key than this platform's audit_signing_key")
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        signing_key(settings).public_key().verify(
            bytes.fromhex(document["signature"]), _canonical(body)
        )
    except InvalidSignature:
        return failed("signature does not match: the checkpoint file was altered")
    if not hmac.compare_digest(document["mac"], _mac(audit_key(db), document)):
        return failed("MAC does not match: not made under this platform's audit_key")
    if not chain.ok and chain.bad_seq is not None and chain.bad_seq <= seq:
        return failed(f"chain broken at seq {chain.bad_seq} ({chain.reason})")
    if seq == 0:
        return CheckpointResult(ok=chain.ok, seq=seq, reason=None, chain=chain)
    head = db.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
    if head is None:
        last = db.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) or 0
        return failed(
            f"log truncated: it ends at seq {last}, the checkpoint saw seq {seq} "
            f"(head {document['head_hash'][:16]}…)"
        )
    if head != document["head_hash"]:
        return failed(f"entry seq {seq} differs from the checkpoint's head hash")
    return CheckpointResult(ok=chain.ok, seq=seq, reason=None, chain=chain)
