"""Planning: schedules (one-off or recurring), invitations and reminders, and the beat tick.

Celery beat is the one scheduler: it runs `drills.tick` every few seconds, and `tick` starts
the schedules that are due, sends invitations and reminders, releases due injects of running
exercises and checks their automatic expectations. A recurring schedule that comes due while
its previous exercise still runs is skipped (the run lock refuses it) and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.config import Settings
from core.errors import ConflictError, NotFoundError, ValidationError
from core.store.base import AlertStore
from drills import control, mailer, scenarios, tabletop, technical
from drills.models import DrillSchedule, Exercise
from drills.rollback import discard_planned
from drills.schemas import Participant
from drills.tabletop import Units

QUARTER = timedelta(days=91)


def create_schedule(
    *,
    db: Session,
    clock: Clock,
    scenario_id: str,
    mode: str,
    first_at: datetime,
    controller: str,
    participants: Sequence[dict[str, Any]],
    every: timedelta | None = None,
    criteria: Sequence[dict[str, Any]] | None = None,
    time_scale: float = 1.0,
    reminder_hours: float = 24.0,
) -> DrillSchedule:
    """Plan a drill: `every` None is one-off, `QUARTER` each quarter."""
    loaded = scenarios.get_scenario(scenario_id)
    if mode not in loaded.scenario.modes:
        raise ValidationError(
            "mode", f"scenario {scenario_id!r} supports {', '.join(loaded.scenario.modes)}"
        )
    if every is not None and every.total_seconds() <= 0:
        raise ValidationError("every", "must be positive")
    people = [Participant.model_validate(p).model_dump() for p in participants]
    schedule = DrillSchedule(
        scenario_id=scenario_id,
        mode=mode,
        title=loaded.scenario.title,
        next_run_at=first_at,
        every_seconds=every.total_seconds() if every else None,
        time_scale=time_scale,
        participants=people,
        controller=controller,
        criteria=list(criteria)
        if criteria is not None
        else [c.model_dump() for c in loaded.scenario.criteria],
        reminder_hours=reminder_hours,
        active=True,
        created_at=clock.now(),
    )
    db.add(schedule)
    db.flush()
    return schedule


def list_schedules(*, db: Session) -> list[DrillSchedule]:
    return list(db.scalars(select(DrillSchedule).order_by(DrillSchedule.id)))


def _invite(
    db: Session, clock: Clock, settings: Settings, schedule: DrillSchedule, purpose: str
) -> None:
    when = schedule.next_run_at
    assert when is not None
    local = when.astimezone()
    text = (
        f"U bent uitgenodigd voor de oefening '{schedule.title}'.\n"
        f"Start: {local:%d-%m-%Y %H:%M}.\n"
        "Dit is een oefening. Er gebeurt niets echt. Neem geen contact op met echte instanties."
    )
    title = "Uitnodiging" if purpose == "invitation" else "Herinnering"
    mailer.send(
        db=db,
        clock=clock,
        settings=settings,
        participants=[p["email"] for p in schedule.participants],
        subject=f"{title}: {schedule.title}",
        body=text,
        purpose=purpose,
        schedule_id=schedule.id,
    )


def _start_due(db: Session, clock: Clock, schedule: DrillSchedule) -> str:
    """Create and start the schedule's exercise; the run lock refuses a second one."""
    loaded = scenarios.get_scenario(schedule.scenario_id)
    exercise = control.create_exercise(
        db=db,
        clock=clock,
        loaded=loaded,
        mode=schedule.mode,
        controller=schedule.controller,
        participants=schedule.participants,
        criteria=schedule.criteria,
        time_scale=schedule.time_scale,
        schedule_id=schedule.id,
        actor="beat",
    )
    try:
        control.start(db=db, clock=clock, exercise_id=exercise.id, actor="beat")
    except ConflictError as exc:
        # Not started: remove the planned shell again so only real runs remain.

        discard_planned(db=db, exercise_id=exercise.id)
        return f"overgeslagen: {exc}"
    return f"gestart: {exercise.id}"


