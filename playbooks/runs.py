"""Playbook runs: start, advance step by step, complete tasks and decisions, hand-offs, SLAs.

Steps run in order. Tasks, decisions, actions awaiting approval and actions in flight block
the steps after them; notifications, escalations and hand-offs finish at once. Service
functions return `Enqueue` items; the boundary (a Celery task, command or view) commits its
unit of work and then sends them, so a worker never sees a step its transaction has not saved.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from playbooks.incidents import get_incident, log
from playbooks.models import Handoff, Incident, PlaybookRun, RunStep
from playbooks.notify import queue_step_deliveries
from playbooks.schemas import LoadedPlaybook, OverdueStep

Enqueue = tuple[str, tuple[Any, ...]]
# The boundary's unit-of-work opener (e.g. `partial(unit_of_work, factory)`), handed to the few
# services that must commit between steps: a claim saved before a play or a send starts, and no
# transaction held open while the network is slow.
Units = Callable[[], AbstractContextManager[Session]]
DONE = frozenset({"done", "skipped"})
# States where a person must act; "manual" is a failed action turned into a manual task.
WAITING_FOR_PEOPLE = frozenset({"open", "awaiting_approval", "manual"})
IN_FLIGHT = frozenset({"queued", "running"})


def start_run(
    *, db: Session, clock: Clock, incident_id: int, loaded: LoadedPlaybook, actor: str
) -> tuple[PlaybookRun, list[Enqueue]]:
    """Create a run with all its steps and start the first ones."""
    run = new_run(db=db, clock=clock, incident_id=incident_id, loaded=loaded, actor=actor)
    work = _advance(db, clock, run)
    db.flush()
    return run, work


def new_run(
    *, db: Session, clock: Clock, incident_id: int, loaded: LoadedPlaybook, actor: str
) -> PlaybookRun:
    """Add a run and its steps to the session (no commit, no advance); routing builds on it."""
    incident = get_incident(db=db, incident_id=incident_id)
    playbook = loaded.playbook
    run = PlaybookRun(
        incident_id=incident.id,
        playbook_id=playbook.id,
        playbook_sha256=loaded.sha256,
        status="running",
        started_by=actor,
        started_at=clock.now(),
    )
    db.add(run)
    db.flush()
    for position, step in enumerate(playbook.steps):
        db.add(
            RunStep(
                run_id=run.id,
                step_id=step.id,
                position=position,
                kind=step.type,
                title=step.title,
                owner_role=step.owner_role,
                status="pending",
                spec=step.model_dump(mode="json"),
                result={},
            )
        )
    incident.playbook_id = playbook.id
    db.flush()
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor=actor,
        action="run.started",
        run_id=run.id,
        playbook=playbook.id,
        version=playbook.version,
        sha256=loaded.sha256,
    )
    return run


def get_run(*, db: Session, run_id: int) -> PlaybookRun:
    """The run or NotFoundError."""
    run = db.get(PlaybookRun, run_id)
    if run is None:
        raise NotFoundError(f"playbook run {run_id} not found")
    return run


def steps_of(*, db: Session, run_id: int) -> list[RunStep]:
    """The run's steps in playbook order."""
    return list(
        db.scalars(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.position))
    )


def runs_of(*, db: Session, incident_id: int) -> list[PlaybookRun]:
    """The incident's runs, oldest first."""
    return list(
        db.scalars(
            select(PlaybookRun)
            .where(PlaybookRun.incident_id == incident_id)
            .order_by(PlaybookRun.id)
        )
    )


def get_step(*, db: Session, run_step_id: int) -> RunStep:
    """The run step or NotFoundError."""
    step = db.get(RunStep, run_step_id)
    if step is None:
        raise NotFoundError(f"run step {run_step_id} not found")
    return step


def find_step(*, db: Session, run_id: int, step_id: str) -> RunStep:
    """A run's step by its playbook id, or NotFoundError."""
    step = db.scalar(select(RunStep).where(RunStep.run_id == run_id, RunStep.step_id == step_id))
    if step is None:
        raise NotFoundError(f"run {run_id} has no step {step_id!r}")
    return step


