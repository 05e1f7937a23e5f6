"""The DPO area's reads, composed from the breach workflow's own service functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from playbooks.breach import ap_notification, nis2
from playbooks.breach.letters import batches_of
from playbooks.breach.models import Breach, BreachChange, BreachReport, LetterBatch
from playbooks.breach.register import get_breach, history
from playbooks.breach.reports import list_reports


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report draft with what it still lacks before it can go to the authority."""

    report: BreachReport
    missing: list[str]


@dataclass(frozen=True, slots=True)
class BreachView:
    """One register entry with its history, reports and letter batches."""

    breach: Breach
    changes: list[BreachChange]
    reports: list[ReportView]
    batches: list[LetterBatch]


def report_missing(report: BreachReport) -> list[str]:
    """Missing fields by the report's own kind (AP notification or NIS2/Cbw report)."""
    if report.kind.startswith("ap_"):
        return ap_notification.missing(report)
    if report.kind.startswith("nis2_"):
        return nis2.missing(report)
    return []


def breach_view(*, db: Session, breach_id: int) -> BreachView:
    """Everything the breach page shows; NotFoundError when the id is unknown."""
    breach = get_breach(db=db, breach_id=breach_id)
    reports = [ReportView(r, report_missing(r)) for r in list_reports(db=db, breach_id=breach.id)]
    return BreachView(
        breach,
        history(db=db, breach_id=breach.id),
        reports,
        batches_of(db=db, breach_id=breach.id),
    )


def jsonable(value: Any) -> Any:
    """Datetimes as ISO strings for the JSON API; everything else as stored."""
    return value.isoformat() if hasattr(value, "isoformat") else value
