"""The access report ("who viewed my data", CJEU C-579/21) of one data subject: logic only.

Its sources are the read audit (`core.privacy.read_audit`: reads in Dijkwacht itself), the
municipal application access logs (`app_audit.*` events) and Logboek Dataverwerkingen records
(`ldv.*` events), all naming the data subject by pseudonym. It reads only the audit log and the
event store, passed in; the names of LDV partners come in as a mapping (`ldv.service`).

Following C-579/21, a resident learns when their data were consulted, by which department and
role, and for which purpose; the names of employees are not part of the right of access by
default and appear only when the DPO decides so (the decision and its reason are audited by
the caller). A record belongs to the report only when it names exactly this pseudonym, so the
report can never contain another data subject's reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from core.audit import AuditEntry
from core.events import get_field
from core.privacy.pseudonyms import PSEUDONYM_RE
from core.privacy.read_audit import READ_ACTION, SUBJECTS_KEY
from core.privacy.reidentification import VERIFIED_ACTION
from core.store.base import EventQuery, EventStore

# Audit actions that are reads of a data subject's data; each names its data subjects in
# `details["subject_pseudonyms"]` (see core.privacy.read_audit).
READ_ACTIONS = frozenset({READ_ACTION, VERIFIED_ACTION})
APP_AUDIT_PREFIX = "app_audit."
LDV_PREFIX = "ldv."
DIJKWACHT_SOURCE = "dijkwacht"
DIJKWACHT_DEPARTMENT = "Informatiebeveiliging (SOC)"
_PAGE = 500


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One consultation of the data subject's data, in the terms they are told."""

    at: datetime
    source: str
    action: str
    department: str | None
    role: str | None
    purpose: str | None
    record_type: str | None = None
    case_reference: str | None = None
    employee: str | None = None
    # LDV: the chain partner (organisation) that made the call, by name when registered.
    partner: str | None = None
    activity: str | None = None


@dataclass(frozen=True, slots=True)
class AccessReport:
    """Every read of one data subject (by pseudonym), oldest first."""

    pseudonym: str
    generated_at: datetime
    include_names: bool
    records: list[AccessRecord] = field(default_factory=list)


class AuditLike(Protocol):
    """What the report needs of an audit entry (read-only, so test doubles fit too)."""

    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def object_type(self) -> str: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


