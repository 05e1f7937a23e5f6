"""Incident pages' reads and triage, composed from playbooks' service API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.store.base import AlertStore
from playbooks.models import Incident, PlaybookRun, RunStep
from playbooks.schemas import ObservableLink, RouteResult, TimelineEntry
from playbooks.service import (
    alert_ids,
    get_incident,
    load_library,
    observables_of,
    route_alert,
    runs_of,
    steps_of,
    timeline,
)


@dataclass(frozen=True, slots=True)
class IncidentView:
    """Everything the incident page shows."""

    incident: Incident
    alert_ids: list[str]
    timeline: list[TimelineEntry]
    observables: list[ObservableLink]
    runs: list[tuple[PlaybookRun, list[RunStep]]]


def incident_view(*, db: Session, incident_id: int) -> IncidentView:
    """NotFoundError when the incident does not exist."""
    incident = get_incident(db=db, incident_id=incident_id)
    return IncidentView(
        incident,
        alert_ids(db=db, incident_id=incident_id),
        timeline(db=db, incident_id=incident_id),
        observables_of(db=db, incident_id=incident_id),
        [(run, steps_of(db=db, run_id=run.id)) for run in runs_of(db=db, incident_id=incident_id)],
    )


def triage_alert(*, db: Session, clock: Clock, store: AlertStore, alert_id: str) -> RouteResult:
    """Route one alert with the shipped playbook library (idempotent per alert)."""
    alert = store.get(alert_id)
    result, work = route_alert(db=db, clock=clock, alert=alert, playbooks=load_library())
    if work and not result.to_enqueue:
        return RouteResult(
            result.alert_id, result.incident_id, result.created, result.run_id, tuple(work)
        )
    return result


def dispatch(*, settings: Settings, work: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
    """Send the tasks a committed service call asked for to the Celery broker."""
    if not work:
        return
    from core.queue import create_celery
    from playbooks.tasks import send

    send(create_celery(settings), work)
