"""Incidents: open, read, the status workflow, assignee, severity, comments and the timeline.

Every change is written to the audit log with the change itself (`core.audit.record` in the
same transaction); the timeline is that log read back. Functions that change state flush;
the boundary (view, task, command) commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.accounts.models import User
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from playbooks.models import Comment, Incident, IncidentAlert
from playbooks.schemas import SEVERITIES, TimelineEntry

OBJECT_TYPE = "incident"
STATUSES = ("new", "in_progress", "contained", "resolved", "closed")
# Forward one phase, or straight to closed (false positive, duplicate); closed may reopen to
# in_progress when new facts turn up. Anything else is refused with the from/to named.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"in_progress", "closed"}),
    "in_progress": frozenset({"contained", "closed"}),
    "contained": frozenset({"resolved", "closed"}),
    "resolved": frozenset({"closed"}),
    "closed": frozenset({"in_progress"}),
}
OPEN_STATUSES = ("new", "in_progress", "contained", "resolved")
CLOSE_REASONS = ("resolved", "false_positive", "duplicate", "risk_accepted", "merged")
MAX_REASON = 2000


def _text(field: str, value: str, *, limit: int) -> str:
    clean = value.strip()
    if not clean:
        raise ValidationError(field, "must not be empty")
    if len(clean) > limit:
        raise ValidationError(field, f"longer than {limit} characters")
    return clean


def severity_rank(severity: str) -> int:
    """Index in SEVERITIES; an unknown severity is a ValidationError."""
    if severity not in SEVERITIES:
        raise ValidationError("severity", f"must be one of {', '.join(SEVERITIES)}")
    return SEVERITIES.index(severity)


def log(
    *, db: Session, clock: Clock, incident_id: int, actor: str, action: str, **details: Any
) -> None:
    """One timeline entry for the incident, in the caller's transaction."""
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=str(incident_id),
        details=details,
    )


def new_incident(
    *,
    db: Session,
    clock: Clock,
    title: str,
    severity: str,
    actor: str,
    routing_key: str | None = None,
    playbook_id: str | None = None,
    personal_data: bool = False,
    exercise_id: str | None = None,
) -> Incident:
    """Add an incident to the session and log it, without committing (routing builds on it)."""
    severity_rank(severity)
    now = clock.now()
    incident = Incident(
        title=_text("title", title, limit=300),
        severity=severity,
        status="new",
        created_by=actor,
        created_at=now,
        updated_at=now,
        routing_key=routing_key,
        playbook_id=playbook_id,
        personal_data=personal_data,
        exercise_id=exercise_id,
        escalated=False,
    )
    db.add(incident)
    db.flush()
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor=actor,
        action="incident.created",
        title=incident.title,
        severity=severity,
        playbook=playbook_id,
        exercise_id=exercise_id,
    )
    return incident


def create_incident(
    *,
    db: Session,
    clock: Clock,
    title: str,
    severity: str,
    actor: str,
    personal_data: bool = False,
    exercise_id: str | None = None,
) -> Incident:
    """Open an incident by hand."""
    incident = new_incident(
        db=db,
        clock=clock,
        title=title,
        severity=severity,
        actor=actor,
        personal_data=personal_data,
        exercise_id=exercise_id,
    )
    db.flush()
    return incident


def get_incident(*, db: Session, incident_id: int) -> Incident:
    """The incident or NotFoundError."""
    incident = db.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} not found")
    return incident


def _filtered(
    query: Any,
    statuses: Sequence[str],
    assignee: str | None,
    start: datetime | None,
    end: datetime | None,
    severity: str | None = None,
) -> Any:
    if statuses:
        unknown = set(statuses) - set(STATUSES)
        if unknown:
            raise ValidationError("status", f"unknown {sorted(unknown)}; allowed: {STATUSES}")
        query = query.where(Incident.status.in_(statuses))
    if assignee is not None:
        query = query.where(Incident.assignee == assignee)
    if start is not None:
        query = query.where(Incident.created_at >= start)
    if end is not None:
        query = query.where(Incident.created_at < end)
    if severity is not None:
        severity_rank(severity)
        query = query.where(Incident.severity == severity)
    return query


