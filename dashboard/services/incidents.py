"""Incident pages' reads and triage, composed from playbooks' service API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.errors import ValidationError
from core.queue import create_celery
from core.store.base import AlertStore
from dashboard.services.timerange import Histogram, TimeRange, time_slices
from playbooks.models import AdhocTask, Evidence, Incident, PlaybookRun, RunStep
from playbooks.schemas import SEVERITIES, ObservableLink, RouteResult, TimelineEntry
from playbooks.service import (
    OPEN_STATUSES,
    STATUSES,
    alert_ids,
    comments,
    created_per_slice,
    get_incident,
    list_evidence,
    list_incidents,
    load_library,
    observables_of,
    param_origins,
    render_markdown,
    route_alert,
    runs_of,
    steps_of,
    tasks_of,
    timeline,
)
from playbooks.tasks import send


@dataclass(frozen=True, slots=True)
class CommentView:
    author: str
    created_at: datetime
    html: Markup


@dataclass(frozen=True, slots=True)
class IncidentView:
    """Everything the incident page shows."""

    incident: Incident
    alert_ids: list[str]
    timeline: list[TimelineEntry]
    observables: list[ObservableLink]
    runs: list[tuple[PlaybookRun, list[RunStep]]]
    comments: list[CommentView]
    evidence: list[Evidence]
    # Per action step id: where each parameter's value came from (approvers see this).
    origins: dict[int, list[dict[str, Any]]]
    tasks: list[AdhocTask]


def incident_view(*, db: Session, incident_id: int) -> IncidentView:
    """NotFoundError when the incident does not exist."""
    incident = get_incident(db=db, incident_id=incident_id)
    runs = [
        (run, steps_of(db=db, run_id=run.id)) for run in runs_of(db=db, incident_id=incident_id)
    ]
    origins = {
        step.id: param_origins(db=db, step=step, incident_id=incident_id)
        for _, steps in runs
        for step in steps
        if step.kind == "action"
    }
    return IncidentView(
        incident,
        alert_ids(db=db, incident_id=incident_id),
        timeline(db=db, incident_id=incident_id),
        observables_of(db=db, incident_id=incident_id),
        runs,
        [
            CommentView(c.author, c.created_at, render_markdown(c.body))
            for c in comments(db=db, incident_id=incident_id)
        ],
        list_evidence(db=db, incident_id=incident_id),
        origins,
        tasks_of(db=db, incident_id=incident_id),
    )


def triage_alert(*, db: Session, clock: Clock, store: AlertStore, alert_id: str) -> RouteResult:
    """Route one alert with the shipped playbook library (idempotent per alert)."""
    alert = store.get(alert_id)
    result, work = route_alert(db=db, clock=clock, alert=alert, playbooks=load_library())
    if work and not result.to_enqueue:
        return RouteResult(
            result.alert_id,
            result.incident_id,
            result.created,
            result.run_id,
            tuple(work),
            result.reason,
        )
    return result


def mark_in_incident(*, store: AlertStore, alert_id: str) -> None:
    """After the incident is committed: the alert's status says it is worked in an incident."""
    store.update_status([alert_id], status="in_incident")


def dispatch(*, settings: Settings, work: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
    """Send the tasks a committed service call asked for to the Celery broker."""
    if not work:
        return

    send(create_celery(settings), work)


# -- the incident list: filters and metrics ---------------------------------------------------

FILTERS = ("all", "open", "mine", "overdue")


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident as listed, with its age, times to acknowledge and contain, and SLA state."""

    incident: Incident
    age: timedelta
    to_acknowledge: timedelta | None
    to_contain: timedelta | None
    due_at: datetime
    overdue: bool


def _row(incident: Incident, now: datetime, sla_hours: dict[str, float]) -> IncidentRow:
    due = incident.created_at + timedelta(hours=sla_hours.get(incident.severity, 48.0))
    done = incident.status in ("resolved", "closed")
    return IncidentRow(
        incident,
        (incident.closed_at or now) - incident.created_at,
        incident.acknowledged_at - incident.created_at if incident.acknowledged_at else None,
        incident.contained_at - incident.created_at if incident.contained_at else None,
        due,
        not done and now > due,
    )


def _statuses(show: str) -> Sequence[str]:
    if show not in FILTERS:
        raise ValidationError("show", f"must be one of {', '.join(FILTERS)}")
    statuses: Sequence[str] = OPEN_STATUSES if show in ("open", "mine", "overdue") else ()
    assert set(statuses) <= set(STATUSES)
    return statuses


def incident_rows(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    username: str,
    show: str = "all",
    severity: str | None = None,
    span: TimeRange | None = None,
) -> list[IncidentRow]:
    """Incidents newest first, filtered by mine / open / overdue, severity and the time range
    they were created in."""
    items = list_incidents(
        db=db,
        statuses=_statuses(show),
        assignee=username if show == "mine" else None,
        limit=500,
        start=span.start if span else None,
        end=span.end if span else None,
    )
    if severity:
        if severity not in SEVERITIES:
            raise ValidationError("severity", f"must be one of {', '.join(SEVERITIES)}")
        items = [i for i in items if i.severity == severity]
    now = clock.now()
    sla = {str(k): v for k, v in settings.incident_sla_hours.items()}
    rows = [_row(i, now, sla) for i in items]
    return [r for r in rows if r.overdue] if show == "overdue" else rows


def incidents_histogram(
    *, db: Session, span: TimeRange, now: datetime, username: str, show: str = "all"
) -> Histogram | None:
    """Incidents created per slice of the range, one series per severity (the list's filters)."""
    slices = time_slices(span=span, now=now)
    if slices is None:
        return None
    starts, step = slices
    counts = created_per_slice(
        db=db,
        starts=starts,
        step=step,
        statuses=_statuses(show),
        assignee=username if show == "mine" else None,
    )
    return Histogram(
        starts, step, {severity: counts[severity] for severity in reversed(SEVERITIES)}
    )
