"""Celery entry points of the collectors; thin and idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task

from collectors.context_refresh import publish_context
from collectors.service import check_expected
from collectors.spool import open_spool
from core.clock import SystemClock
from core.config import get_settings
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work

if TYPE_CHECKING:
    from core.config import Settings


@shared_task(name="collectors.refresh_context")
def refresh_context() -> str | None:
    """Validate and publish the context exports (``context_dir``) for enrichment.

    Returns the published version, or None when no context directory is configured. A broken
    export raises ContextError (visible as a failed task) and the last good tables stay.
    """

    settings = get_settings()
    if settings.context_dir is None:
        return None
    return publish_context(
        source=settings.context_dir.expanduser(),
        target=settings.resolved_data_dir / "context",
        key=settings.secret("pseudonym_key").encode(),
    )


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """Re-publish the enrichment context (open cases, roles, protected persons...) every
    5 minutes; look for missing or silent expected sources."""
    return {
        "collectors-refresh-context": {
            "task": "collectors.refresh_context",
            "schedule": timedelta(minutes=5),
        },
        "collectors-check-expected-sources": {
            "task": "collectors.check_expected_sources",
            "schedule": timedelta(seconds=settings.expected_source_check_seconds),
        },
    }


@shared_task(name="collectors.check_expected_sources")
def check_expected_sources() -> dict[str, list[str]]:
    """Alert on expected log sources that are missing or silent (one alert per silence)."""

    settings = get_settings()
    clock = SystemClock()
    with open_spool(settings) as spool:
        counters = spool.counters()
    engine = create_db_engine(settings)
    alerts = open_alert_store(settings, clock=clock)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            report = check_expected(
                db=db,
                clock=clock,
                counters=counters,
                alert_store=alerts,
                silent_after=timedelta(minutes=settings.source_silent_minutes),
            )
    finally:
        alerts.close()
        engine.dispose()
    return {"alerted": report.alerted, "recovered": report.recovered}
