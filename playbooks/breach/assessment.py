"""Guided risk assessment (EDPB factors + ENISA severity) and the DPO's recorded decision.

ENISA "Recommendations for a methodology of the assessment of severity of personal data
breaches" (2013): severity SE = DPC x EI + CB, where

- DPC (Data Processing Context, 1-4): the type of data (1 simple, 2 behavioural, 3 financial,
  4 sensitive), raised or lowered by context (volume per person, vulnerable people, what the
  controller's role reveals; old or public data), kept within 1-4;
- EI (Ease of Identification): 0.25 negligible, 0.5 limited, 0.75 significant, 1 maximum;
  it can only lower the score;
- CB (Circumstances of Breach): loss of confidentiality, integrity and availability each
  add 0, 0.25 or 0.5, malicious intent adds 0.5; it can only raise the score.

Bands: SE < 2 low, 2 <= SE < 3 medium, 3 <= SE < 4 high, SE >= 4 very high.

The score supports judgement; it does not decide. The recommendation below adds the EDPB
Guidelines 9/2022 Section IV.B factors:

- low -> no notification, *unless* special categories are involved (damage is then presumed
  likely) or more than 100 people are affected (ENISA's volume flag): then notify the AP;
- medium -> notify the AP;
- high / very high -> notify the AP and inform the data subjects (Art. 34), unless an Art. 34(3)
  exception applies: (a) the data were unintelligible (e.g. encryption, key safe), (b) later
  measures mean the high risk is no longer likely, (c) individual notice takes disproportionate
  effort -- then a public communication replaces the letters;
- data made unintelligible by state-of-the-art protection, in a confidentiality-only breach,
  lowers the recommendation to no notification (EDPB 9/2022 para. 64-65): register it anyway.

The DPO then decides and must write down why; a decision that departs from the
recommendation needs that reason all the more, and both are kept in the register.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.clock import Clock
from core.errors import ValidationError
from playbooks.breach.models import Breach
from playbooks.breach.register import get_breach, log_change, transition
from playbooks.breach.schemas import AssessmentInput, Decision, parse
from playbooks.breach.states import State

EI_VALUES = {"negligible": 0.25, "limited": 0.5, "significant": 0.75, "maximum": 1.0}
CB_STEP = 0.25
MALICIOUS_BONUS = 0.5
VOLUME_FLAG = 100
DECISIONS: tuple[Decision, ...] = ("no_notification", "notify_ap", "notify_ap_and_subjects")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The computed part of an assessment: score, band, recommendation and the reasons."""

    dpc: int
    ei: float
    cb: float
    score: float
    band: str  # low | medium | high | very_high
    recommendation: Decision
    public_communication: bool  # Art. 34(3)(c): inform the public instead of each person
    reasons: tuple[str, ...]


def severity_band(score: float) -> str:
    """ENISA's four bands."""
    if score < 2:
        return "low"
    if score < 3:
        return "medium"
    if score < 4:
        return "high"
    return "very_high"


def evaluate(answers: AssessmentInput) -> Outcome:
    """Score the answers with ENISA and turn the EDPB factors into a recommendation."""
    dpc = max(1, min(4, answers.dpc_base + answers.dpc_adjustment))
    ei = EI_VALUES[answers.ease_of_identification]
    cb = CB_STEP * (
        answers.loss_of_confidentiality + answers.loss_of_integrity + answers.loss_of_availability
    ) + (MALICIOUS_BONUS if answers.malicious_intent else 0.0)
    score = round(dpc * ei + cb, 4)
    band = severity_band(score)
    reasons = [f"ENISA: SE = {dpc} x {ei} + {cb} = {score:g} ({band})"]
    many = (answers.number_of_individuals or 0) > VOLUME_FLAG
    confidentiality_only = not (answers.loss_of_integrity or answers.loss_of_availability)
    recommendation: Decision
    if band == "low":
        recommendation = "no_notification"
        if answers.special_categories_involved:
            recommendation = "notify_ap"
            reasons.append("special categories involved: damage is presumed likely (EDPB)")
        if many:
            recommendation = "notify_ap"
            reasons.append(f"more than {VOLUME_FLAG} people affected (ENISA volume flag)")
    elif band == "medium":
        recommendation = "notify_ap"
        reasons.append("medium severity: a risk is likely, notify the AP (Art. 33)")
    else:
        recommendation = "notify_ap_and_subjects"
        reasons.append("high severity: likely a high risk, inform the data subjects (Art. 34)")
    public = False
    if recommendation == "notify_ap_and_subjects":
        if answers.data_unintelligible:
            recommendation = "notify_ap"
            reasons.append("Art. 34(3)(a): data unintelligible to others; no letters needed")
        elif answers.risk_no_longer_likely:
            recommendation = "notify_ap"
            reasons.append("Art. 34(3)(b): later measures removed the high risk")
        elif answers.disproportionate_effort:
            public = True
            reasons.append("Art. 34(3)(c): disproportionate effort; use a public communication")
    if answers.data_unintelligible and confidentiality_only and band != "very_high":
        recommendation = "no_notification"
        reasons.append("data unintelligible and only confidentiality lost: unlikely to be a risk")
    return Outcome(dpc, ei, cb, score, band, recommendation, public, tuple(reasons))


def record_assessment(
    *, db: Session, clock: Clock, actor: str, breach_id: int, answers: dict[str, Any]
) -> Outcome:
    """Store the answers and the outcome on a breach that is being assessed."""
    parsed = parse(AssessmentInput, answers)
    outcome = evaluate(parsed)
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.state != State.ASSESSING:
        raise ValidationError("state", f"start the assessment first (breach is {breach.state})")
    before = breach.assessment
    breach.assessment = {"answers": parsed.model_dump(), "outcome": asdict(outcome)}
    breach.updated_at = clock.now()
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="assessed", field="assessment",
        before=before, after=breach.assessment,
    )  # fmt: skip
    db.flush()
    return outcome


def decide(
    *, db: Session, clock: Clock, dpo: User, breach_id: int, decision: str, reason: str
) -> Breach:
    """The DPO's decision with its reason; moves the breach to no_notification or notification_due.

    Recording why a breach is *not* notified is what lets the AP check the choice later.
    """
    if dpo.role != Role.DPO or not dpo.active:
        raise ValidationError("dpo", "only an active DPO (FG) decides on notification")
    if decision not in DECISIONS:
        raise ValidationError("decision", f"must be one of {', '.join(DECISIONS)}")
    if not reason.strip():
        raise ValidationError("reason", "write down why (Art. 33(5) and EDPB 9/2022)")
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.assessment is None:
        raise ValidationError("assessment", "record the risk assessment before deciding")
    target = State.NO_NOTIFICATION if decision == "no_notification" else State.NOTIFICATION_DUE
    transition(db=db, clock=clock, breach=breach, actor=dpo.username, target=target, note=reason)
    recommended = breach.assessment["outcome"]["recommendation"]
    note = reason if recommended == decision else f"{reason} (afwijkend van advies: {recommended})"
    for name, value in (("decision", decision), ("decision_reason", note)):
        log_change(
            db=db, clock=clock, breach=breach, actor=dpo.username, action="decided",
            field=name, before=getattr(breach, name), after=value,
        )  # fmt: skip
        setattr(breach, name, value)
    breach.decided_by = dpo.username
    breach.decided_at = clock.now()
    db.flush()
    return breach
