"""Response metrics: time to acknowledge, contain and close, per incident and per month.

Acknowledged is the first move out of `new`, contained the first move to `contained` or later,
closed the (last) close. Monthly means (MTTA/MTTC/MTTR) take the incidents created in that
month that reached the milestone; exercise incidents are left out, they are drills.
"""

from __future__ import annotations

from datetime import datetime
from statistics import fmean

from sqlalchemy import select
from sqlalchemy.orm import Session

from playbooks.incidents import get_incident
from playbooks.models import Incident
from playbooks.schemas import IncidentMetrics, MonthlyMetrics


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _metrics(incident: Incident) -> IncidentMetrics:
    return IncidentMetrics(
        incident_id=incident.id,
        time_to_acknowledge=_seconds(incident.created_at, incident.acknowledged_at),
        time_to_contain=_seconds(incident.created_at, incident.contained_at),
        time_to_close=_seconds(incident.created_at, incident.closed_at),
    )


def incident_metrics(*, db: Session, incident_id: int) -> IncidentMetrics:
    """The three times of one incident, in seconds (None: milestone not reached)."""
    return _metrics(get_incident(db=db, incident_id=incident_id))


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return fmean(present) if present else None


def monthly_metrics(
    *, db: Session, start: datetime | None = None, end: datetime | None = None
) -> list[MonthlyMetrics]:
    """MTTA, MTTC and MTTR per month (`YYYY-MM`, UTC) of incident creation, oldest first."""
    query = select(Incident).where(Incident.exercise_id.is_(None))
    if start is not None:
        query = query.where(Incident.created_at >= start)
    if end is not None:
        query = query.where(Incident.created_at < end)
    months: dict[str, list[IncidentMetrics]] = {}
    for incident in db.scalars(query.order_by(Incident.created_at)):
        months.setdefault(incident.created_at.strftime("%Y-%m"), []).append(_metrics(incident))
    return [
        MonthlyMetrics(
            month=month,
            incidents=len(items),
            mtta=_mean([item.time_to_acknowledge for item in items]),
            mttc=_mean([item.time_to_contain for item in items]),
            mttr=_mean([item.time_to_close for item in items]),
        )
        for month, items in months.items()
    ]