def list_incidents(
    *,
    db: Session,
    statuses: Sequence[str] = (),
    assignee: str | None = None,
    limit: int = 100,
    offset: int = 0,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Incident]:
    """Incidents newest first, filtered by status, assignee and creation time [start, end)."""
    query = _filtered(select(Incident), statuses, assignee, start, end)
    query = query.order_by(Incident.created_at.desc(), Incident.id.desc())
    return list(db.scalars(query.limit(limit).offset(offset)))


def created_per_slice(
    *,
    db: Session,
    starts: Sequence[datetime],
    step: timedelta,
    statuses: Sequence[str] = (),
    assignee: str | None = None,
) -> dict[str, list[int]]:
    """Incidents created per slice [start, start + step) and severity, in one query.

    The list's histogram counted once per slice and severity before (96 queries,
    a third of the incidents page under bench/load.py); the range's creation times are few
    (incidents, not events), so they are read once and counted here.
    """
    counts: dict[str, list[int]] = {severity: [0] * len(starts) for severity in SEVERITIES}
    if not starts or step <= timedelta(0):
        return counts
    first, end = starts[0], starts[0] + step * len(starts)
    query = _filtered(
        select(Incident.severity, Incident.created_at), statuses, assignee, first, end
    )
    for severity, created in db.execute(query):
        if severity not in counts:
            continue
        if created.tzinfo is None:  # SQLite hands back naive UTC
            created = created.replace(tzinfo=UTC)
        index = int((created - first) / step)
        if 0 <= index < len(starts):
            counts[severity][index] += 1
    return counts


def alert_ids(*, db: Session, incident_id: int) -> list[str]:
    """Ids of the alerts grouped into the incident, oldest first."""
    rows = db.scalars(
        select(IncidentAlert.alert_id)
        .where(IncidentAlert.incident_id == incident_id)
        .order_by(IncidentAlert.alert_created_at, IncidentAlert.id)
    )
    return list(rows)


def incident_of_alert(*, db: Session, alert_id: str) -> int | None:
    """The incident an alert was grouped into, if any (the alert page links to it)."""
    return db.scalar(select(IncidentAlert.incident_id).where(IncidentAlert.alert_id == alert_id))


def change_status(
    *, db: Session, clock: Clock, incident_id: int, status: str, reason: str, actor: str
) -> Incident:
    """Move the incident along the workflow; the reason is kept on the timeline.

    Raises:
        ValidationError: unknown status or empty reason.
        ConflictError: the transition is not allowed (names from and to).
    """
    if status not in STATUSES:
        raise ValidationError("status", f"unknown status {status!r}; allowed: {STATUSES}")
    if status == "closed":  # the reason becomes the summary; `close` takes a closing reason
        return close(
            db=db,
            clock=clock,
            incident_id=incident_id,
            reason="resolved",
            summary=reason,
            actor=actor,
        )
    clean_reason = _text("reason", reason, limit=MAX_REASON)
    incident = get_incident(db=db, incident_id=incident_id)
    current = incident.status
    _check_transition(incident, status)
    now = clock.now()
    incident.status = status
    incident.updated_at = now
    _milestones(incident, status, now)
    return _changed(
        db, clock, incident, actor, "incident.status_changed", current, status, reason=clean_reason
    )


def _check_transition(incident: Incident, status: str) -> None:
    current = incident.status
    if incident.merged_into is not None:
        raise ConflictError(
            f"status: incident {incident.id} was merged into #{incident.merged_into}; work there"
        )
    if status not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current]))
        raise ConflictError(
            f"status: cannot go from {current!r} to {status!r} (allowed from {current}: {allowed})"
        )


def close(
    *,
    db: Session,
    clock: Clock,
    incident_id: int,
    reason: str,
    summary: str,
    actor: str,
) -> Incident:
    """Close with a closing reason (CLOSE_REASONS) and a summary of what was found and done."""
    if reason not in CLOSE_REASONS:
        raise ValidationError("close_reason", f"must be one of {', '.join(CLOSE_REASONS)}")
    clean_summary = _text("summary", summary, limit=MAX_REASON)
    incident = get_incident(db=db, incident_id=incident_id)
    current = incident.status
    _check_transition(incident, "closed")
    now = clock.now()
    incident.status = "closed"
    incident.close_reason = reason
    incident.close_summary = clean_summary
    incident.updated_at = now
    _milestones(incident, "closed", now)
    return _changed(
        db,
        clock,
        incident,
        actor,
        "incident.closed",
        current,
        "closed",
        close_reason=reason,
        summary=clean_summary,
    )


