"""NIS2 Art. 23 / Cbw reports on the same incident: early warning, notification, final report.

- Early warning (24 h, Cbw Art. 28): suspected malicious act? possible cross-border effect?
  and the contact details of the responsible official (a Dutch addition).
- Incident notification (72 h): updates the early warning; initial assessment of severity and
  impact; indicators of compromise where available.
- Final report (1 month after the notification): detailed description, severity and impact,
  type of threat or root cause, applied and ongoing mitigation, cross-border impact.

Recipients: the CSIRT (for municipalities: through the IBD / NCSC) and the competent authority
(RDI). These are drafts; submission goes through the authority's own portal. The questions of
each stage are data: `forms/nis2_*.yml`, loaded by form_specs.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import Clock
from core.config import Settings
from core.errors import ValidationError
from playbooks.breach import clocks
from playbooks.breach.form_specs import NIS2_FORMS, form
from playbooks.breach.models import Breach, BreachReport
from playbooks.breach.register import get_breach
from playbooks.breach.reports import (
    create_report,
    finalise_draft,
    get_report,
    missing_fields,
    update_content,
)

DELAY_REASON = "overig.reden_vertraging"
CLOCK_OF = {
    "nis2_early_warning": "nis2_early_warning",
    "nis2_notification": "nis2_notification",
    "nis2_final": "nis2_final_report",
}


def _prefill(
    kind: str, breach: Breach, settings: Settings, earlier: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "entiteit.organisatie": settings.organisation_name,
        "entiteit.verantwoordelijke_naam": settings.dpo_name,
        "entiteit.verantwoordelijke_email": settings.dpo_email,
        "entiteit.verantwoordelijke_telefoon": settings.dpo_phone,
        "incident.samenvatting": breach.facts or None,
        "incident.grensoverschrijdend_mogelijk": breach.cross_border,
    }
    if kind == "nis2_final":
        values.update(
            {
                "eindrapport.beschrijving": breach.facts or None,
                "eindrapport.dreiging_oorzaak": breach.cause or None,
            }
        )
    values.update({k: v for k, v in earlier.items() if k.split(".")[0] in ("entiteit", "incident")})
    paths = {spec.path for spec in form(kind)}
    return {k: v for k, v in values.items() if v is not None and k in paths}


def draft_report(
    *, db: Session, clock: Clock, settings: Settings, actor: str, breach_id: int, kind: str
) -> BreachReport:
    """Draft a NIS2/Cbw report, carrying over answers from the previous stage."""
    if kind not in NIS2_FORMS:
        raise ValidationError("kind", f"must be one of {', '.join(NIS2_FORMS)}")
    breach = get_breach(db=db, breach_id=breach_id)
    if not breach.nis2_applies:
        raise ValidationError("nis2_applies", "the NIS2/Cbw regime does not apply to this breach")
    earlier: dict[str, Any] = {}
    for report in db.scalars(
        select(BreachReport)
        .where(BreachReport.breach_id == breach.id, BreachReport.kind.in_(NIS2_FORMS))
        .order_by(BreachReport.id)
    ):
        for section, values in report.content.items():
            earlier.update({f"{section}.{k}": v for k, v in values.items() if v is not None})
    report = create_report(
        db=db, clock=clock, actor=actor, breach=breach, kind=kind, specs=form(kind),
        prefill=_prefill(kind, breach, settings, earlier),
    )  # fmt: skip
    db.flush()
    return report


def update_report(
    *, db: Session, clock: Clock, actor: str, report_id: int, changes: dict[str, Any]
) -> BreachReport:
    """Answer fields of a NIS2/Cbw draft."""
    kind = get_report(db=db, report_id=report_id).kind
    return update_content(
        db=db, clock=clock, actor=actor, report_id=report_id, specs=form(kind), changes=changes
    )


def missing(report: BreachReport) -> list[str]:
    """What a NIS2/Cbw draft still lacks."""
    return missing_fields(form(report.kind), report.content)


def finalise_report(
    *, db: Session, clock: Clock, settings: Settings, dpo: User, report_id: int
) -> BreachReport:
    """Mark a NIS2/Cbw report as sent; same refusals as the AP notification."""
    report = get_report(db=db, report_id=report_id)
    if report.kind not in NIS2_FORMS:
        raise ValidationError("report_id", f"report {report_id} is not a NIS2/Cbw report")
    breach = get_breach(db=db, breach_id=report.breach_id)
    finalise_draft(
        db=db, clock=clock, settings=settings, dpo=dpo, report=report, breach=breach,
        specs=form(report.kind), clock_name=CLOCK_OF[report.kind],
        delay_reason_path=DELAY_REASON,
    )  # fmt: skip
    if report.kind == "nis2_notification" and report.finalised_at is not None:
        clocks.move_final_report_reminders(
            db=db, breach=breach, settings=settings, notified_at=report.finalised_at
        )
    db.flush()
    return report
