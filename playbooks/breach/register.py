"""The Art. 33(5) register: open, edit and move breaches, keeping every change as history.

Every write records who, when, what and before/after in `breach_changes` and in the audit
log, in the same transaction, so the register can show the AP how each decision came about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.config import Settings
from core.errors import NotFoundError, ValidationError
from core.store.base import AlertStore
from playbooks.breach import clocks, processing_register
from playbooks.breach.models import Breach, BreachChange
from playbooks.breach.schemas import BreachFields, parse
from playbooks.breach.states import State, check_transition

# Where an alert says its rule flags personal data (`dijkwacht.personal_data: true`).
PERSONAL_DATA_TAG = "dijkwacht.personal_data"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return clocks.iso(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def log_change(
    *,
    db: Session,
    clock: Clock,
    breach: Breach,
    actor: str,
    action: str,
    field: str | None = None,
    before: Any = None,
    after: Any = None,
    note: str = "",
) -> None:
    """Add one history row and its audit entry in the caller's transaction."""
    before, after = _jsonable(before), _jsonable(after)
    db.add(
        BreachChange(
            breach_id=breach.id,
            at=clock.now(),
            actor=actor,
            action=action,
            field=field,
            before=before,
            after=after,
            note=note,
        )
    )
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action=f"breach.{action}",
        object_type="breach",
        object_id=breach.reference,
        details={"field": field, "before": before, "after": after, "note": note[:500]},
    )


def _next_reference(db: Session, year: int, exercise: bool) -> str:
    prefix = f"{'OEF' if exercise else 'DL'}-{year}-"
    taken = db.scalar(select(func.count()).where(Breach.reference.like(f"{prefix}%"))) or 0
    return f"{prefix}{taken + 1:04d}"


def open_breach(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    actor: str,
    title: str,
    aware_at: datetime | None = None,
    fields: Mapping[str, Any] | None = None,
    origin: str = "manual",
    origin_ref: str | None = None,
    exercise_id: str | None = None,
) -> Breach:
    """Register a suspected breach by hand; the clocks start at `aware_at` (default: now).

    Every suspected breach goes in the register, reported or not (Art. 33(5)).
    """
    data = parse(BreachFields, {**(fields or {}), "title": title, "aware_at": aware_at})
    now = clock.now()
    aware = data.aware_at or now
    if aware > now:
        raise ValidationError("aware_at", "lies in the future")
    if origin not in ("manual", "incident", "alert"):
        raise ValidationError("origin", "must be manual, incident or alert")
    values = data.model_dump(exclude_none=True, exclude={"title", "aware_at"})
    breach = Breach(
        reference=_next_reference(db, clocks.local(aware, settings).year, exercise_id is not None),
        title=data.title or title,
        state=State.REGISTERED.value,
        exercise_id=exercise_id,
        origin=origin,
        origin_ref=origin_ref,
        aware_at=aware,
        nis2_applies=settings.nis2_applies,
        created_by=actor,
        created_at=now,
        updated_at=now,
        **{
            "systems": [],
            "breach_types": [],
            "data_categories": [],
            "special_categories": [],
            "subject_categories": [],
            **values,
        },
    )
    db.add(breach)
    db.flush()
    log_change(
        db=db,
        clock=clock,
        breach=breach,
        actor=actor,
        action="opened",
        after={"origin": origin, "origin_ref": origin_ref, "exercise_id": exercise_id},
        note=breach.title,
    )
    clocks.schedule_reminders(db=db, breach=breach, settings=settings)
    db.flush()
    return breach


def open_from_incident(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    actor: str,
    incident_id: str,
    summary: str,
    aware_at: datetime | None = None,
    systems: Iterable[str] = (),
    exercise_id: str | None = None,
) -> Breach:
    """Open a breach for an incident; the caller passes what the incident service knows."""
    if not incident_id.strip():
        raise ValidationError("incident_id", "must not be empty")
    if not summary.strip():
        raise ValidationError("summary", "must not be empty")
    fields: dict[str, Any] = {"facts": summary, "systems": list(systems)}
    fields.update(processing_register.prefill(db=db, sources=fields["systems"]))
    return open_breach(
        db=db,
        clock=clock,
        settings=settings,
        actor=actor,
        title=summary.strip().splitlines()[0][:300],
        aware_at=aware_at,
        fields=fields,
        origin="incident",
        origin_ref=incident_id,
        exercise_id=exercise_id,
    )


def alert_flags_personal_data(body: Mapping[str, Any]) -> bool:
    """True when the alert's rule carries `dijkwacht.personal_data: true` (as field or tag)."""
    if body.get(PERSONAL_DATA_TAG) is True or body.get("personal_data") is True:
        return True
    nested = body.get("dijkwacht")
    if isinstance(nested, Mapping) and nested.get("personal_data") is True:
        return True
    tags = body.get("tags") or ()
    return isinstance(tags, list | tuple) and PERSONAL_DATA_TAG in tags


