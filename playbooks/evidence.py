"""Evidence files: stored content-addressed (SHA-256) in the data dir, with who added them.

The file name on disk is the hash, so the stored bytes cannot be swapped without the hash in
the database no longer matching; `verify_evidence` re-hashes every file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.errors import ValidationError
from playbooks.actions import evidence_dir
from playbooks.incidents import get_incident, log
from playbooks.models import Evidence

MAX_EVIDENCE_BYTES = 512 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def stored_path(settings: Settings, item: Evidence) -> Path:
    """Where an evidence item's bytes are on disk."""
    return evidence_dir(settings, item.incident_id) / "files" / item.sha256


def add_evidence(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    incident_id: int,
    filename: str,
    content: bytes,
    actor: str,
    description: str | None = None,
) -> Evidence:
    """Store a file for the incident with its SHA-256 and who added it."""
    name = _SAFE_NAME.sub("_", Path(filename).name).strip()
    if not name or name in (".", ".."):
        raise ValidationError("filename", "must name a file")
    if len(content) > MAX_EVIDENCE_BYTES:
        raise ValidationError("content", f"larger than {MAX_EVIDENCE_BYTES} bytes")
    get_incident(db=db, incident_id=incident_id)
    digest = hashlib.sha256(content).hexdigest()
    target = evidence_dir(settings, incident_id) / "files" / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    item = Evidence(
        incident_id=incident_id,
        filename=name[:255],
        sha256=digest,
        size=len(content),
        description=description,
        added_by=actor,
        added_at=clock.now(),
    )
    db.add(item)
    db.flush()
    log(
        db=db,
        clock=clock,
        incident_id=incident_id,
        actor=actor,
        action="incident.evidence_added",
        evidence_id=item.id,
        filename=item.filename,
        sha256=digest,
        size=item.size,
    )
    db.flush()
    return item


def list_evidence(*, db: Session, incident_id: int) -> list[Evidence]:
    """The incident's evidence items, oldest first."""
    return list(
        db.scalars(
            select(Evidence).where(Evidence.incident_id == incident_id).order_by(Evidence.id)
        )
    )


def read_evidence(*, settings: Settings, item: Evidence) -> bytes:
    """The stored bytes; ValidationError when they no longer match the recorded hash."""
    data = stored_path(settings, item).read_bytes()
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise ValidationError("sha256", f"evidence {item.id} ({item.filename}) was altered")
    return data
