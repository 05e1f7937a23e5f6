"""Injects reach the players at their times; players record decisions; the controller scores.

`release_due` is the heartbeat of a running exercise (called by the `drills.tick` task): it
releases every inject whose scenario minute has come, shows it in the dashboard, e-mails it
(tabletop mode, through `drills.mailer`'s isolation rule) and, for technical mode, hands its
synthetic events to the collector pipeline. Controller notes (phone scripts) never reach players.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.config import Settings
from core.errors import ConflictError, NotFoundError, ValidationError
from drills import mailer
from drills.control import RUNNING, get_exercise, scenario_minutes
from drills.live import adhoc_texts
from drills.models import Entry, Exercise, Expectation, ReleasedInject
from drills.schemas import ROLES, Inject, LoadedScenario
from drills.technical import SOURCE, EventSink, build_events

ENTRY_KINDS = ("decision", "action", "note", "hotwash")
# The boundary's unit-of-work opener (the `drills.tick` task passes `partial(unit_of_work, f)`):
# the tick commits each released inject and each schedule step on its own.
Units = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True, slots=True)
class InjectView:
    """What a player sees of an inject: never the controller's note."""

    inject_id: str
    kind: str
    title: str
    text: str
    sender: str
    released_at: datetime
    banner: str = "OEFENING / EXERCISE"


def release_due(
    *,
    units: Units,
    clock: Clock,
    settings: Settings,
    exercise_id: str,
    loaded: LoadedScenario,
    sink: EventSink | None,
) -> list[str]:
    """Release the injects that are due, each in its own unit of work from `units`.

    An inject's e-mail and events go out inside its unit, which commits right after: one
    released inject is recorded before the next starts, so none is released twice.
    """
    with units() as db:
        exercise = get_exercise(db=db, exercise_id=exercise_id)
        if exercise.status != RUNNING:
            return []
        minute = scenario_minutes(exercise, clock.now())
        released = set(
            db.scalars(
                select(ReleasedInject.inject_id).where(ReleasedInject.exercise_id == exercise_id)
            )
        )
    due = [i for i in loaded.scenario.msel if i.id not in released and i.at_minute <= minute]
    done: list[str] = []
    for inject in due:
        with units() as db:
            exercise = get_exercise(db=db, exercise_id=exercise_id)
            if exercise.status != RUNNING:
                break  # paused or stopped meanwhile
            if _released(db, exercise_id, inject.id):
                continue  # another worker's tick released it meanwhile
            _release(db, clock, settings, exercise, inject, sink)
        done.append(inject.id)
    return done


def _released(db: Session, exercise_id: str, inject_id: str) -> bool:
    found = db.scalar(
        select(ReleasedInject.id).where(
            ReleasedInject.exercise_id == exercise_id, ReleasedInject.inject_id == inject_id
        )
    )
    return found is not None


def _release(
    db: Session,
    clock: Clock,
    settings: Settings,
    exercise: Exercise,
    inject: Inject,
    sink: EventSink | None,
) -> None:
    now = clock.now()
    injected = 0
    if exercise.mode == "technical" and inject.events is not None:
        if sink is None:
            raise ConflictError("sink: a technical exercise needs the collector pipeline")
        events = build_events(inject=inject, exercise_id=exercise.id, start=now)
        sink(events, source=SOURCE)
        injected = len(events)
    mails = 0
    if exercise.mode == "tabletop":
        to = [p["email"] for p in exercise.participants if p["role"] in inject.to]
        mails = mailer.send(
            db=db,
            clock=clock,
            settings=settings,
            participants=to,
            subject=f"{exercise.title}: {inject.title}",
            body=f"Van: {inject.sender}\nVoor: {', '.join(inject.to)}\n\n{inject.text}",
            purpose="inject",
            exercise_id=exercise.id,
        )
    db.add(
        ReleasedInject(
            exercise_id=exercise.id,
            inject_id=inject.id,
            kind=inject.kind,
            roles=list(inject.to),
            released_at=now,
            manual=False,
            events_injected=injected,
            mails_sent=mails,
        )
    )
    audit.record(
        db=db,
        clock=clock,
        actor="drills",
        action="drill.inject_released",
        object_type="drill",
        object_id=exercise.id,
        details={"inject": inject.id, "events": injected, "mails": mails},
    )


def current_injects(
    *, db: Session, exercise_id: str, loaded: LoadedScenario, role: str | None = None
) -> list[InjectView]:
    """Released injects for a role (all roles for the controller), newest first."""
    if role is not None and role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    by_id = {inject.id: inject for inject in loaded.scenario.msel}
    rows = db.scalars(
        select(ReleasedInject)
        .where(ReleasedInject.exercise_id == exercise_id)
        .order_by(ReleasedInject.released_at.desc(), ReleasedInject.id.desc())
    )

    adhoc = adhoc_texts(db, exercise_id)
    views = []
    for row in rows:
        if not row.roles or (role is not None and role not in row.roles):
            continue  # skipped by the controller, or for another role
        inject = by_id.get(row.inject_id)
        if inject is not None:
            title, text, sender = inject.title, inject.text, inject.sender
        elif row.inject_id in adhoc:
            (title, text), sender = adhoc[row.inject_id], "Oefenleiding"
        else:
            continue
        views.append(InjectView(row.inject_id, row.kind, title, text, sender, row.released_at))
    return views


def record_entry(
    *,
    db: Session,
    clock: Clock,
    exercise_id: str,
    kind: str,
    text: str,
    author: str,
    role: str | None = None,
) -> Entry:
    """A player's decision or action, or a (hot-wash) note."""
    if kind not in ENTRY_KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(ENTRY_KINDS)}")
    if not text.strip():
        raise ValidationError("text", "must not be empty")
    if role is not None and role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    get_exercise(db=db, exercise_id=exercise_id)
    entry = Entry(
        exercise_id=exercise_id,
        kind=kind,
        role=role,
        author=author,
        text=text.strip(),
        at=clock.now(),
    )
    db.add(entry)
    db.flush()
    return entry


def entries(*, db: Session, exercise_id: str) -> list[Entry]:
    return list(
        db.scalars(
            select(Entry).where(Entry.exercise_id == exercise_id).order_by(Entry.at, Entry.id)
        )
    )


def mark_expectation(
    *,
    db: Session,
    clock: Clock,
    exercise_id: str,
    expectation_id: str,
    met: bool,
    note: str,
    actor: str,
) -> Expectation:
    """The controller scores an expectation met or missed, with a note."""
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    row = db.scalar(
        select(Expectation).where(
            Expectation.exercise_id == exercise_id, Expectation.expectation_id == expectation_id
        )
    )
    if row is None:
        raise NotFoundError(f"expectation {expectation_id!r} not in exercise {exercise_id}")
    now = clock.now()
    row.status = "met" if met else "missed"
    row.note = note.strip() or None
    row.marked_by = actor
    if met and exercise.started_at is not None:
        row.met_at = now
        row.minutes_taken = round(scenario_minutes(exercise, now), 3)
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.expectation_marked",
        object_type="drill",
        object_id=exercise_id,
        details={"expectation": expectation_id, "status": row.status},
    )
    db.flush()
    return row


def expectations(*, db: Session, exercise_id: str) -> list[Expectation]:
    return list(
        db.scalars(
            select(Expectation)
            .where(Expectation.exercise_id == exercise_id)
            .order_by(Expectation.id)
        )
    )
