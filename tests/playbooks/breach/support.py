"""Helpers that walk a breach to a given state through the real service functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from playbooks.breach import ap_notification, assessment, register
from playbooks.breach.models import Breach
from playbooks.breach.states import State

HIGH_RISK: dict[str, Any] = {
    "dpc_base": 4,
    "ease_of_identification": "maximum",
    "loss_of_confidentiality": 2,
    "malicious_intent": True,
    "nature_sensitivity_volume": "Wmo-dossiers met gezondheidsgegevens van 1200 inwoners",
    "severity_of_consequences": "Schaamte, discriminatie, misbruik van BSN",
    "number_of_individuals": 1200,
    "special_categories_involved": True,
}
LOW_RISK: dict[str, Any] = {
    "dpc_base": 1,
    "ease_of_identification": "limited",
    "loss_of_confidentiality": 1,
    "nature_sensitivity_volume": "Eén e-mailadres naar een verkeerde collega",
    "severity_of_consequences": "Nauwelijks",
    "number_of_individuals": 1,
}
FACTS: dict[str, Any] = {
    "facts": "Een aanvaller kopieerde Wmo-dossiers uit het zaaksysteem.",
    "cause": "Gestolen wachtwoord van een medewerker zonder MFA.",
    "effects": "Vertrouwelijkheid geschonden; gegevens mogelijk gepubliceerd.",
    "remedial_actions": "Account geblokkeerd, MFA verplicht, wachtwoorden gereset.",
    "breach_types": ["confidentiality"],
    "data_categories": ["naam", "adres", "BSN"],
    "special_categories": ["gezondheid"],
    "subject_categories": ["inwoners met Wmo-voorziening"],
    "subjects_min": 1000,
    "subjects_max": 1200,
    "records_estimate": 5000,
    "ongoing": False,
    "cross_border": False,
    "vulnerable_groups": "ouderen en mensen met een beperking",
}


def open_manual(
    db: Session, clock: FrozenClock, settings: Settings, exercise_id: str | None = None
) -> Breach:
    return register.open_breach(
        db=db, clock=clock, settings=settings, actor="ali", title="Wmo-dossiers gekopieerd",
        fields={**FACTS, "started_at": clock.now(), "ended_at": clock.now()},
        exercise_id=exercise_id,
    )  # fmt: skip


def walk_to(
    state: State,
    *,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    dpo: User,
    exercise_id: str | None = None,
) -> Breach:
    """A breach in `state`, reached by legal steps."""
    if state == State.CLOSED:
        notified = walk_to(State.NOTIFIED, db=db, clock=clock, settings=settings, dpo=dpo)
        return register.close_breach(db=db, clock=clock, actor="fenna", breach_id=notified.id)
    breach = open_manual(db, clock, settings, exercise_id)
    if state == State.REGISTERED:
        return breach
    if state == State.NOT_A_BREACH:
        return register.mark_not_a_breach(
            db=db, clock=clock, actor="ali", breach_id=breach.id, reason="Geen persoonsgegevens"
        )
    register.start_assessment(db=db, clock=clock, actor="ali", breach_id=breach.id)
    if state == State.ASSESSING:
        return breach
    if state == State.NO_NOTIFICATION:
        assessment.record_assessment(
            db=db, clock=clock, actor="ali", breach_id=breach.id, answers=LOW_RISK
        )
        return assessment.decide(
            db=db, clock=clock, dpo=dpo, breach_id=breach.id, decision="no_notification",
            reason="Eén adres, geen risico",
        )  # fmt: skip
    assessment.record_assessment(
        db=db, clock=clock, actor="ali", breach_id=breach.id, answers=HIGH_RISK
    )
    assessment.decide(
        db=db, clock=clock, dpo=dpo, breach_id=breach.id, decision="notify_ap_and_subjects",
        reason="Gezondheidsgegevens van veel inwoners",
    )  # fmt: skip
    if state == State.NOTIFICATION_DUE:
        return breach
    report = complete_ap_draft(db, clock, settings, breach)
    ap_notification.finalise_notification(
        db=db, clock=clock, settings=settings, dpo=dpo, report_id=report.id
    )
    return register.get_breach(db=db, breach_id=breach.id)


def complete_ap_draft(db: Session, clock: FrozenClock, settings: Settings, breach: Breach) -> Any:
    report = ap_notification.draft_notification(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id
    )
    return ap_notification.update_notification(
        db=db, clock=clock, actor="ali", report_id=report.id,
        changes={
            "contact.melder_naam": "Fenna de Groot",
            "contact.melder_functie": "Functionaris gegevensbescherming",
            "contact.melder_telefoon": "050 123 45 67",
            "contact.melder_email": "fg@dijkstad.example",
            "contact.andere_organisatie": "geen",
            "gevolgen.schade": "Mogelijk misbruik van BSN en schaamte",
            "vervolg.betrokkenen_geinformeerd": "gepland",
        },
    )  # fmt: skip
