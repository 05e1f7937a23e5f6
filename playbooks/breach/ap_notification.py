"""The AP notification (Meldformulier datalekken): drafts, edits, finalising, follow-ups.

The questions are data: `forms/ap_notification.yml` (sections, labels nl/en, kinds, required
rules), loaded by form_specs.py. This module fills them from the register and keeps the
notification's lifecycle. The AP only accepts reports through its online form: this module
drafts the answers, it does not submit them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import Clock
from core.config import Settings
from core.errors import ValidationError
from playbooks.breach.form_specs import AP_FORM, form
from playbooks.breach.models import Breach, BreachReport
from playbooks.breach.register import get_breach, transition
from playbooks.breach.reports import (
    answer,
    create_report,
    finalise_draft,
    get_report,
    missing_fields,
    open_report,
    update_content,
)
from playbooks.breach.states import State

NATURES = ("lezen", "kopiëren", "veranderen", "verwijderen of vernietigen", "diefstal", "onbekend")


DELAY_REASON = "overig.reden_vertraging"


def _nature(breach: Breach) -> list[str]:
    mapping = {
        "confidentiality": "lezen",
        "integrity": "veranderen",
        "availability": "verwijderen of vernietigen",
    }
    return [mapping[t] for t in breach.breach_types if t in mapping]


def _prefill(breach: Breach, settings: Settings) -> dict[str, Any]:
    severity = (breach.assessment or {}).get("outcome", {})
    informed = {"notify_ap_and_subjects": "gepland", "notify_ap": "nee"}.get(breach.decision or "")
    values: dict[str, Any] = {
        "melding.wet": "AVG",
        "melding.soort": "nieuwe melding",
        "contact.organisatie": settings.organisation_name,
        "contact.contactpersoon": settings.dpo_name,
        "contact.contact_email": settings.dpo_email,
        "contact.contact_telefoon": settings.dpo_phone,
        "contact.andere_organisatie": breach.other_parties or None,
        "tijdlijn.begin": breach.started_at,
        "tijdlijn.ontdekt": breach.discovered_at or breach.aware_at,
        "tijdlijn.duurt_voort": breach.ongoing,
        "tijdlijn.einde": breach.ended_at,
        "datalek.samenvatting": breach.facts or None,
        "datalek.aard": _nature(breach) or None,
        "datalek.oorzaak": breach.cause or None,
        "persoonsgegevens.soorten": breach.data_categories or None,
        "persoonsgegevens.bijzondere": breach.special_categories,
        "persoonsgegevens.aantal_records": breach.records_estimate,
        "betrokkenen.groepen": breach.subject_categories or None,
        "betrokkenen.aantal_min": breach.subjects_min,
        "betrokkenen.aantal_max": breach.subjects_max,
        "betrokkenen.kwetsbare_groepen": breach.vulnerable_groups or None,
        "maatregelen_vooraf.onleesbaar": bool(breach.unintelligible) if breach.assessment else None,
        "maatregelen_vooraf.toelichting": breach.unintelligible or None,
        "gevolgen.vertrouwelijkheid_integriteit_beschikbaarheid": breach.effects or None,
        "gevolgen.ernst": (
            f"{severity['band']} (ENISA SE {severity['score']:g})" if severity else None
        ),
        "vervolg.betrokkenen_geinformeerd": informed,
        "vervolg.waarom_niet": (breach.subjects_informed or None) if informed == "nee" else None,
        "vervolg.maatregelen": breach.remedial_actions or None,
        "vervolg.grensoverschrijdend": breach.cross_border,
        "overig.reden_vertraging": breach.delay_reason or None,
    }
    return {k: v for k, v in values.items() if v is not None}


def draft_notification(
    *, db: Session, clock: Clock, settings: Settings, actor: str, breach_id: int
) -> BreachReport:
    """Draft the first AP notification from what the register knows."""
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.state != State.NOTIFICATION_DUE:
        raise ValidationError(
            "state", f"the DPO has not decided to notify (breach is {breach.state})"
        )
    existing = db.scalar(
        select(BreachReport).where(
            BreachReport.breach_id == breach.id,
            BreachReport.kind == "ap_initial",
            BreachReport.status == "draft",
        )
    )
    if existing is not None:
        return existing
    report = create_report(
        db=db, clock=clock, actor=actor, breach=breach, kind="ap_initial",
        specs=form(AP_FORM), prefill=_prefill(breach, settings),
    )  # fmt: skip
    db.flush()
    return report


def update_notification(
    *, db: Session, clock: Clock, actor: str, report_id: int, changes: dict[str, Any]
) -> BreachReport:
    """Answer fields of a draft AP notification (`{"section.key": value}`)."""
    return update_content(
        db=db, clock=clock, actor=actor, report_id=report_id, specs=form(AP_FORM), changes=changes
    )


def missing(report: BreachReport) -> list[str]:
    """What a draft still lacks, as `section.key (label)`."""
    return missing_fields(form(AP_FORM), report.content)


def finalise_notification(
    *, db: Session, clock: Clock, settings: Settings, dpo: User, report_id: int
) -> BreachReport:
    """Mark the draft as sent to the AP; refuses when fields are missing, late without reason,
    or the breach is an exercise. The first notification moves the breach to `notified`."""
    report, breach = open_report(db=db, report_id=report_id)
    initial = report.kind == "ap_initial"

    def notified() -> None:
        transition(db=db, clock=clock, breach=breach, actor=dpo.username, target=State.NOTIFIED)

    late = finalise_draft(
        db=db, clock=clock, settings=settings, dpo=dpo, report=report, breach=breach,
        specs=form(AP_FORM), clock_name="gdpr_ap" if initial else None,
        delay_reason_path=DELAY_REASON, then=notified if initial else None,
    )  # fmt: skip
    if late:
        breach.delay_reason = answer(report.content, DELAY_REASON)
    db.flush()
    return report


def create_followup(
    *, db: Session, clock: Clock, actor: str, report_id: int, purpose: str = "aanvulling"
) -> BreachReport:
    """A vervolgmelding linked to the first notification: to supplement, change or withdraw.

    `purpose` is `aanvulling`, `wijziging` or `intrekking`; it goes in `overig.overig`.
    """
    if purpose not in ("aanvulling", "wijziging", "intrekking"):
        raise ValidationError("purpose", "must be aanvulling, wijziging or intrekking")
    parent = get_report(db=db, report_id=report_id)
    while parent.parent_id is not None:  # always link to the first notification
        parent = get_report(db=db, report_id=parent.parent_id)
    if parent.kind != "ap_initial" or parent.status == "draft":
        raise ValidationError("report_id", "a follow-up needs a final first AP notification")
    breach = get_breach(db=db, breach_id=parent.breach_id)
    prefill = {
        f"{section}.{key}": value
        for section, values in parent.content.items()
        for key, value in values.items()
        if value is not None
    }
    prefill.update({"melding.soort": "vervolgmelding", "overig.overig": f"Doel: {purpose}"})
    if parent.authority_reference:
        prefill["melding.eerdere_melding"] = parent.authority_reference
    prefill.pop(DELAY_REASON, None)
    report = create_report(
        db=db, clock=clock, actor=actor, breach=breach, kind="ap_followup",
        specs=form(AP_FORM), prefill=prefill, parent_id=parent.id,
    )  # fmt: skip
    db.flush()
    return report


def followups(*, db: Session, report_id: int) -> list[BreachReport]:
    """The follow-up notifications of a first notification, oldest first."""
    return list(
        db.scalars(
            select(BreachReport)
            .where(BreachReport.parent_id == report_id)
            .order_by(BreachReport.id)
        )
    )