def run_schedules(*, units: Units, clock: Clock, settings: Settings) -> list[str]:
    """Send due invitations/reminders and start due schedules.

    Each schedule's invitations, and then its start, commit in their own unit of work from
    `units`: an invitation that went out is recorded before anything else can fail.
    """
    outcomes: list[str] = []
    now = clock.now()
    with units() as db:
        ids = [s.id for s in list_schedules(db=db) if s.active and s.next_run_at is not None]
    for schedule_id in ids:
        with units() as db:
            schedule = db.get(DrillSchedule, schedule_id)
            if schedule is None or not schedule.active or schedule.next_run_at is None:
                continue
            if schedule.invited_for != schedule.next_run_at:
                _invite(db, clock, settings, schedule, "invitation")
                schedule.invited_for = schedule.next_run_at
            remind_at = schedule.next_run_at - timedelta(hours=schedule.reminder_hours)
            if (
                now >= remind_at
                and schedule.reminded_for != schedule.next_run_at
                and now < schedule.next_run_at
            ):
                _invite(db, clock, settings, schedule, "reminder")
                schedule.reminded_for = schedule.next_run_at
            if now < schedule.next_run_at:
                continue
        with units() as db:
            schedule = db.get(DrillSchedule, schedule_id)
            if schedule is None or schedule.next_run_at is None or now < schedule.next_run_at:
                continue  # another worker's tick started it meanwhile
            due_at = schedule.next_run_at
            outcome = _start_due(db, clock, schedule)
            if outcome.startswith("gestart"):
                schedule.last_exercise_id = outcome.split(": ", 1)[1]
            schedule.last_outcome = outcome[:300]
            if schedule.every_seconds:
                step = timedelta(seconds=schedule.every_seconds)
                following = due_at + step
                while following <= now:
                    following += step  # a missed period is not made up twice
                schedule.next_run_at = following
            else:
                schedule.next_run_at = None
                schedule.active = False
        outcomes.append(outcome)
    return outcomes


def tick(
    *,
    units: Units,
    clock: Clock,
    settings: Settings,
    alerts: AlertStore | None,
    sink: technical.EventSink | None,
) -> dict[str, Any]:
    """One beat: schedules, then injects and automatic checks of every running exercise.

    Each step is its own unit of work from `units` (see `run_schedules` and
    `tabletop.release_due`), so a failure in one exercise keeps what the others did.
    """
    started = run_schedules(units=units, clock=clock, settings=settings)
    released: dict[str, list[str]] = {}
    with units() as db:
        running = [
            (e.id, e.scenario_id, e.mode)
            for e in db.scalars(select(Exercise).where(Exercise.status == control.RUNNING))
        ]
    for exercise_id, scenario_id, mode in running:
        loaded = scenarios.get_scenario(scenario_id)
        done = tabletop.release_due(
            units=units,
            clock=clock,
            settings=settings,
            exercise_id=exercise_id,
            loaded=loaded,
            sink=sink,
        )
        if done:
            released[exercise_id] = done
        if mode == "technical" and alerts is not None:
            with units() as db:
                exercise = control.get_exercise(db=db, exercise_id=exercise_id)
                technical.check_expectations(db=db, clock=clock, exercise=exercise, alerts=alerts)
    return {"schedules": started, "released": released}


def annual_cycle(*, db: Session, now: datetime) -> list[dict[str, Any]]:
    """Per scenario: when it was last exercised, and whether that is over a year ago.

    BIO2 5.30.01 asks for a yearly test of the continuity plans; a scenario never exercised or
    not in the last 365 days is flagged.
    """
    last: dict[str, datetime] = {}
    for scenario_id, started in db.execute(
        select(Exercise.scenario_id, Exercise.started_at).where(Exercise.started_at.is_not(None))
    ):
        if started is not None and (scenario_id not in last or started > last[scenario_id]):
            last[scenario_id] = started
    rows = []
    for scenario_id, loaded in sorted(scenarios.load_library().items()):
        when = last.get(scenario_id)
        overdue = when is None or now - when > timedelta(days=365)
        rows.append(
            {
                "scenario_id": scenario_id,
                "title": loaded.scenario.title,
                "title_en": loaded.scenario.title_en,
                "last": when,
                "overdue": overdue,
            }
        )
    return rows


