"""Celery entry points of the LDV domain; thin: settings in, one service call, a plain result.

`ldv.check_streams` (hourly) looks for gaps in each system's stream and sends its findings
through the collectors like any input (rule `ldv_stream_gap` alerts on them).
`ldv.export_context` (every 5 minutes) writes the register and partner tables that ingest
enrichment reads into `context_dir`, just before `collectors.refresh_context` publishes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task

from collectors.service import inject_events
from core.clock import SystemClock
from core.config import get_settings
from core.store.factory import open_event_store
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work
from ldv.service import check_streams, export_context, streams

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from core.config import Settings


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """The register and partner tables for enrichment every 5 minutes; stream gaps hourly."""
    return {
        "ldv-export-context": {"task": "ldv.export_context", "schedule": timedelta(minutes=5)},
        "ldv-check-streams": {"task": "ldv.check_streams", "schedule": timedelta(hours=1)},
    }


@contextmanager
def _sessions() -> Iterator[tuple[Settings, sessionmaker[Session]]]:

    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        yield settings, create_session_factory(engine)
    finally:
        engine.dispose()


def run_stream_check(settings: Settings, factory: sessionmaker[Session]) -> dict[str, Any]:
    """The check for the hour that just settled; its events go into the spool."""

    clock = SystemClock()
    with unit_of_work(factory, write=False) as db:
        expected = streams(db=db)
    store = open_event_store(settings, clock=clock)
    try:
        events = check_streams(store=store, expected_per_hour=expected, now=clock.now())
    finally:
        store.close()
    inject_events(settings=settings, events=events, source="ldv-stream-check")
    gaps = [e["dijkwacht"]["ldv"]["resource"]["system"] for e in events if _gap(e)]
    return {"systems": len(events), "gaps": gaps}


def _gap(event: dict[str, Any]) -> bool:
    return bool(event["dijkwacht"]["ldv"]["gap"]["detected"])


@shared_task(name="ldv.check_streams")
def check_streams_task() -> dict[str, Any]:
    with _sessions() as (settings, factory):
        return run_stream_check(settings, factory)


@shared_task(name="ldv.export_context")
def export_context_task() -> dict[str, int] | None:
    """None when no `context_dir` is configured (enrichment then has no LDV tables)."""

    with _sessions() as (settings, factory):
        if settings.context_dir is None:
            return None
        with unit_of_work(factory, write=False) as db:
            activities, partners = export_context(
                db=db, directory=settings.context_dir.expanduser()
            )
    return {"activities": activities, "partner_rows": partners}
