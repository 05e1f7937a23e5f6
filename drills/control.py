"""The exercise controller: create, start, pause, resume, advance manually, stop.

The scenario clock runs only while the exercise runs: `played_seconds` holds what was played
before the current segment, and a pause ends the segment. `time_scale` plays scenario minutes
faster than real ones (a technical drill of a 15-minute criterion need not take 15 minutes).
One series (a schedule, or a one-off exercise) runs at most once at a time: `start` inserts a
`DrillLock` row whose primary key is the series, so a second start fails in the database
itself, whichever process or worker tries it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from drills import criteria as criteria_mod
from drills.models import DrillLock, Exercise, Expectation, ReleasedInject
from drills.schemas import LoadedScenario, Participant

RUNNING, PAUSED, PLANNED, STOPPED, ROLLED_BACK = (
    "running",
    "paused",
    "planned",
    "stopped",
    "rolled_back",
)
OBJECT_TYPE = "drill"
# An expectation whose window was still open when the exercise stopped (fits String(10)).
NOT_EVALUATED = "unscored"


def _log(
    db: Session, clock: Clock, exercise: Exercise, actor: str, action: str, **details: Any
) -> None:
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action=f"drill.{action}",
        object_type=OBJECT_TYPE,
        object_id=exercise.id,
        details=details,
    )


def _new_id(db: Session, scenario_id: str, now: datetime) -> str:
    prefix = f"oef-{now:%Y%m%d}-{re.sub(r'[^a-z0-9-]', '', scenario_id)[:60]}-"
    count = db.scalar(
        select(func.count()).select_from(Exercise).where(Exercise.id.like(f"{prefix}%"))
    )
    return f"{prefix}{int(count or 0) + 1}"


def create_exercise(
    *,
    db: Session,
    clock: Clock,
    loaded: LoadedScenario,
    mode: str,
    controller: str,
    participants: Sequence[dict[str, Any]],
    criteria: Sequence[dict[str, Any]] | None = None,
    time_scale: float = 1.0,
    schedule_id: int | None = None,
    actor: str,
) -> Exercise:
    """A planned exercise with its expectations; criteria default to the scenario's."""
    scenario = loaded.scenario
    if mode not in scenario.modes:
        raise ValidationError(
            "mode", f"scenario {scenario.id!r} supports {', '.join(scenario.modes)}"
        )
    if not 0 < time_scale <= 3600:
        raise ValidationError("time_scale", "must be above 0 and at most 3600")
    people = [Participant.model_validate(p).model_dump() for p in participants]
    now = clock.now()
    exercise_id = _new_id(db, scenario.id, now)
    exercise = Exercise(
        id=exercise_id,
        series=f"schedule-{schedule_id}" if schedule_id is not None else exercise_id,
        schedule_id=schedule_id,
        scenario_id=scenario.id,
        scenario_sha256=loaded.sha256,
        title=scenario.title,
        mode=mode,
        status=PLANNED,
        controller=controller,
        participants=people,
        time_scale=time_scale,
        created_at=now,
        played_seconds=0.0,
        grip_level=0,
        criteria=[],
    )
    db.add(exercise)
    exercise.criteria = criteria_mod.validated(
        criteria if criteria is not None else [c.model_dump() for c in scenario.criteria]
    )
    for spec in scenario.expectations:
        if mode == "tabletop" and spec.kind != "manual":
            continue  # automatic checks need the technical pipeline
        db.add(
            Expectation(
                exercise_id=exercise_id,
                expectation_id=spec.id,
                kind=spec.kind,
                role=spec.role,
                metric=spec.metric,
                text=spec.text,
                spec={"rule_id": spec.rule_id, "step": spec.step},
                within_minutes=spec.within_minutes,
                status="pending",
            )
        )
    _log(db, clock, exercise, actor, "created", scenario=scenario.id, mode=mode)
    db.flush()
    return exercise


def get_exercise(*, db: Session, exercise_id: str) -> Exercise:
    exercise = db.get(Exercise, exercise_id)
    if exercise is None:
        raise NotFoundError(f"exercise {exercise_id!r} not found")
    return exercise


def list_exercises(*, db: Session, status: str | None = None) -> list[Exercise]:
    query = select(Exercise).order_by(Exercise.created_at.desc())
    if status is not None:
        query = query.where(Exercise.status == status)
    return list(db.scalars(query))


def scenario_minutes(exercise: Exercise, now: datetime) -> float:
    """Scenario minutes played so far (paused time does not count)."""
    seconds = exercise.played_seconds
    if exercise.status == RUNNING and exercise.segment_started_at is not None:
        seconds += (now - exercise.segment_started_at).total_seconds()
    return seconds * exercise.time_scale / 60.0


