"""The chain partner register and the expected volume per logging system.

A partner is known by the entity URI its calls carry (`foreign_operation.entity`); the
processing activities agreed with it are register URIs. `export_context` writes what ingest
enrichment needs (`ldv_activities.csv`, `ldv_partners.csv`) into the context directory, which
`collectors.refresh_context` then validates and publishes to the collectors.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import NotFoundError, ValidationError
from ldv.models import Partner, Stream
from playbooks.breach.service import activities_by_uri

_URI = re.compile(r"(?:[a-z][a-z0-9+.-]*://[^\s/?#]+\S*|urn:[a-z0-9][a-z0-9-]{0,31}:\S+)", re.I)
_SYSTEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _uri(value: str, field: str) -> str:
    text = (value or "").strip()
    if len(text) > 500 or not _URI.fullmatch(text):
        raise ValidationError(field, "must be an absolute URI (https://... or urn:...)")
    return text


@dataclass(frozen=True)
class PartnerInput:
    """What the partner form and command send."""

    name: str
    entity_uri: str
    contact: str
    agreed_activities: list[str]
    read_api: str | None = None


def save_partner(
    *, db: Session, clock: Clock, actor: str, spec: PartnerInput, partner_id: int | None = None
) -> Partner:
    """Add a partner, or change one (`partner_id`); every field is checked and named."""
    name = " ".join(spec.name.split())
    if not 2 <= len(name) <= 200:
        raise ValidationError("name", "must be 2-200 characters")
    entity = _uri(spec.entity_uri, "entity_uri")
    contact = " ".join(spec.contact.split())
    if not 3 <= len(contact) <= 300:
        raise ValidationError("contact", "must be 3-300 characters (a mailbox or phone number)")
    agreed = []
    for index, uri in enumerate(spec.agreed_activities):
        if uri.strip():
            agreed.append(_uri(uri, f"agreed_activities[{index}]"))
    read_api = _uri(spec.read_api, "read_api") if spec.read_api and spec.read_api.strip() else None
    clash = db.scalar(select(Partner).where(Partner.entity_uri == entity))
    if partner_id is None:
        if clash is not None:
            raise ValidationError("entity_uri", "another partner already has this entity URI")
        row = Partner(name=name, entity_uri=entity, contact=contact, created_at=clock.now())
        db.add(row)
    else:
        row = get_partner(db=db, partner_id=partner_id)
        if clash is not None and clash.id != row.id:
            raise ValidationError("entity_uri", "another partner already has this entity URI")
        row.name, row.entity_uri, row.contact = name, entity, contact
    row.agreed_activities = sorted(set(agreed))
    row.read_api = read_api
    db.flush()
    audit.record(
        db=db, clock=clock, actor=actor, action="ldv.partner_saved", object_type="ldv_partner",
        object_id=str(row.id), details={"entity_uri": entity, "agreed": row.agreed_activities},
    )  # fmt: skip
    return row


def get_partner(*, db: Session, partner_id: int) -> Partner:
    row = db.get(Partner, partner_id)
    if row is None:
        raise NotFoundError(f"partner {partner_id} not found")
    return row


def list_partners(*, db: Session) -> list[Partner]:
    return list(db.scalars(select(Partner).order_by(Partner.name)))


def partner_names(*, db: Session) -> dict[str, str]:
    """Entity URI → partner name (the access report names partners with it)."""
    return {p.entity_uri: p.name for p in list_partners(db=db)}


def set_stream(*, db: Session, clock: Clock, actor: str, system: str, per_hour: int) -> Stream:
    """Set how many records per hour `system` sends when it logs everything (0 removes)."""
    if not _SYSTEM.fullmatch(system or ""):
        raise ValidationError("system", "letters, digits, '.', '_', '-' (the service.name)")
    if not 0 <= per_hour <= 10_000_000:
        raise ValidationError("expected_per_hour", "must be between 0 and 10000000")
    row = db.scalar(select(Stream).where(Stream.system == system))
    if row is None:
        row = Stream(system=system, expected_per_hour=per_hour)
        db.add(row)
    row.expected_per_hour = per_hour
    db.flush()
    audit.record(
        db=db, clock=clock, actor=actor, action="ldv.stream_saved", object_type="ldv_stream",
        object_id=system, details={"expected_per_hour": per_hour},
    )  # fmt: skip
    return row


def streams(*, db: Session) -> dict[str, int]:
    """System → expected records per hour (systems without an expectation are absent)."""
    return {
        s.system: s.expected_per_hour for s in db.scalars(select(Stream)) if s.expected_per_hour
    }


def _csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(header))
    writer.writerows(rows)
    return out.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(name, path)


def export_context(*, db: Session, directory: Path) -> tuple[int, int]:
    """Write `ldv_activities.csv` and `ldv_partners.csv` for enrichment; (activities, rows)."""
    directory.mkdir(parents=True, exist_ok=True)
    activities = activities_by_uri(db=db)
    _write_atomic(
        directory / "ldv_activities.csv",
        _csv(
            ("uri", "retired", "requires_subject"),
            (
                (uri, str(a.retired).lower(), str(a.requires_subject).lower())
                for uri, a in sorted(activities.items())
            ),
        ),
    )
    rows = [
        (p.entity_uri, p.name, activity)
        for p in list_partners(db=db)
        for activity in (p.agreed_activities or [""])
    ]
    _write_atomic(directory / "ldv_partners.csv", _csv(("entity", "name", "activity"), rows))
    return len(activities), len(rows)
