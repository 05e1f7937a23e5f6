"""Criteria first: objective measures declared before start, frozen with a SHA-256 hash.

The hash covers the canonical JSON of the criteria. Once an exercise starts, any change is
refused, and `verify` recomputes the hash so a change made behind the service's back (straight
in the database) shows up in the report instead of passing silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import pydantic
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from drills.models import Exercise
from drills.schemas import Criterion


def canonical(criteria: Sequence[dict[str, Any]]) -> bytes:
    """Stable bytes of the criteria: sorted keys, no whitespace, so equal criteria hash equal."""
    return json.dumps(list(criteria), sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(criteria: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(canonical(criteria)).hexdigest()


def validated(criteria: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for index, raw in enumerate(criteria):
        try:
            out.append(Criterion.model_validate(raw).model_dump())
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ValidationError(f"criteria[{index}].{where}", error["msg"]) from None
    return out


def declare(
    *, db: Session, clock: Clock, exercise_id: str, criteria: Sequence[dict[str, Any]], actor: str
) -> Exercise:
    """Set the criteria of a planned exercise; refused once they are frozen."""
    exercise = db.get(Exercise, exercise_id)
    if exercise is None:
        raise NotFoundError(f"exercise {exercise_id!r} not found")
    if exercise.criteria_sha256 is not None:
        raise ConflictError(
            f"criteria: frozen at {exercise.criteria_frozen_at} (sha256 "
            f"{exercise.criteria_sha256[:12]}...); criteria cannot change after the start"
        )
    exercise.criteria = validated(criteria)
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.criteria_declared",
        object_type="drill",
        object_id=exercise.id,
        details={"criteria": exercise.criteria},
    )
    db.flush()
    return exercise


def freeze(*, exercise: Exercise, clock: Clock) -> str:
    """Hash the criteria at start (in the caller's transaction); an empty list is refused."""
    if not exercise.criteria:
        raise ValidationError("criteria", "declare at least one criterion before the start")
    exercise.criteria_sha256 = digest(exercise.criteria)
    exercise.criteria_frozen_at = clock.now()
    return exercise.criteria_sha256


def verify(exercise: Exercise) -> bool:
    """True when the stored criteria still match the hash taken at the start."""
    return exercise.criteria_sha256 is not None and digest(exercise.criteria) == (
        exercise.criteria_sha256
    )
