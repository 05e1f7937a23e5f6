"""Celery entry points of the drills domain (`drills.<action>`): thin, ids in, one service call.

`drills.tick` runs from beat (`beat_entries`); the others let the dashboard
and the CLI act through a worker. Technical injects go into the collectors' spool through
`collectors.service` (`drills.technical.spool_sink`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SystemClock
from core.config import Settings, get_settings
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work
from drills import service
from drills.service import build_report, spool_sink
from drills.service import tick as run_tick


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every 10 s: start due schedules, release due injects, check technical expectations."""
    return {"drills-tick": {"task": "drills.tick", "schedule": timedelta(seconds=10)}}


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on a fresh engine, disposed when the task ends."""
    engine = create_db_engine(settings)
    try:
        yield create_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def _unit(settings: Settings) -> Iterator[Session]:
    """One write unit of work: the task's whole change commits together."""
    with _sessions(settings) as factory, unit_of_work(factory) as db:
        yield db


@shared_task(name="drills.tick")
def tick() -> dict[str, Any]:
    """Start due schedules, release due injects, check automatic expectations."""
    settings = get_settings()
    clock = SystemClock()
    with ExitStack() as stack:
        alerts = open_alert_store(settings, clock=clock)
        stack.callback(alerts.close)
        factory = stack.enter_context(_sessions(settings))
        return run_tick(
            units=lambda: unit_of_work(factory),
            clock=clock,
            settings=settings,
            alerts=alerts,
            sink=spool_sink(settings),
        )


@shared_task(name="drills.control")
def control(exercise_id: str, action: str, actor: str = "controller") -> str:
    """start / pause / resume / stop one exercise."""
    functions = {
        "start": service.start,
        "pause": service.pause,
        "resume": service.resume,
        "stop": service.stop,
    }
    settings = get_settings()
    with _unit(settings) as db:
        exercise = functions[action](
            db=db, clock=SystemClock(), exercise_id=exercise_id, actor=actor
        )
        return exercise.status


@shared_task(name="drills.report")
def report(exercise_id: str, actor: str = "controller") -> int:
    """Build the after-action report (HTML + PDF) of one exercise."""
    settings = get_settings()
    with _unit(settings) as db:
        return build_report(db=db, clock=SystemClock(), exercise_id=exercise_id, actor=actor).id
