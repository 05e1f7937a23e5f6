"""A drill's breaches leave the register with the drill: the breach context removes its own rows."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from drills.rollback import delete_exercise_artefacts as delete_drill_artefacts
from drills.rollback import exercise_artefacts as drill_artefacts
from playbooks.breach import letters
from playbooks.breach import service as breach_service
from playbooks.breach.models import (
    Breach,
    BreachChange,
    BreachReminder,
    BreachReport,
    LetterBatch,
    LetterRecipient,
)
from playbooks.breach.states import State
from tests.playbooks.breach.support import complete_ap_draft, walk_to
from tests.playbooks.breach.test_letters import CSV, TEXTS

TABLES = (Breach, BreachChange, BreachReminder, BreachReport, LetterBatch, LetterRecipient)


def _exercise_breach_with_everything(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User, exercise_id: str
) -> Breach:
    breach = walk_to(
        State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo,
        exercise_id=exercise_id,
    )  # fmt: skip
    complete_ap_draft(db, clock, settings, breach)
    letters.create_letter_batch(
        db=db, clock=clock, actor="ali", breach_id=breach.id, recipients_csv=CSV, texts=TEXTS
    )
    return breach


def _rows(db: Session, breach_id: int) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        column = table.id if table is Breach else getattr(table, "breach_id", None)
        query = select(func.count()).select_from(table)
        if column is not None:
            query = query.where(column == breach_id)
        else:  # recipients hang off a batch
            batches = select(LetterBatch.id).where(LetterBatch.breach_id == breach_id)
            query = query.where(LetterRecipient.batch_id.in_(batches))
        counts[table.__tablename__] = int(db.scalar(query) or 0)
    return counts


def test_the_exercise_breach_and_all_its_rows_go_and_a_real_one_stays(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    drill = _exercise_breach_with_everything(db, clock, settings, dpo, "EX-2026-01")
    other_drill = walk_to(
        State.REGISTERED, db=db, clock=clock, settings=settings, dpo=dpo, exercise_id="EX-2026-02"
    )
    real = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo)
    before = _rows(db, drill.id)
    assert all(before.values()), before  # every table has rows of the drill's breach
    real_before, other_before = _rows(db, real.id), _rows(db, other_drill.id)

    found = breach_service.exercise_artefacts(db=db, exercise_id="EX-2026-01")
    assert [b["reference"] for b in found["breaches"]] == [drill.reference]
    assert drill.reference.startswith("OEF-")

    removed = breach_service.delete_exercise_artefacts(db=db, exercise_id="EX-2026-01")
    assert removed == before
    assert not any(_rows(db, drill.id).values())
    assert _rows(db, real.id) == real_before
    assert _rows(db, other_drill.id) == other_before
    assert breach_service.exercise_artefacts(db=db, exercise_id="EX-2026-01") == {"breaches": []}


def test_the_drills_clean_up_includes_the_breach_rows(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    drill = _exercise_breach_with_everything(db, clock, settings, dpo, "EX-2026-03")
    before = _rows(db, drill.id)
    artefacts = drill_artefacts(db=db, exercise_id="EX-2026-03")
    assert list(artefacts) == ["incidents", "steps", "handoffs", "breaches"]
    assert [b["id"] for b in artefacts["breaches"]] == [drill.id]
    removed = delete_drill_artefacts(db=db, exercise_id="EX-2026-03")
    assert {name: removed[name] for name in before} == before
    assert not any(_rows(db, drill.id).values())