def _changed(
    db: Session,
    clock: Clock,
    incident: Incident,
    actor: str,
    action: str,
    before: Any,
    after: Any,
    **details: Any,
) -> Incident:
    """Log a change as from/to (plus `details`): how every incident edit ends."""
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor=actor,
        action=action,
        **{"from": before, "to": after, **details},
    )
    db.flush()
    return incident


def _milestones(incident: Incident, status: str, now: datetime) -> None:
    # First time past each milestone; a reopened incident keeps its first times but is open.
    if incident.acknowledged_at is None and status != "new":
        incident.acknowledged_at = now
    if incident.contained_at is None and status in ("contained", "resolved", "closed"):
        incident.contained_at = now
    if status == "closed":
        incident.closed_at = now
    elif incident.closed_at is not None:
        incident.closed_at = None


def check_assignee(*, db: Session, username: str) -> str:
    """The username when it names an existing, enabled account; else a ValidationError."""
    clean = _text("assignee", username, limit=64)
    account = db.scalar(select(User).where(User.username == clean))
    if account is None:
        raise ValidationError("assignee", f"no account named {clean!r}")
    if not account.active:
        raise ValidationError("assignee", f"account {clean!r} is disabled")
    return clean


def assign(
    *, db: Session, clock: Clock, incident_id: int, assignee: str | None, actor: str
) -> Incident:
    """Set or clear the assignee; only existing, enabled accounts can be assigned."""
    incident = get_incident(db=db, incident_id=incident_id)
    previous = incident.assignee
    incident.assignee = check_assignee(db=db, username=assignee) if assignee is not None else None
    incident.updated_at = clock.now()
    return _changed(db, clock, incident, actor, "incident.assigned", previous, incident.assignee)


def set_severity(
    *, db: Session, clock: Clock, incident_id: int, severity: str, reason: str, actor: str
) -> Incident:
    """Change the severity with a reason."""
    severity_rank(severity)
    clean_reason = _text("reason", reason, limit=MAX_REASON)
    incident = get_incident(db=db, incident_id=incident_id)
    previous = incident.severity
    incident.severity = severity
    incident.updated_at = clock.now()
    return _changed(
        db,
        clock,
        incident,
        actor,
        "incident.severity_changed",
        previous,
        severity,
        reason=clean_reason,
    )


def add_comment(*, db: Session, clock: Clock, incident_id: int, body: str, actor: str) -> Comment:
    """Add a comment."""
    clean = _text("body", body, limit=20_000)
    get_incident(db=db, incident_id=incident_id)
    comment = Comment(incident_id=incident_id, author=actor, body=clean, created_at=clock.now())
    db.add(comment)
    db.flush()
    log(
        db=db,
        clock=clock,
        incident_id=incident_id,
        actor=actor,
        action="incident.commented",
        comment_id=comment.id,
    )
    db.flush()
    return comment


def comments(*, db: Session, incident_id: int) -> list[Comment]:
    """The incident's comments, oldest first."""
    return list(
        db.scalars(select(Comment).where(Comment.incident_id == incident_id).order_by(Comment.id))
    )


def timeline(*, db: Session, incident_id: int) -> list[TimelineEntry]:
    """Everything that happened to the incident (and to incidents merged into it), oldest first.

    The audit log is append-only, so a merge does not move entries; they are read here.
    """
    get_incident(db=db, incident_id=incident_id)
    entries = [
        TimelineEntry(entry.seq, entry.at, entry.actor, entry.action, dict(entry.details))
        for one in (incident_id, *merged_ids(db=db, incident_id=incident_id))
        for entry in audit.entries(db=db, object_type=OBJECT_TYPE, object_id=str(one))
    ]
    return sorted(entries, key=lambda entry: entry.seq)


def merged_ids(*, db: Session, incident_id: int) -> list[int]:
    """Incidents merged into this one (directly or through another merge)."""
    found: list[int] = []
    frontier = [incident_id]
    while frontier:
        rows = list(db.scalars(select(Incident.id).where(Incident.merged_into.in_(frontier))))
        found.extend(rows)
        frontier = rows
    return found