def advance(*, db: Session, clock: Clock, run_id: int) -> list[Enqueue]:
    """Start every step that can start now; returns the tasks to send."""
    work = _advance(db, clock, get_run(db=db, run_id=run_id))
    db.flush()
    return work


def _advance(db: Session, clock: Clock, run: PlaybookRun) -> list[Enqueue]:
    if run.status != "running":
        return []
    incident = get_incident(db=db, incident_id=run.incident_id)
    work: list[Enqueue] = []
    for step in steps_of(db=db, run_id=run.id):
        if step.status in DONE:
            continue
        if step.status != "pending":
            return work  # blocked by a step in flight or waiting for a person
        _start(db, clock, run, incident, step)
        if step.kind == "action" and step.status == "queued":
            return [*work, ("playbooks.run_action", (step.id,))]
        if step.kind in ("notify", "escalate"):
            ids = queue_step_deliveries(db=db, clock=clock, incident=incident, step=step)
            work.extend(("playbooks.deliver", (delivery_id,)) for delivery_id in ids)
            _finish(db, clock, run, step, actor="system", result={"deliveries": ids})
        elif step.kind == "handoff":
            handoff = _handoff(db, clock, incident, step)
            _finish(db, clock, run, step, actor="system", result={"handoff_id": handoff.id})
        if step.status not in DONE:
            return work
    run.status = "completed"
    run.finished_at = clock.now()
    log(
        db=db,
        clock=clock,
        incident_id=run.incident_id,
        actor="system",
        action="run.completed",
        run_id=run.id,
    )
    return work


def log_step(
    db: Session,
    clock: Clock,
    run: PlaybookRun,
    step: RunStep,
    action: str,
    *,
    actor: str = "system",
    **details: Any,
) -> None:
    """One timeline entry about a run's step, in the caller's transaction."""
    log(
        db=db,
        clock=clock,
        incident_id=run.incident_id,
        actor=actor,
        action=action,
        run_id=run.id,
        step=step.step_id,
        **details,
    )


def _start(db: Session, clock: Clock, run: PlaybookRun, incident: Incident, step: RunStep) -> None:
    now = clock.now()
    step.started_at = now
    sla = step.spec.get("sla_minutes")
    step.due_at = now + timedelta(minutes=sla) if sla else None
    if step.kind in ("task", "decision"):
        step.status = "open"
    elif step.kind == "action":
        approval = step.spec.get("approval")
        step.status = "awaiting_approval" if approval else "queued"
        step.requested_by = run.started_by if approval else None
    else:
        step.status = "running"
    if step.kind == "escalate":
        incident.escalated = True
    log_step(
        db,
        clock,
        run,
        step,
        "step.started",
        kind=step.kind,
        status=step.status,
        due_at=step.due_at.isoformat() if step.due_at else None,
    )


def _finish(
    db: Session,
    clock: Clock,
    run: PlaybookRun,
    step: RunStep,
    *,
    actor: str,
    result: dict[str, Any],
    status: str = "done",
) -> None:
    step.status = status
    step.completed_at = clock.now()
    step.completed_by = actor
    step.result = result
    log_step(db, clock, run, step, f"step.{status}", actor=actor, result=result)


def _handoff(db: Session, clock: Clock, incident: Incident, step: RunStep) -> Handoff:
    handoff = Handoff(
        incident_id=incident.id,
        run_step_id=step.id,
        target=step.spec.get("target", "breach"),
        reason=step.spec.get("reason", ""),
        details={"personal_data": incident.personal_data, "exercise_id": incident.exercise_id},
        requested_by="system",
        requested_at=clock.now(),
    )
    db.add(handoff)
    db.flush()
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor="system",
        action="handoff.requested",
        handoff_id=handoff.id,
        target=handoff.target,
    )
    return handoff


