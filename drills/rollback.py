"""Reversible exercises: remove everything an exercise created, keep its report.

Removed: the exercise's events (event store) and alerts (alert store), its incidents, playbook
runs, deliveries, hand-offs (through `playbooks.service`) and breaches (through
`playbooks.breach.service`, which builds on the former), and the drill's own
injects, expectations, notes, mail log and run lock. Kept: the exercise record (status
`rolled_back`), its after-action report and the lesson actions, which are the point of the
exercise. The append-only, hash-chained audit log also keeps its entries; it records the
rollback itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import ConflictError
from core.store.base import AlertStore, EventStore
from drills.control import PAUSED, PLANNED, ROLLED_BACK, RUNNING, get_exercise
from drills.models import DrillLock, Entry, Exercise, Expectation, Outbox, ReleasedInject
from playbooks import service as playbooks
from playbooks.breach import service as breach

DRILL_TABLES = (ReleasedInject, Expectation, Entry, Outbox)


def exercise_artefacts(*, db: Session, exercise_id: str) -> dict[str, list[dict[str, Any]]]:
    """What an exercise left in the playbooks domain: incidents, started steps, hand-offs and
    breaches, with their times (the expectations' evidence, and what a roll-back removes)."""
    return {
        **playbooks.exercise_artefacts(db=db, exercise_id=exercise_id),
        **breach.exercise_artefacts(db=db, exercise_id=exercise_id),
    }


def delete_exercise_artefacts(*, db: Session, exercise_id: str) -> dict[str, int]:
    """Delete the exercise's breach rows, then its playbook rows (a breach may name an incident
    of the exercise); rows removed per table, no commit."""
    removed = breach.delete_exercise_artefacts(db=db, exercise_id=exercise_id)
    for table, count in playbooks.delete_exercise_artefacts(db=db, exercise_id=exercise_id).items():
        removed[table] = removed.get(table, 0) + count
    return removed


def rollback(
    *,
    db: Session,
    clock: Clock,
    exercise_id: str,
    events: EventStore,
    alerts: AlertStore,
    actor: str,
) -> dict[str, int]:
    """Remove the exercise's artefacts everywhere; refused while it runs."""
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    if exercise.status in (RUNNING, PAUSED):
        raise ConflictError(f"status: stop exercise {exercise_id} before rolling it back")
    removed = {
        "events": events.delete_by_exercise(exercise_id),
        "alerts": alerts.delete_by_exercise(exercise_id),
    }
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    removed.update(delete_exercise_artefacts(db=db, exercise_id=exercise_id))
    for table in DRILL_TABLES:
        result = db.execute(delete(table).where(table.exercise_id == exercise_id))
        removed[table.__tablename__] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    db.execute(delete(DrillLock).where(DrillLock.exercise_id == exercise_id))
    exercise.status = ROLLED_BACK
    exercise.rolled_back_at = clock.now()
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.rolled_back",
        object_type="drill",
        object_id=exercise_id,
        details={"removed": removed},
    )
    db.flush()
    return removed


def discard_planned(*, db: Session, exercise_id: str) -> None:
    """Drop an exercise that never started (a skipped schedule run)."""
    exercise = db.get(Exercise, exercise_id)
    if exercise is None or exercise.status != PLANNED:
        return
    db.execute(delete(Expectation).where(Expectation.exercise_id == exercise_id))
    db.delete(exercise)
    db.flush()
