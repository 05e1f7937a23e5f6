"""Four-eyes approval of automated actions: requester and approver must be two people.

An action step whose playbook says `approval: {role: ...}` waits in `awaiting_approval`. The
requester is whoever started the run; a run started by routing ("system") needs a person to
request the action first. The approver must hold the named role and must not be the requester.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import Clock
from core.errors import ConflictError
from playbooks.incidents import log
from playbooks.models import RunStep
from playbooks.runs import Enqueue, get_run, get_step

SYSTEM_ACTORS = frozenset({"system", "routing"})


def _waiting(db: Session, run_step_id: int) -> RunStep:
    step = get_step(db=db, run_step_id=run_step_id)
    if step.status != "awaiting_approval":
        raise ConflictError(
            f"status: step {step.step_id!r} is {step.status}, not awaiting approval"
        )
    return step


def request_action(*, db: Session, clock: Clock, run_step_id: int, user: User) -> RunStep:
    """A person asks for the action to run (needed when the run was started by routing)."""
    step = _waiting(db, run_step_id)
    if step.requested_by and step.requested_by not in SYSTEM_ACTORS:
        raise ConflictError(f"requested_by: already requested by {step.requested_by}")
    step.requested_by = user.username
    run = get_run(db=db, run_id=step.run_id)
    log(
        db=db,
        clock=clock,
        incident_id=run.incident_id,
        actor=user.username,
        action="approval.requested",
        run_id=run.id,
        step=step.step_id,
    )
    db.flush()
    return step


def approve_action(
    *, db: Session, clock: Clock, run_step_id: int, user: User
) -> tuple[RunStep, list[Enqueue]]:
    """Approve a waiting action; returns the task that runs it.

    Raises:
        ConflictError: not awaiting approval, nobody requested it yet, self-approval, or the
            approver lacks the role the playbook names.
    """
    step = _waiting(db, run_step_id)
    needed = (step.spec.get("approval") or {}).get("role")
    if not step.requested_by or step.requested_by in SYSTEM_ACTORS:
        raise ConflictError("requested_by: a person must request this action before approval")
    if step.requested_by == user.username:
        raise ConflictError(
            f"approved_by: {user.username} requested this action and cannot approve it "
            "(four-eyes rule)"
        )
    if needed and user.role.value != needed:
        raise ConflictError(
            f"role: approving {step.step_id!r} needs role {needed}, {user.username} is "
            f"{user.role.value}"
        )
    if not user.active:
        raise ConflictError(f"approved_by: account {user.username} is disabled")
    step.approved_by = user.username
    step.status = "queued"
    run = get_run(db=db, run_id=step.run_id)
    log(
        db=db,
        clock=clock,
        incident_id=run.incident_id,
        actor=user.username,
        action="approval.granted",
        run_id=run.id,
        step=step.step_id,
        requested_by=step.requested_by,
    )
    db.flush()
    return step, [("playbooks.run_action", (step.id,))]
