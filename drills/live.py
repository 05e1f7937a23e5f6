"""The controller's hand on a running exercise: skip an inject, add an ad-hoc one.

A skipped inject is recorded as released to nobody (so beat never releases it); an ad-hoc
inject is a released inject `AH<n>` whose title and text are kept as an `adhoc` entry (the MSEL
stays the frozen scenario). Both are audited; neither commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import ConflictError, ValidationError
from drills import scenarios
from drills.control import PAUSED, RUNNING, get_exercise
from drills.models import Entry, ReleasedInject
from drills.schemas import ROLES, Inject, LoadedScenario

ADHOC = "adhoc"


def skip_inject(*, db: Session, clock: Clock, exercise_id: str, inject_id: str, actor: str) -> None:
    """Mark an MSEL inject as not to be played; ValidationError names the injects still open."""
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    if exercise.status not in (RUNNING, PAUSED):
        raise ConflictError(f"status: exercise {exercise_id} is {exercise.status}")
    msel = scenarios.get_scenario(exercise.scenario_id).scenario.msel
    released = set(
        db.scalars(
            select(ReleasedInject.inject_id).where(ReleasedInject.exercise_id == exercise_id)
        )
    )
    open_ids = [i.id for i in msel if i.id not in released]
    inject = next((i for i in msel if i.id == inject_id and i.id not in released), None)
    if inject is None:
        raise ValidationError(
            "inject", f"{inject_id!r} is not an open inject; open: {', '.join(open_ids) or 'none'}"
        )
    db.add(
        ReleasedInject(
            exercise_id=exercise_id,
            inject_id=inject_id,
            kind=inject.kind,
            roles=[],
            released_at=clock.now(),
            manual=True,
        )
    )
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.inject_skipped",
        object_type="drill",
        object_id=exercise_id,
        details={"inject": inject_id},
    )
    db.flush()


def add_adhoc_inject(
    *,
    db: Session,
    clock: Clock,
    exercise_id: str,
    roles: Sequence[str],
    title: str,
    text: str,
    actor: str,
) -> str:
    """Release a message the scenario did not foresee to `roles` now; returns its id (AH<n>)."""
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    if exercise.status not in (RUNNING, PAUSED):
        raise ConflictError(f"status: exercise {exercise_id} is {exercise.status}")
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValidationError("to", f"choose one or more of {', '.join(ROLES)}")
    if len(title.strip()) < 3:
        raise ValidationError("title", "at least 3 characters")
    if not text.strip():
        raise ValidationError("text", "must not be empty")
    count = db.scalar(
        select(func.count())
        .select_from(Entry)
        .where(Entry.exercise_id == exercise_id, Entry.kind == ADHOC)
    )
    inject_id = f"AH{int(count or 0) + 1}"
    now = clock.now()
    db.add(
        Entry(
            exercise_id=exercise_id,
            kind=ADHOC,
            role=None,
            author=actor,
            text=f"[{inject_id}] {title.strip()}\n{text.strip()}",
            at=now,
        )
    )
    db.add(
        ReleasedInject(
            exercise_id=exercise_id,
            inject_id=inject_id,
            kind="message",
            roles=list(roles),
            released_at=now,
            manual=True,
        )
    )
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.inject_adhoc",
        object_type="drill",
        object_id=exercise_id,
        details={"inject": inject_id, "to": list(roles)},
    )
    db.flush()
    return inject_id


def open_injects(*, db: Session, exercise_id: str, loaded: LoadedScenario) -> list[Inject]:
    """MSEL injects not yet released or skipped, in time order (the controller may skip them)."""
    released = set(
        db.scalars(
            select(ReleasedInject.inject_id).where(ReleasedInject.exercise_id == exercise_id)
        )
    )
    return [inject for inject in loaded.scenario.msel if inject.id not in released]


def adhoc_texts(db: Session, exercise_id: str) -> dict[str, tuple[str, str]]:
    """Title and text of each ad-hoc inject of an exercise, by inject id."""
    found: dict[str, tuple[str, str]] = {}
    for entry in db.scalars(
        select(Entry).where(Entry.exercise_id == exercise_id, Entry.kind == ADHOC)
    ):
        head, _, body = entry.text.partition("\n")
        inject_id, _, title = head.partition("] ")
        found[inject_id.lstrip("[")] = (title, body)
    return found
