"""Ad-hoc tasks: work a person adds to an incident beside the playbook's steps.

A task has a title and optionally an assignee (an existing, enabled account); a person
completes it with a note. Adding and completing land on the incident timeline and in the audit
log in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from playbooks.incidents import check_assignee, get_incident, log
from playbooks.models import AdhocTask

MAX_TITLE = 300
MAX_NOTE = 20_000


def add_task(
    *,
    db: Session,
    clock: Clock,
    incident_id: int,
    title: str,
    actor: str,
    assignee: str | None = None,
) -> AdhocTask:
    """Add a task to an open incident.

    Raises:
        ValidationError: an empty or too long title, an unknown or disabled assignee.
        ConflictError: the incident is closed or merged.
    """
    incident = get_incident(db=db, incident_id=incident_id)
    if incident.status == "closed" or incident.merged_into is not None:
        raise ConflictError(f"incident: incident {incident.id} is closed; reopen it first")
    clean = title.strip()
    if not clean:
        raise ValidationError("title", "must not be empty")
    if len(clean) > MAX_TITLE:
        raise ValidationError("title", f"longer than {MAX_TITLE} characters")
    who = None
    if assignee and assignee.strip():
        who = check_assignee(db=db, username=assignee)
    task = AdhocTask(
        incident_id=incident.id,
        title=clean,
        assignee=who,
        created_by=actor,
        created_at=clock.now(),
    )
    db.add(task)
    db.flush()
    incident.updated_at = clock.now()
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor=actor,
        action="incident.task_added",
        task_id=task.id,
        task=clean,
        assignee=who,
    )
    return task


def complete_adhoc_task(
    *, db: Session, clock: Clock, task_id: int, note: str, actor: str
) -> AdhocTask:
    """Complete an ad-hoc task with a note (what was done).

    Raises:
        NotFoundError: no such task.
        ValidationError: an empty or too long note.
        ConflictError: the task is already done, or its incident is closed.
    """
    task = db.get(AdhocTask, task_id)
    if task is None:
        raise NotFoundError(f"task {task_id} does not exist")
    if task.completed_at is not None:
        raise ConflictError(f"task: task {task.id} was already completed by {task.completed_by}")
    incident = get_incident(db=db, incident_id=task.incident_id)
    if incident.status == "closed":
        raise ConflictError(f"incident: incident {incident.id} is closed; reopen it first")
    clean = note.strip()
    if not clean:
        raise ValidationError("note", "say what was done")
    if len(clean) > MAX_NOTE:
        raise ValidationError("note", f"longer than {MAX_NOTE} characters")
    task.completed_at, task.completed_by, task.note = clock.now(), actor, clean
    incident.updated_at = clock.now()
    db.flush()
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor=actor,
        action="incident.task_completed",
        task_id=task.id,
        task=task.title,
        result={"note": clean},
    )
    return task


def tasks_of(*, db: Session, incident_id: int) -> list[AdhocTask]:
    """The incident's ad-hoc tasks, oldest first."""
    return list(
        db.scalars(
            select(AdhocTask).where(AdhocTask.incident_id == incident_id).order_by(AdhocTask.id)
        )
    )


def incident_of_task(*, db: Session, task_id: int) -> int:
    """The incident a task belongs to; NotFoundError for an unknown task."""
    task = db.get(AdhocTask, task_id)
    if task is None:
        raise NotFoundError(f"task {task_id} does not exist")
    return task.incident_id
