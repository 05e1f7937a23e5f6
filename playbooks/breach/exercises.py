"""What a drill left in the breach register, and removing it (asked for by drills' roll-back).

Exercise breaches carry the drill's `exercise_id`; everything hanging off them (reports,
reminders, history, letter batches and their recipients) goes with them. The playbooks
domain's exercise clean-up calls these through the breach service facade, so the breach tables
are touched only inside this context.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from playbooks.breach.models import (
    Breach,
    BreachChange,
    BreachReminder,
    BreachReport,
    LetterBatch,
    LetterRecipient,
)


def exercise_artefacts(*, db: Session, exercise_id: str) -> dict[str, list[dict[str, Any]]]:
    """The breaches one exercise opened, with their reference, time and state."""
    breaches = db.scalars(select(Breach).where(Breach.exercise_id == exercise_id))
    return {
        "breaches": [
            {"id": b.id, "reference": b.reference, "created_at": b.created_at, "state": b.state}
            for b in breaches
        ]
    }


def delete_exercise_artefacts(*, db: Session, exercise_id: str) -> dict[str, int]:
    """Delete every breach row of one exercise, children first; rows removed per table.

    No commit: the caller's unit of work holds it together with the rest of the roll-back.
    Follow-up reports point at their first notification, so those links are cut first.
    """
    removed: dict[str, int] = {}

    def gone(table: Any, where: Any) -> None:
        result = db.execute(delete(table).where(where))
        removed[table.__tablename__] = removed.get(table.__tablename__, 0) + int(
            result.rowcount or 0  # type: ignore[attr-defined]
        )

    breaches = select(Breach.id).where(Breach.exercise_id == exercise_id)
    batches = select(LetterBatch.id).where(LetterBatch.breach_id.in_(breaches))
    gone(LetterRecipient, LetterRecipient.batch_id.in_(batches))
    gone(LetterBatch, LetterBatch.breach_id.in_(breaches))
    db.execute(
        update(BreachReport).where(BreachReport.breach_id.in_(breaches)).values(parent_id=None)
    )
    for child in (BreachReport, BreachReminder, BreachChange):
        gone(child, child.breach_id.in_(breaches))
    gone(Breach, Breach.exercise_id == exercise_id)
    return removed
