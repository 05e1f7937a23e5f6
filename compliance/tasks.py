"""Celery entry points of compliance: the scheduled check and its beat entry."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task

from compliance.service import SCHEDULER, evaluate_measures, last_checked, record_outcomes
from core.audit import record_verification, verify
from core.clock import Clock, SystemClock
from core.config import Settings, get_settings
from core.store.base import EventStore
from core.store.factory import open_alert_store, open_event_store
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work
from detection.service import configured_rule_paths, deliver_outbox

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from compliance.service import CheckRun

FRAMEWORK = "bio2"
# Beat asks this often whether a check is due, so a new platform is checked within minutes of
# its start (beat runs an entry first one interval after it starts), then every
# `compliance_check_every_seconds`.
POLL_SECONDS = 300.0


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """The compliance check's beat entry for `settings`."""
    return {
        "compliance-check": {
            "task": "compliance.check",
            "schedule": timedelta(
                seconds=min(POLL_SECONDS, settings.compliance_check_every_seconds)
            ),
        }
    }


@shared_task(name="compliance.check")
def check(force: bool = False) -> dict[str, Any]:
    """Verify the audit chain, recompute every measure, deliver the alerts of red measures.

    Skipped while the last check is younger than `compliance_check_every_seconds` (unless
    `force`). Reads run in read units, the records in short write units (see
    `run_scheduled_check`); the alerts are stored after the statuses and the outbox commit
    (the outbox makes that once-only).
    """
    settings = get_settings()
    engine = create_db_engine(settings)
    clock = SystemClock()
    if not force:
        with unit_of_work(create_session_factory(engine), write=False) as db:
            last = last_checked(db=db, framework=FRAMEWORK)
        every = timedelta(seconds=settings.compliance_check_every_seconds)
        if last is not None and clock.now() - last < every:
            engine.dispose()
            return {"skipped": f"last check at {last.isoformat()} is not yet due again"}
    sessions = create_session_factory(engine)
    events = open_event_store(settings)
    try:
        run = run_scheduled_check(
            units=lambda write: unit_of_work(sessions, write=write),
            clock=clock,
            settings=settings,
            event_store=events,
        )
        alerts = open_alert_store(settings)
        try:
            with unit_of_work(sessions) as db:
                delivered = deliver_outbox(db=db, alert_store=alerts, clock=clock)
        finally:
            alerts.close()
    finally:
        events.close()
        engine.dispose()
    return {
        "checked": len(run.results),
        "alerted": run.alerted,
        "delivered": len(delivered),
        "statuses": {r.measure_id: r.status for r in run.results},
    }


def run_scheduled_check(
    *,
    units: Callable[[bool], AbstractContextManager[Session]],
    clock: Clock,
    settings: Settings,
    event_store: EventStore | None,
) -> CheckRun:
    """Verify the chain and check every measure; the slow reads run in read units and only
    the records (the verification, the statuses) in short write units of their own.

    `units(write)` opens a unit of work. The verification is recorded as run by `scheduler`
    before the checks, so the log-integrity measure sees it.
    """
    with units(False) as db:
        result = verify(db=db)
    with units(True) as db:
        record_verification(db=db, clock=clock, actor=SCHEDULER, result=result)
    with units(False) as db:
        evaluation = evaluate_measures(
            db=db,
            clock=clock,
            settings=settings,
            framework=FRAMEWORK,
            event_store=event_store,
            rule_paths=configured_rule_paths(settings),
        )
    with units(True) as db:
        return record_outcomes(db=db, clock=clock, actor=SCHEDULER, evaluation=evaluation)