def _require(db: Session, exercise: Exercise, *states: str) -> None:
    if exercise.status not in states:
        raise ConflictError(
            f"status: exercise {exercise.id} is {exercise.status}, needs {' or '.join(states)}"
        )


def start(*, db: Session, clock: Clock, exercise_id: str, actor: str) -> Exercise:
    """Freeze the criteria and start the scenario clock; ConflictError if the series runs."""
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    _require(db, exercise, PLANNED)
    now = clock.now()
    try:
        # A savepoint: a refused start leaves the caller's unit of work usable (beat goes on).
        with db.begin_nested():
            db.add(DrillLock(series=exercise.series, exercise_id=exercise.id, taken_at=now))
    except IntegrityError:
        holder = db.get(DrillLock, exercise.series)
        running = holder.exercise_id if holder else "?"
        raise ConflictError(f"series: {exercise.series} is already running as {running}") from None
    digest = criteria_mod.freeze(exercise=exercise, clock=clock)
    exercise.status = RUNNING
    exercise.started_at = now
    exercise.segment_started_at = now
    _log(db, clock, exercise, actor, "started", criteria_sha256=digest)
    db.flush()
    return exercise


def pause(*, db: Session, clock: Clock, exercise_id: str, actor: str) -> Exercise:
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    _require(db, exercise, RUNNING)
    now = clock.now()
    exercise.played_seconds = scenario_minutes(exercise, now) * 60.0 / exercise.time_scale
    exercise.segment_started_at = None
    exercise.status = PAUSED
    _log(
        db,
        clock,
        exercise,
        actor,
        "paused",
        scenario_minute=round(scenario_minutes(exercise, now), 2),
    )
    db.flush()
    return exercise


def resume(*, db: Session, clock: Clock, exercise_id: str, actor: str) -> Exercise:
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    _require(db, exercise, PAUSED)
    exercise.status = RUNNING
    exercise.segment_started_at = clock.now()
    _log(db, clock, exercise, actor, "resumed")
    db.flush()
    return exercise


def advance(
    *, db: Session, clock: Clock, exercise_id: str, actor: str, at_minute: float
) -> Exercise:
    """Move the scenario clock forward to `at_minute` (the next inject), never backwards."""
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    _require(db, exercise, RUNNING, PAUSED)
    now = clock.now()
    current = scenario_minutes(exercise, now)
    if at_minute < current:
        raise ValidationError("at_minute", f"the scenario is already at minute {current:.1f}")
    exercise.played_seconds = at_minute * 60.0 / exercise.time_scale
    if exercise.status == RUNNING:
        exercise.segment_started_at = now
    _log(db, clock, exercise, actor, "advanced", to_minute=at_minute)
    db.flush()
    return exercise


def next_inject_minute(*, db: Session, exercise: Exercise, loaded: LoadedScenario) -> float | None:
    """Scenario minute of the first inject not yet released (for a manual advance)."""
    released = set(
        db.scalars(
            select(ReleasedInject.inject_id).where(ReleasedInject.exercise_id == exercise.id)
        )
    )
    pending = [i.at_minute for i in loaded.scenario.msel if i.id not in released]
    return min(pending) if pending else None


def stop(*, db: Session, clock: Clock, exercise_id: str, actor: str) -> Exercise:
    """End the exercise and free its series.

    Pending expectations whose window has closed become missed; the others are not evaluated.
    """
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    _require(db, exercise, RUNNING, PAUSED)
    now = clock.now()
    exercise.played_seconds = scenario_minutes(exercise, now) * 60.0 / exercise.time_scale
    exercise.segment_started_at = None
    exercise.status = STOPPED
    exercise.stopped_at = now
    played = scenario_minutes(exercise, now)
    for expectation in db.scalars(
        select(Expectation).where(
            Expectation.exercise_id == exercise.id, Expectation.status == "pending"
        )
    ):
        if played < expectation.within_minutes:
            # Its window was still open: stopping early is no evidence it would have failed.
            expectation.status = NOT_EVALUATED
            expectation.note = expectation.note or (
                f"niet beoordeeld: gestopt op minuut {played:.0f}, venster tot minuut "
                f"{expectation.within_minutes:g} / not evaluated: stopped before its window closed"
            )
        else:
            expectation.status = "missed"
            expectation.note = expectation.note or "niet gehaald voor het einde van de oefening"
    db.execute(delete(DrillLock).where(DrillLock.series == exercise.series))
    _log(db, clock, exercise, actor, "stopped")
    db.flush()
    return exercise