def cancel_schedule(*, db: Session, clock: Clock, schedule_id: int, actor: str) -> DrillSchedule:
    """Cancel a plan before it starts (a recurring one stops recurring); no commit."""
    schedule = db.get(DrillSchedule, schedule_id)
    if schedule is None:
        raise NotFoundError(f"schedule {schedule_id} not found")
    schedule.active = False
    schedule.next_run_at = None
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.schedule_cancelled",
        object_type="drill_schedule",
        object_id=str(schedule_id),
    )
    db.flush()
    return schedule


def move_schedule(
    *, db: Session, clock: Clock, schedule_id: int, first_at: datetime, actor: str
) -> DrillSchedule:
    """Move a plan's next start (before it starts); ValidationError for a moment in the past."""
    schedule = db.get(DrillSchedule, schedule_id)
    if schedule is None or not schedule.active:
        raise NotFoundError(f"schedule {schedule_id} not found or cancelled")
    if first_at < clock.now():
        raise ValidationError("date", "dit moment is al voorbij / this moment has passed")
    schedule.next_run_at = first_at
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.schedule_moved",
        object_type="drill_schedule",
        object_id=str(schedule_id),
        details={"next_run_at": first_at.isoformat()},
    )
    db.flush()
    return schedule


KEEP: Any = object()  # "leave as planned" for update_schedule's `every`


def update_schedule(
    *,
    db: Session,
    clock: Clock,
    schedule_id: int,
    actor: str,
    mode: str | None = None,
    first_at: datetime | None = None,
    every: timedelta | None = KEEP,
    time_scale: float | None = None,
    participants: Sequence[dict[str, Any]] | None = None,
) -> DrillSchedule:
    """Change a plan before it starts: mode, start, repeat, tempo, participants; audited.

    Only what is given changes (`every` None makes it one-off). New participants or a new
    start mean new invitations. ValidationError names the field; no commit.
    """
    schedule = db.get(DrillSchedule, schedule_id)
    if schedule is None or not schedule.active or schedule.next_run_at is None:
        raise NotFoundError(f"schedule {schedule_id} not found, cancelled or already started")
    loaded = scenarios.get_scenario(schedule.scenario_id)
    before = _plan_fields(schedule)
    if mode is not None:
        if mode not in loaded.scenario.modes:
            raise ValidationError(
                "mode",
                f"scenario {schedule.scenario_id!r} supports {', '.join(loaded.scenario.modes)}",
            )
        schedule.mode = mode
    if first_at is not None:
        if first_at < clock.now():
            raise ValidationError("date", "dit moment is al voorbij / this moment has passed")
        schedule.next_run_at = first_at
    if every is not KEEP:
        if every is not None and every.total_seconds() <= 0:
            raise ValidationError("every", "must be positive")
        schedule.every_seconds = every.total_seconds() if every else None
    if time_scale is not None:
        if not 0 < time_scale <= 3600:
            raise ValidationError("time_scale", "a number from 0.1 to 3600")
        schedule.time_scale = time_scale
    if participants is not None:
        schedule.participants = _valid_participants(participants, loaded.scenario.roles)
    after = _plan_fields(schedule)
    changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
    if "participants" in changed or "next_run_at" in changed:
        schedule.invited_for = schedule.reminded_for = None  # invite (again) for the new plan
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.schedule_edited",
        object_type="drill_schedule",
        object_id=str(schedule_id),
        details={"changed": changed},
    )
    db.flush()
    return schedule


def _plan_fields(schedule: DrillSchedule) -> dict[str, Any]:
    return {
        "mode": schedule.mode,
        "next_run_at": schedule.next_run_at.isoformat() if schedule.next_run_at else None,
        "every_seconds": schedule.every_seconds,
        "time_scale": schedule.time_scale,
        "participants": [dict(p) for p in schedule.participants],
    }


def _valid_participants(
    people: Sequence[dict[str, Any]], roles: Sequence[str]
) -> list[dict[str, Any]]:
    if not people:
        raise ValidationError("participants", "add at least one participant")
    clean = []
    for index, person in enumerate(people):
        try:
            row = Participant.model_validate(person).model_dump()
        except PydanticError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValidationError(f"participants[{index}].{where}", first["msg"]) from None
        if row["role"] not in roles:
            raise ValidationError(
                f"participants[{index}].role",
                f"{row['role']!r} plays no part in this scenario; roles: {', '.join(roles)}",
            )
        clean.append(row)
    return clean
