"""Run automated action steps exactly once, even when tasks are delivered twice or workers die.

The idempotency key `run:<run>:step:<step>` is stored (status `running`, with the worker's
host and pid) and committed *before* the Ansible play starts. A second delivery finds it:
succeeded returns the stored result without running the play; running and the owner still
alive means "in flight, try later"; running but the owner process is gone means the worker
died mid-play, and the play is run again (the shipped plays are idempotent, so an effect that
did land is not applied twice).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.errors import DijkwachtError
from playbooks.actions import ActionFailed, run_play
from playbooks.models import ActionExecution, PlaybookRun, RunStep
from playbooks.observables import first_value
from playbooks.runs import IN_FLIGHT, Enqueue, Units, _advance, _finish, get_run, get_step, log_step
from playbooks.schemas import PARAM_REFERENCE


class InFlight(DijkwachtError):
    """Another live worker is running this action right now."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one execution attempt did; `reused` means the stored result was returned."""

    status: str
    result: dict[str, Any]
    reused: bool
    work: list[Enqueue]


def idempotency_key(step: RunStep) -> str:
    """The unique key of an action step: one per (run, step)."""
    return f"run:{step.run_id}:step:{step.step_id}"


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _owner_alive(execution: ActionExecution, *, settings: Settings, clock: Clock) -> bool:
    owner = (execution.result or {}).get("owner") or {}
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        if owner["pid"] == os.getpid():
            return False  # this very process: a redelivery after our own earlier attempt
        try:
            os.kill(owner["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # Another machine: trust it until its lease (the action timeout plus a margin) runs out.
    lease = timedelta(seconds=settings.action_timeout_seconds + 60)
    return clock.now() - execution.started_at < lease


def _params(db: Session, step: RunStep, incident_id: int) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in (step.spec.get("params") or {}).items():
        reference = PARAM_REFERENCE.match(value)
        if reference is None:
            params[name] = value
            continue
        found = first_value(db=db, incident_id=incident_id, kind=reference.group(1))
        if found is None:
            raise ActionFailed(
                f"params.{name}: the incident has no {reference.group(1)} observable"
            )
        params[name] = found
    return params


def execute_action(*, units: Units, clock: Clock, settings: Settings, run_step_id: int) -> Outcome:
    """Run one attempt of an action step. Raises ActionFailed or InFlight.

    Three units of work from `units`: the claim (the key is committed before the play starts),
    the play itself outside any transaction, then its outcome.
    """
    with units() as db:
        step = get_step(db=db, run_step_id=run_step_id)
        run = get_run(db=db, run_id=step.run_id)
        key = idempotency_key(step)
        execution = db.scalar(select(ActionExecution).where(ActionExecution.key == key))
        if execution is not None and execution.status == "succeeded":
            return Outcome("succeeded", dict(execution.result), reused=True, work=[])
        if step.status not in IN_FLIGHT:
            return Outcome(step.status, dict(step.result or {}), reused=True, work=[])
        if (
            execution is not None
            and execution.status == "running"
            and _owner_alive(execution, settings=settings, clock=clock)
        ):
            raise InFlight(f"{key} is running in another worker")
        now = clock.now()
        params = _params(db, step, run.incident_id)
        if execution is None:
            execution = ActionExecution(
                key=key, run_step_id=step.id, action=step.spec["action"], attempts=0, started_at=now
            )
            db.add(execution)
        resumed = execution.status == "running"
        execution.status = "running"
        execution.attempts += 1
        execution.started_at = now
        execution.result = {"owner": _owner()}
        step.status = "running"
        attempt = execution.attempts
        action, incident_id = step.spec["action"], run.incident_id
        log_step(
            db,
            clock,
            run,
            step,
            "action.started",
            key=key,
            attempt=attempt,
            resumed_after_interruption=resumed,
        )
    try:
        result = run_play(
            settings=settings,
            action=action,
            params=params,
            incident_id=incident_id,
            key=key,
            attempt=attempt,
        )
    except ActionFailed as exc:
        with units() as db:
            _record_failure(db, clock, run_step_id, key, str(exc))
        raise
    with units() as db:
        step = get_step(db=db, run_step_id=run_step_id)
        run = get_run(db=db, run_id=step.run_id)
        execution = db.scalar(select(ActionExecution).where(ActionExecution.key == key))
        assert execution is not None
        execution.status = "succeeded"
        execution.result = result
        execution.finished_at = clock.now()
        _finish(db, clock, run, step, actor="system", result=result)
        work = _advance(db, clock, run)
    return Outcome("succeeded", result, reused=False, work=work)


def _record_failure(db: Session, clock: Clock, run_step_id: int, key: str, error: str) -> None:
    execution = db.scalar(select(ActionExecution).where(ActionExecution.key == key))
    step = get_step(db=db, run_step_id=run_step_id)
    run = get_run(db=db, run_id=step.run_id)
    if execution is not None:
        execution.status = "failed"
        execution.error = error
        execution.finished_at = clock.now()
        execution.result = {}
    step.status = "queued"  # waiting for the retry; resume_runs re-sends it if the retry is lost
    step.error = error
    log_step(
        db,
        clock,
        run,
        step,
        "action.failed",
        key=key,
        attempt=execution.attempts if execution is not None else None,
        error=error,
    )


def give_up(*, db: Session, clock: Clock, run_step_id: int, error: str) -> RunStep:
    """Retries are exhausted: the action becomes a manual task showing the error."""
    step = get_step(db=db, run_step_id=run_step_id)
    run = get_run(db=db, run_id=step.run_id)
    step.status = "manual"
    step.error = error
    log_step(db, clock, run, step, "step.manual", error=error)
    db.flush()
    return step


def resume_runs(*, db: Session, clock: Clock, settings: Settings) -> list[Enqueue]:
    """Re-send the work of running runs whose task was lost (a worker died)."""
    work: list[Enqueue] = []
    runs = db.scalars(select(PlaybookRun).where(PlaybookRun.status == "running"))
    for run in list(runs):
        steps = db.scalars(
            select(RunStep).where(RunStep.run_id == run.id, RunStep.status.in_(list(IN_FLIGHT)))
        )
        for step in steps:
            execution = db.scalar(
                select(ActionExecution).where(ActionExecution.key == idempotency_key(step))
            )
            live = (
                execution is not None
                and execution.status == "running"
                and _owner_alive(execution, settings=settings, clock=clock)
            )
            if not live:
                work.append(("playbooks.run_action", (step.id,)))
        work.extend(_advance(db, clock, run))
    db.flush()
    return work