def records_from_audit(
    entries: Iterable[AuditLike], pseudonym: str, *, include_names: bool
) -> Iterator[AccessRecord]:
    """Reads recorded by Dijkwacht itself that name this pseudonym."""
    for entry in entries:
        subjects = entry.details.get(SUBJECTS_KEY) if isinstance(entry.details, Mapping) else None
        if entry.action not in READ_ACTIONS or not isinstance(subjects, list):
            continue
        if pseudonym not in subjects:
            continue
        role = entry.details.get("role")
        yield AccessRecord(
            at=entry.at,
            source=DIJKWACHT_SOURCE,
            action=entry.action,
            department=DIJKWACHT_DEPARTMENT,
            role=role if isinstance(role, str) else None,
            purpose=entry.purpose,
            record_type=entry.object_type,
            employee=entry.actor if include_names else None,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def records_from_events(
    events: Iterable[Mapping[str, Any]],
    pseudonym: str,
    *,
    include_names: bool,
    partner_names: Mapping[str, str] | None = None,
) -> Iterator[AccessRecord]:
    """Successful accesses to this data subject in the municipal application logs (`app_audit.*`)
    and in Logboek Dataverwerkingen records (`ldv.*`, with the calling partner's name)."""
    for event in events:
        dataset = get_field(event, "event.dataset")
        if not isinstance(dataset, str):
            continue
        if dataset.startswith(LDV_PREFIX):
            found = _ldv_record(event, pseudonym, include_names, partner_names or {})
            if found is not None:
                yield found
            continue
        if not dataset.startswith(APP_AUDIT_PREFIX):
            continue
        if get_field(event, "dijkwacht.subject.pseudonym") != pseudonym:
            continue
        if get_field(event, "event.outcome") not in (None, "success"):
            continue  # a refused access disclosed nothing
        at = _parse_time(get_field(event, "@timestamp"))
        if at is None:
            continue
        roles = get_field(event, "user.roles")
        role = ", ".join(str(r) for r in roles) if isinstance(roles, list) and roles else None
        employee = _text(get_field(event, "user.name")) or _text(get_field(event, "user.id"))
        yield AccessRecord(
            at=at,
            source=dataset.removeprefix(APP_AUDIT_PREFIX),
            action=_text(get_field(event, "event.action")) or "access",
            department=_text(get_field(event, "dijkwacht.actor.department")),
            role=role,
            purpose=_text(get_field(event, "dijkwacht.case.purpose")),
            record_type=_text(get_field(event, "dijkwacht.subject.record_type")),
            case_reference=_text(get_field(event, "dijkwacht.case.reference")),
            employee=employee if include_names else None,
        )


def _ldv_record(
    event: Mapping[str, Any],
    pseudonym: str,
    include_names: bool,
    partner_names: Mapping[str, str],
) -> AccessRecord | None:
    if get_field(event, "dijkwacht.ldv.data_subject.pseudonym") != pseudonym:
        return None
    if get_field(event, "event.outcome") == "failure":
        return None  # a failed processing disclosed nothing
    at = _parse_time(get_field(event, "@timestamp"))
    if at is None:
        return None
    entity = _text(get_field(event, "dijkwacht.ldv.foreign_operation.entity"))
    partner = None
    if entity is not None:
        partner = (
            partner_names.get(entity)
            or _text(get_field(event, "dijkwacht.ldv.partner.name"))
            or entity
        )
    roles = get_field(event, "user.roles")
    role = ", ".join(str(r) for r in roles) if isinstance(roles, list) and roles else None
    return AccessRecord(
        at=at,
        source=_text(get_field(event, "dijkwacht.ldv.resource.system")) or "ldv",
        action=_text(get_field(event, "event.action")) or "access",
        department=None,
        role=role,
        purpose=_text(get_field(event, "dijkwacht.case.purpose")),
        employee=_text(get_field(event, "user.id")) if include_names else None,
        partner=partner,
        activity=_text(get_field(event, "dijkwacht.ldv.processing_activity_id")),
    )


def build_report(
    *,
    pseudonym: str,
    audit_entries: Iterable[AuditLike],
    events: Iterable[Mapping[str, Any]],
    include_names: bool,
    generated_at: datetime,
    partner_names: Mapping[str, str] | None = None,
) -> AccessReport:
    """Combine the sources into one report, oldest first; pure, so it is property-tested."""
    records = [
        *records_from_audit(audit_entries, pseudonym, include_names=include_names),
        *records_from_events(
            events, pseudonym, include_names=include_names, partner_names=partner_names
        ),
    ]
    records.sort(key=lambda r: (r.at, r.source, r.action))
    return AccessReport(pseudonym, generated_at, include_names, records)


def audit_reads_of(*, db: Session, pseudonym: str) -> list[AuditEntry]:
    """Audit entries that may name this pseudonym (exact filtering is `records_from_audit`)."""
    if not PSEUDONYM_RE.fullmatch(pseudonym):
        return []
    query = (
        select(AuditEntry)
        .where(AuditEntry.action.in_(sorted(READ_ACTIONS)))
        .where(cast(AuditEntry.details, Text).contains(pseudonym, autoescape=True))
        .order_by(AuditEntry.seq)
    )
    return list(db.scalars(query))


def app_audit_events_of(
    *, store: EventStore, pseudonym: str, field: str = "dijkwacht.subject.pseudonym"
) -> Iterator[Mapping[str, Any]]:
    """Every stored event whose subject is this pseudonym, paged so memory stays flat."""
    offset = 0
    while True:
        page = store.search(
            EventQuery(
                filters={field: pseudonym},
                limit=_PAGE,
                offset=offset,
                order="asc",
            )
        )
        for stored in page:
            yield stored.event
        if len(page) < _PAGE:
            return
        offset += _PAGE


def access_report(
    *,
    db: Session,
    store: EventStore,
    pseudonym: str,
    include_names: bool,
    generated_at: datetime,
    partner_names: Mapping[str, str] | None = None,
) -> AccessReport:
    """The report for one data subject's pseudonym from the audit log and the event store (app
    audit lines and LDV records both carry `dijkwacht.subject.pseudonym`)."""
    return build_report(
        pseudonym=pseudonym,
        audit_entries=audit_reads_of(db=db, pseudonym=pseudonym),
        events=app_audit_events_of(store=store, pseudonym=pseudonym),
        include_names=include_names,
        generated_at=generated_at,
        partner_names=partner_names,
    )
