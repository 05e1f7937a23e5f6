"""The state machine: every legal step works through the services, every other one is refused."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import pytest
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from playbooks.breach import ap_notification, assessment, register
from playbooks.breach.models import Breach
from playbooks.breach.states import TRANSITIONS, IllegalTransition, State, refusal
from tests.playbooks.breach.support import HIGH_RISK, LOW_RISK, complete_ap_draft, walk_to

Step = Callable[[Session, FrozenClock, Settings, User, Breach], object]


def _assess_and_decide(answers: dict[str, object], decision: str) -> Step:
    def step(db: Session, clock: FrozenClock, settings: Settings, dpo: User, b: Breach) -> object:
        assessment.record_assessment(
            db=db, clock=clock, actor="ali", breach_id=b.id, answers=answers
        )
        return assessment.decide(
            db=db, clock=clock, dpo=dpo, breach_id=b.id, decision=decision, reason="Zie beoordeling"
        )

    return step


def _finalise(db: Session, clock: FrozenClock, settings: Settings, dpo: User, b: Breach) -> object:
    report = complete_ap_draft(db, clock, settings, b)
    return ap_notification.finalise_notification(
        db=db, clock=clock, settings=settings, dpo=dpo, report_id=report.id
    )


def _reassess(db: Session, clock: FrozenClock, settings: Settings, dpo: User, b: Breach) -> object:
    return register.start_assessment(
        db=db, clock=clock, actor="ali", breach_id=b.id, note="Nieuwe feiten"
    )


def _not_a_breach(db: Session, clock: FrozenClock, s: Settings, dpo: User, b: Breach) -> object:
    return register.mark_not_a_breach(
        db=db, clock=clock, actor="ali", breach_id=b.id, reason="Alleen testgegevens"
    )


def _close(db: Session, clock: FrozenClock, settings: Settings, dpo: User, b: Breach) -> object:
    return register.close_breach(db=db, clock=clock, actor="fenna", breach_id=b.id)


LEGAL: dict[tuple[State, State], Step] = {
    (State.REGISTERED, State.ASSESSING): _reassess,
    (State.REGISTERED, State.NOT_A_BREACH): _not_a_breach,
    (State.ASSESSING, State.NOT_A_BREACH): _not_a_breach,
    (State.ASSESSING, State.NO_NOTIFICATION): _assess_and_decide(LOW_RISK, "no_notification"),
    (State.ASSESSING, State.NOTIFICATION_DUE): _assess_and_decide(HIGH_RISK, "notify_ap"),
    (State.NOT_A_BREACH, State.ASSESSING): _reassess,
    (State.NOT_A_BREACH, State.CLOSED): _close,
    (State.NO_NOTIFICATION, State.ASSESSING): _reassess,
    (State.NO_NOTIFICATION, State.CLOSED): _close,
    (State.NOTIFICATION_DUE, State.ASSESSING): _reassess,
    (State.NOTIFICATION_DUE, State.NOTIFIED): _finalise,
    (State.NOTIFIED, State.CLOSED): _close,
}
ILLEGAL = [pair for pair in product(State, State) if pair not in LEGAL]


def test_the_table_and_the_tests_agree() -> None:
    assert set(LEGAL) == {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert len(ILLEGAL) == len(State) ** 2 - len(LEGAL)


@pytest.mark.parametrize(("current", "target"), list(LEGAL), ids=lambda s: str(s))
def test_every_legal_transition(
    current: State, target: State, db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(current, db=db, clock=clock, settings=settings, dpo=dpo)
    assert breach.state == current
    LEGAL[(current, target)](db, clock, settings, dpo, breach)
    again = register.get_breach(db=db, breach_id=breach.id)
    assert again.state == target
    last = register.history(db=db, breach_id=breach.id)[-1]
    states = [c for c in register.history(db=db, breach_id=breach.id) if c.field == "state"]
    assert states[-1].before == current and states[-1].after == target
    assert last.actor in ("ali", "fenna")


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=lambda s: str(s))
def test_every_illegal_transition_is_refused_with_a_reason(
    current: State, target: State, db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(current, db=db, clock=clock, settings=settings, dpo=dpo)
    db.commit()  # the test is the boundary: the walk is saved, the refused step rolled back
    with pytest.raises(IllegalTransition) as caught:
        register.transition(db=db, clock=clock, breach=breach, actor="ali", target=target)
    db.rollback()
    reason = refusal(current, target)
    assert reason and caught.value.reason == reason
    assert f"cannot go from {current} to {target}" in str(caught.value)
    assert register.get_breach(db=db, breach_id=breach.id).state == current


def test_decisions_need_a_dpo_a_reason_and_an_assessment(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User, analyst: User
) -> None:
    breach = walk_to(State.ASSESSING, db=db, clock=clock, settings=settings, dpo=dpo)
    with pytest.raises(ValidationError, match="assessment"):
        assessment.decide(
            db=db, clock=clock, dpo=dpo, breach_id=breach.id, decision="notify_ap", reason="x"
        )
    assessment.record_assessment(
        db=db, clock=clock, actor="ali", breach_id=breach.id, answers=HIGH_RISK
    )
    with pytest.raises(ValidationError, match="DPO"):
        assessment.decide(
            db=db, clock=clock, dpo=analyst, breach_id=breach.id, decision="notify_ap", reason="x"
        )
    with pytest.raises(ValidationError, match="reason"):
        assessment.decide(
            db=db, clock=clock, dpo=dpo, breach_id=breach.id, decision="notify_ap", reason=" "
        )
    decided = assessment.decide(
        db=db, clock=clock, dpo=dpo, breach_id=breach.id, decision="no_notification",
        reason="Gegevens waren al openbaar",
    )  # fmt: skip
    # Departing from the recommendation is allowed, and the register says so.
    assert "afwijkend van advies: notify_ap_and_subjects" in decided.decision_reason


def test_closing_needs_remedial_actions(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(State.NO_NOTIFICATION, db=db, clock=clock, settings=settings, dpo=dpo)
    register.update_breach(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id,
        changes={"remedial_actions": ""},
    )  # fmt: skip
    with pytest.raises(ValidationError, match="remedial_actions"):
        register.close_breach(db=db, clock=clock, actor="ali", breach_id=breach.id)
