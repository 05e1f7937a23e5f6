"""Automatic pickup of playbook hand-offs: each pending hand-off opens one breach, once.

A playbook's `handoff` step leaves a pending hand-off; the `breach.accept_handoffs` beat task
calls `accept_pending_handoffs`. Opening the breach and accepting the hand-off happen in one
savepoint of the caller's unit of work, and an incident that already has a breach (opened by
hand, or by an earlier attempt) is linked instead of opened twice, so repeats and racing
workers change nothing.
The breach keeps the incident's exercise id; its clocks start when the hand-off was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.errors import ConflictError, NotFoundError, ValidationError
from playbooks import service
from playbooks.breach.models import Breach
from playbooks.breach.register import log_change, open_from_incident

ACTOR = "system:handoff"


@dataclass(frozen=True, slots=True)
class _Pending:
    handoff_id: int
    incident_id: int
    requested_at: datetime
    reason: str


def accept_pending_handoffs(*, db: Session, clock: Clock, settings: Settings) -> list[Breach]:
    """Open (or link) a breach for every pending breach hand-off; returns the breaches taken."""
    pending = [
        _Pending(h.id, h.incident_id, h.requested_at, h.reason)
        for h in service.handoffs_pending(db=db, target="breach")
    ]
    taken = []
    for item in pending:
        breach = _take(db=db, clock=clock, settings=settings, item=item)
        if breach is not None:
            taken.append(breach)
    return taken


def breach_for_incident(*, db: Session, incident_id: int) -> Breach | None:
    """The (first) breach opened for an incident, if any."""
    return db.scalar(
        select(Breach)
        .where(Breach.origin == "incident", Breach.origin_ref == str(incident_id))
        .order_by(Breach.id)
    )


def _take(*, db: Session, clock: Clock, settings: Settings, item: _Pending) -> Breach | None:
    # A savepoint per hand-off: one taken by another worker meanwhile undoes only its own rows.
    try:
        with db.begin_nested():
            return _open_or_link(db=db, clock=clock, settings=settings, item=item)
    except ConflictError:
        return None  # another worker took it between our read and now; its breach stands


def _open_or_link(*, db: Session, clock: Clock, settings: Settings, item: _Pending) -> Breach:
    if db.get_bind().dialect.name == "postgresql":
        # SQLite serialises writers already; elsewhere two workers must not both open one.
        db.execute(text("SELECT pg_advisory_xact_lock(7331, :id)"), {"id": item.handoff_id})
    breach = breach_for_incident(db=db, incident_id=item.incident_id)
    if breach is None:
        incident = service.get_incident(db=db, incident_id=item.incident_id)
        # Hosts only: other observables (users, pseudonyms) are people, not systems.
        observables = service.observables_of(db=db, incident_id=incident.id)
        hosts = [o.value for o in observables if o.kind == "host"]
        summary = f"Incident #{incident.id}: {incident.title}"
        if item.reason.strip():
            summary += f"\nOverdracht: {item.reason.strip()}"
        breach = open_from_incident(
            db=db, clock=clock, settings=settings, actor=ACTOR, incident_id=str(incident.id),
            summary=summary, aware_at=min(item.requested_at, clock.now()),
            systems=[h for h in hosts if h], exercise_id=incident.exercise_id,
        )  # fmt: skip
    log_change(
        db=db, clock=clock, breach=breach, actor=ACTOR, action="handoff_accepted",
        field="origin", after={"handoff_id": item.handoff_id, "incident_id": item.incident_id},
    )  # fmt: skip
    service.accept_handoff(db=db, clock=clock, handoff_id=item.handoff_id, actor=ACTOR)
    return breach


def open_for_incident(
    *, db: Session, clock: Clock, settings: Settings, actor: str, incident_id: int, title: str = ""
) -> Breach:
    """The DPO links a breach to an incident by hand: the incident's breach if it has one.

    Same prefill as a hand-off (title, hosts, Art. 30 register); the incident's exercise id is
    kept, so a drill incident never yields a real breach.
    """
    existing = breach_for_incident(db=db, incident_id=incident_id)
    if existing is not None:
        return existing
    try:
        incident = service.get_incident(db=db, incident_id=incident_id)
    except NotFoundError:
        raise ValidationError("incident_id", f"incident {incident_id} does not exist") from None
    observables = service.observables_of(db=db, incident_id=incident.id)
    hosts = [o.value for o in observables if o.kind == "host"]
    summary = title.strip() or f"Incident #{incident.id}: {incident.title}"
    return open_from_incident(
        db=db, clock=clock, settings=settings, actor=actor, incident_id=str(incident.id),
        summary=summary, systems=[h for h in hosts if h], exercise_id=incident.exercise_id,
    )  # fmt: skip