def open_from_alert(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    actor: str,
    alerts: AlertStore,
    alert_id: str,
    aware_at: datetime | None = None,
) -> Breach:
    """Open a breach from an alert whose rule flags personal data, prefilled from Art. 30."""
    alert = alerts.get(alert_id)
    if not alert_flags_personal_data(alert.body):
        raise ValidationError(
            "alert_id",
            f"alert {alert_id}: its rule does not flag personal data ({PERSONAL_DATA_TAG})",
        )
    sources = [s for s in (alert.host_name, *_alert_sources(alert.body)) if s]
    fields: dict[str, Any] = {
        "facts": f"Alert {alert.rule_title} ({alert.level}) op {alert.host_name or 'onbekend'}",
        "systems": sources,
        **processing_register.prefill(db=db, sources=sources),
    }
    return open_breach(
        db=db,
        clock=clock,
        settings=settings,
        actor=actor,
        title=f"Mogelijk datalek: {alert.rule_title}"[:300],
        aware_at=aware_at,
        fields=fields,
        origin="alert",
        origin_ref=alert.id,
        exercise_id=alert.exercise_id,
    )


def _alert_sources(body: Mapping[str, Any]) -> list[str]:
    found = []
    for key in ("source", "log_source", "event.dataset", "observer.name", "service.name"):
        value = body.get(key)
        if isinstance(value, str):
            found.append(value)
    return found


def get_breach(*, db: Session, breach_id: int) -> Breach:
    """The breach, or NotFoundError naming the id."""
    breach = db.get(Breach, breach_id)
    if breach is None:
        raise NotFoundError(f"breach {breach_id} does not exist")
    return breach


def list_breaches(
    *, db: Session, include_exercises: bool = True, states: Iterable[str] = ()
) -> list[Breach]:
    """Register entries, newest awareness first."""
    query = select(Breach).order_by(Breach.aware_at.desc(), Breach.id.desc())
    if not include_exercises:
        query = query.where(Breach.exercise_id.is_(None))
    wanted = list(states)
    if wanted:
        query = query.where(Breach.state.in_(wanted))
    return list(db.scalars(query))


def history(*, db: Session, breach_id: int) -> list[BreachChange]:
    """Every change of a breach, oldest first."""
    return list(
        db.scalars(
            select(BreachChange)
            .where(BreachChange.breach_id == breach_id)
            .order_by(BreachChange.id)
        )
    )


def update_breach(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    actor: str,
    breach_id: int,
    changes: Mapping[str, Any],
    note: str = "",
) -> Breach:
    """Change facts of a breach; each changed field becomes a history row with before/after."""
    data = parse(BreachFields, dict(changes))
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.state == State.CLOSED:
        raise ValidationError("state", "a closed breach cannot change; register a new one")
    if data.aware_at is not None and data.aware_at > clock.now():
        raise ValidationError("aware_at", "lies in the future")
    changed = False
    for name in data.model_fields_set:
        new = getattr(data, name)
        old = getattr(breach, name)
        if new == old:
            continue
        setattr(breach, name, new)
        log_change(
            db=db, clock=clock, breach=breach, actor=actor, action="updated",
            field=name, before=old, after=new, note=note,
        )  # fmt: skip
        changed = True
    if changed:
        breach.updated_at = clock.now()
        if "aware_at" in data.model_fields_set:
            clocks.schedule_reminders(db=db, breach=breach, settings=settings)
    db.flush()
    return breach


def transition(
    *,
    db: Session,
    clock: Clock,
    breach: Breach,
    actor: str,
    target: State,
    note: str = "",
) -> None:
    """Move `breach` to `target` in the caller's transaction, or raise IllegalTransition."""
    check_transition(breach.state, target)
    before = breach.state
    breach.state = target.value
    breach.updated_at = clock.now()
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="state",
        field="state", before=before, after=target.value, note=note,
    )  # fmt: skip


def start_assessment(
    *, db: Session, clock: Clock, actor: str, breach_id: int, note: str = ""
) -> Breach:
    """registered / no_notification / notification_due / not_a_breach -> assessing."""
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.state != State.REGISTERED and not note.strip():
        raise ValidationError("note", "say why the breach is reassessed (new facts?)")
    transition(db=db, clock=clock, breach=breach, actor=actor, target=State.ASSESSING, note=note)
    db.flush()
    return breach


def mark_not_a_breach(
    *, db: Session, clock: Clock, actor: str, breach_id: int, reason: str
) -> Breach:
    """The investigation showed no personal data was affected; the reason stays in the register."""
    if not reason.strip():
        raise ValidationError("reason", "say why this is not a personal-data breach")
    breach = get_breach(db=db, breach_id=breach_id)
    transition(
        db=db, clock=clock, breach=breach, actor=actor, target=State.NOT_A_BREACH, note=reason
    )
    breach.decision_reason = reason
    db.flush()
    return breach


def close_breach(
    *, db: Session, clock: Clock, actor: str, breach_id: int, note: str = ""
) -> Breach:
    """Close a handled breach; the remedial actions must be on record first (Art. 33(5))."""
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.state != State.NOT_A_BREACH and not breach.remedial_actions.strip():
        raise ValidationError("remedial_actions", "record the remedial actions before closing")
    transition(db=db, clock=clock, breach=breach, actor=actor, target=State.CLOSED, note=note)
    db.flush()
    return breach
