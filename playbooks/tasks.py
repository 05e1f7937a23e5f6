"""Celery entry points of the playbooks domain: thin, idempotent, ids in and out.

Each task builds its settings and session factory, calls one service function inside a unit of
work (`core.store.unit_of_work`), and sends the work that function returned only after the unit
committed. Retries back off exponentially.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from celery import shared_task
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SystemClock
from core.config import Settings, get_settings
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import is_locked_error, unit_of_work
from playbooks.actions import ActionFailed
from playbooks.executor import InFlight
from playbooks.notify import DeliveryFailed
from playbooks.notify import deliver as deliver_one
from playbooks.routing import pending_alerts, route_pending_alert
from playbooks.service import advance, execute_action, give_up, load_library
from playbooks.service import resume_runs as resume

log = logging.getLogger(__name__)


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """Route new alerts into incidents, and re-send playbook work a dead worker lost."""
    return {
        "playbooks-route-alerts": {
            "task": "playbooks.route_alerts",
            "schedule": timedelta(seconds=15),
        },
        "playbooks-resume-runs": {
            "task": "playbooks.resume_runs",
            "schedule": timedelta(seconds=60),
        },
    }


@contextmanager
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on a fresh engine, disposed when the task ends."""
    engine = create_db_engine(settings)
    try:
        yield create_session_factory(engine)
    finally:
        engine.dispose()


def send(app: Any, work: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
    """Send tasks a service function asked for (call after its unit of work committed)."""
    for name, args in work:
        app.send_task(name, args=list(args))


def _backoff(settings: Settings, retries: int) -> float:
    return float(settings.action_retry_backoff_seconds * (2**retries))


@contextmanager
def retry_when_busy(task: Any, settings: Settings) -> Iterator[None]:
    """SQLite stayed locked past its busy timeout: the unit rolled back, so run the task again
    later (with back-off) instead of failing it with "database is locked"."""
    try:
        yield
    except OperationalError as exc:
        if not is_locked_error(exc):
            raise
        raise task.retry(countdown=_backoff(settings, task.request.retries)) from None


@shared_task(name="playbooks.run_action", bind=True, max_retries=None, acks_late=True)
def run_action(self: Any, run_step_id: int) -> dict[str, Any]:
    """Run one automated action step; retry with back-off, then hand it to a person."""
    settings = get_settings()
    clock = SystemClock()
    with retry_when_busy(self, settings), sessions(settings) as factory:
        try:
            outcome = execute_action(
                units=lambda: unit_of_work(factory),
                clock=clock,
                settings=settings,
                run_step_id=run_step_id,
            )
        except InFlight:
            raise self.retry(countdown=_backoff(settings, 0)) from None
        except ActionFailed as exc:
            if self.request.retries >= settings.action_max_retries:
                with unit_of_work(factory) as db:
                    give_up(db=db, clock=clock, run_step_id=run_step_id, error=str(exc))
                return {"status": "manual", "error": str(exc)}
            raise self.retry(countdown=_backoff(settings, self.request.retries)) from None
    send(self.app, outcome.work)
    return {"status": outcome.status, "reused": outcome.reused}


@shared_task(name="playbooks.deliver", bind=True, max_retries=None, acks_late=True)
def deliver(self: Any, delivery_id: int) -> str:
    """Send one notification; retry with back-off, then leave it failed on the timeline."""
    settings = get_settings()
    final = self.request.retries >= settings.notify_max_retries
    with retry_when_busy(self, settings), sessions(settings) as factory:
        try:
            delivery = deliver_one(
                units=lambda: unit_of_work(factory),
                clock=SystemClock(),
                settings=settings,
                delivery_id=delivery_id,
                final_attempt=final,
            )
        except DeliveryFailed:
            raise self.retry(countdown=_backoff(settings, self.request.retries)) from None
    return delivery.status


@shared_task(name="playbooks.advance_run", bind=True)
def advance_run(self: Any, run_id: int) -> int:
    """Start the steps of a run that can start now."""
    settings = get_settings()
    with (
        retry_when_busy(self, settings),
        sessions(settings) as factory,
        unit_of_work(factory) as db,
    ):
        work = advance(db=db, clock=SystemClock(), run_id=run_id)
    send(self.app, work)
    return len(work)


@shared_task(name="playbooks.route_alerts", bind=True)
def route_alerts(self: Any) -> int:
    """Route new alerts from the alert store into incidents (scheduled by beat).

    One short unit per alert, each committed before its work is sent: a backlog (thousands of
    alerts after an outage) must not hold the database's write lock while pages wait on it.
    """
    settings = get_settings()
    clock = SystemClock()
    store = open_alert_store(settings, clock=clock)
    routed = 0
    try:
        with retry_when_busy(self, settings), sessions(settings) as factory:
            with unit_of_work(factory, write=False) as db:
                pending = pending_alerts(db=db, clock=clock, store=store)
            playbooks = load_library()
            for alert in pending:
                try:
                    with unit_of_work(factory) as db:
                        result, work = route_pending_alert(
                            db=db, clock=clock, alert=alert, playbooks=playbooks
                        )
                except IntegrityError:
                    # Another worker routed this alert between our check and our insert (its
                    # unique row won); our unit rolled back whole, nothing to undo.
                    log.info("alert %s was routed by another worker", alert.id)
                    continue
                if result is not None:  # after the commit: the alert says where it went
                    store.update_status([result.alert_id], status="in_incident")
                    routed += 1
                send(self.app, work)
    finally:
        store.close()
    return routed


@shared_task(name="playbooks.resume_runs", bind=True)
def resume_runs(self: Any) -> int:
    """Re-send lost work of running playbook runs, e.g. after a worker died (beat)."""
    settings = get_settings()
    with (
        retry_when_busy(self, settings),
        sessions(settings) as factory,
        unit_of_work(factory) as db,
    ):
        work = resume(db=db, clock=SystemClock(), settings=settings)
    send(self.app, work)
    return len(work)
