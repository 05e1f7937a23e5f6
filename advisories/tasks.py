"""Celery entry points of the advisories domain, and its beat entry; thin.

`advisories.refresh` imports `advisory_sources` (CSAF providers, URLs, folders) on a schedule:
the network is read first, then one unit of work stores what is new. An advisory already
stored at the same version is left alone, and its incident is never opened twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task

from advisories import service
from core.clock import SystemClock
from core.config import get_settings
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work

if TYPE_CHECKING:
    from core.config import Settings


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """The refresh entry, only when sources are configured."""
    if not settings.advisory_sources:
        return {}
    return {
        "advisories-refresh": {
            "task": "advisories.refresh",
            "schedule": timedelta(minutes=settings.advisory_refresh_minutes),
        }
    }


@shared_task(name="advisories.refresh")
def refresh() -> dict[str, Any]:
    """Import the configured advisory sources; returns counts and the problems as text."""
    settings = get_settings()
    documents, issues = service.read_documents(settings.advisory_sources)
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            report = service.import_documents(
                db=db, clock=SystemClock(), documents=documents, actor="beat:advisories.refresh"
            )
    finally:
        engine.dispose()
    problems = [str(issue) for issue in [*issues, *report.issues]]
    return {
        "read": len(documents),
        "new_or_updated": sum(1 for r in report.results if not r.unchanged),
        "incidents_opened": report.incidents_opened,
        "problems": problems,
    }
