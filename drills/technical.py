"""Technical mode: synthetic events into the real collector pipeline, expectations checked.

Events are built from the scenario's templates by the demo world's series generator
(`demo_world.service.event_series`), marked here as exercise data (`dijkwacht.exercise.id`,
`tags: [exercise]`, `labels.oefening`, and an `event.original` naming exercise and inject) and
handed to an `EventSink`. The real sink is `spool_sink`: `collectors.service.inject_events`, the
durable spool every collector writes to, so injected events take the same path as syslog or HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors import service as collectors
from core.clock import Clock
from core.config import Settings
from core.events import Event
from core.store.base import AlertQuery, AlertStore
from demo_world import service as demo_world
from drills.control import scenario_minutes
from drills.models import Exercise, Expectation
from drills.rollback import exercise_artefacts
from drills.schemas import Inject

EXERCISE_FIELD = "dijkwacht.exercise.id"
SOURCE = "drills"


class EventSink(Protocol):
    """Accepts events into the collector pipeline (durably, before returning)."""

    def __call__(self, events: Sequence[Event], *, source: str) -> None: ...


def spool_sink(settings: Settings) -> EventSink:
    """The collectors' spool as a sink: each call is one durable, fsynced append."""

    def sink(events: Sequence[Event], *, source: str) -> None:
        collectors.inject_events(settings=settings, events=events, source=source)

    return sink


def build_events(*, inject: Inject, exercise_id: str, start: datetime) -> list[Event]:
    """The inject's events, numbered from 1, stamped from `start`, marked as exercise."""
    spec = inject.events
    if spec is None:
        return []
    events = demo_world.event_series(
        template=spec.template,
        count=spec.count,
        every_seconds=spec.every_seconds,
        start=start,
        dataset="drills.synthetic",
    )
    for n, event in enumerate(events, start=1):
        event["event"]["original"] = (
            f"OEFENING {exercise_id} {inject.id} #{n}: {event.get('message', '')}"
        )
        marker = dict(event.get("dijkwacht") or {})
        marker["exercise"] = {"id": exercise_id}
        event["dijkwacht"] = marker
        event["tags"] = sorted({*event.get("tags", []), "exercise"})
        event["labels"] = {**event.get("labels", {}), "oefening": "OEFENING / EXERCISE"}
    return events


def _first(times: Iterator[datetime]) -> datetime | None:
    return min(times, default=None)


def _observed(
    *, db: Session, exercise: Exercise, expectation: Expectation, alerts: AlertStore
) -> tuple[datetime | None, str | None]:
    """When (and by what) an automatic expectation was first fulfilled, if it was."""
    kind = expectation.kind
    if kind == "detection":
        rule = str(expectation.spec.get("rule_id") or "")
        found = [
            a
            for a in alerts.search(
                AlertQuery(exercise=True, rule_ids=(rule,), sort="oldest", limit=200)
            )
            if a.exercise_id == exercise.id
        ]
        return (found[0].created_at, f"alert {found[0].id}") if found else (None, None)
    artefacts = exercise_artefacts(db=db, exercise_id=exercise.id)
    if kind == "incident" and artefacts["incidents"]:
        first = min(artefacts["incidents"], key=lambda i: i["created_at"])
        return first["created_at"], f"incident {first['id']}"
    if kind == "playbook_step":
        wanted = expectation.spec.get("step")
        steps = [s for s in artefacts["steps"] if s["step"] == wanted]
        if steps:
            first = min(steps, key=lambda s: s["started_at"])
            return first["started_at"], f"step {wanted} of incident {first['incident_id']}"
    if kind == "breach" and artefacts["breaches"]:
        first = min(artefacts["breaches"], key=lambda b: b["created_at"])
        return first["created_at"], f"breach {first['reference']}"
    return None, None


def check_expectations(*, db: Session, clock: Clock, exercise: Exercise, alerts: AlertStore) -> int:
    """Mark automatic expectations met (with the observed time) or missed; no commit."""
    if exercise.started_at is None:
        return 0
    changed = 0
    pending = db.scalars(
        select(Expectation).where(
            Expectation.exercise_id == exercise.id,
            Expectation.status == "pending",
            Expectation.kind != "manual",
        )
    )
    now = clock.now()
    for expectation in pending:
        seen_at, evidence = _observed(
            db=db, exercise=exercise, expectation=expectation, alerts=alerts
        )
        if seen_at is not None:
            taken = (
                max(0.0, (seen_at - exercise.started_at).total_seconds()) * exercise.time_scale / 60
            )
            expectation.met_at = seen_at
            expectation.minutes_taken = round(taken, 3)
            expectation.evidence = evidence
            expectation.status = "met" if taken <= expectation.within_minutes else "missed"
            expectation.marked_by = "automatisch"
            changed += 1
        elif scenario_minutes(exercise, now) > expectation.within_minutes:
            expectation.status = "missed"
            expectation.note = f"niet gezien binnen {expectation.within_minutes:g} minuten"
            expectation.marked_by = "automatisch"
            changed += 1
    return changed