def _check_role(step: RunStep, user: User) -> None:
    if step.owner_role and user.role.value not in (step.owner_role, "admin", "incident_manager"):
        raise ConflictError(
            f"role: step {step.step_id!r} is for {step.owner_role}, not {user.role.value}"
        )


def complete_task(
    *, db: Session, clock: Clock, run_step_id: int, user: User, note: str | None = None
) -> list[Enqueue]:
    """Mark a manual task (or a failed action turned manual) done and advances."""
    step = get_step(db=db, run_step_id=run_step_id)
    if step.status not in ("open", "manual") or step.kind == "decision":
        raise ConflictError(f"status: step {step.step_id!r} is {step.status}, not an open task")
    _check_role(step, user)
    run = get_run(db=db, run_id=step.run_id)
    _finish(db, clock, run, step, actor=user.username, result={"note": note or ""})
    work = _advance(db, clock, run)
    db.flush()
    return work


def decide(
    *, db: Session, clock: Clock, run_step_id: int, option: str, user: User
) -> list[Enqueue]:
    """Take a decision; steps before the option's `next` are skipped; advances."""
    step = get_step(db=db, run_step_id=run_step_id)
    if step.kind != "decision" or step.status != "open":
        raise ConflictError(f"status: step {step.step_id!r} is not an open decision")
    options = {item["id"]: item for item in step.spec.get("options", [])}
    if option not in options:
        raise ValidationError("option", f"unknown option {option!r}; allowed: {sorted(options)}")
    _check_role(step, user)
    run = get_run(db=db, run_id=step.run_id)
    _finish(db, clock, run, step, actor=user.username, result={"option": option})
    target = options[option].get("next")
    if target:
        for later in steps_of(db=db, run_id=run.id):
            if later.position > step.position and later.step_id != target:
                if later.status == "pending":
                    _finish(db, clock, run, later, actor=user.username, result={}, status="skipped")
            elif later.step_id == target:
                break
    work = _advance(db, clock, run)
    db.flush()
    return work


def overdue_steps(*, db: Session, clock: Clock) -> list[OverdueStep]:
    """Unfinished steps past their SLA, most overdue first, as of the injected clock."""
    now = clock.now()
    rows = db.execute(
        select(RunStep, PlaybookRun.incident_id)
        .join(PlaybookRun, PlaybookRun.id == RunStep.run_id)
        .where(RunStep.due_at.is_not(None), RunStep.due_at < now)
        .where(RunStep.status.not_in(list(DONE)))
        .order_by(RunStep.due_at)
    ).all()
    return [
        OverdueStep(
            incident_id=incident_id,
            run_id=step.run_id,
            step_id=step.step_id,
            title=step.title,
            owner_role=step.owner_role,
            status=step.status,
            due_at=step.due_at,
            overdue_by_seconds=(now - step.due_at).total_seconds(),
        )
        for step, incident_id in rows
        if step.due_at is not None
    ]


def handoffs_pending(*, db: Session, target: str = "breach") -> list[Handoff]:
    """Hand-offs not yet taken up by their workflow (the breach domain polls this)."""
    return list(
        db.scalars(
            select(Handoff)
            .where(Handoff.target == target, Handoff.accepted_at.is_(None))
            .order_by(Handoff.id)
        )
    )


def accept_handoff(*, db: Session, clock: Clock, handoff_id: int, actor: str) -> Handoff:
    """Mark a hand-off as taken up (by the breach workflow)."""
    handoff = db.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFoundError(f"hand-off {handoff_id} not found")
    if handoff.accepted_at is not None:
        raise ConflictError(f"hand-off {handoff_id} was already accepted by {handoff.accepted_by}")
    handoff.accepted_at = clock.now()
    handoff.accepted_by = actor
    log(
        db=db,
        clock=clock,
        incident_id=handoff.incident_id,
        actor=actor,
        action="handoff.accepted",
        handoff_id=handoff.id,
        target=handoff.target,
    )
    db.flush()
    return handoff
