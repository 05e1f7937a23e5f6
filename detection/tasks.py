"""Celery entry points of detection, and the beat entries detection registers; thin.

`detection.scheduled_search` runs the rules in scheduled mode over the Elasticsearch event
indices (`detection.scheduled_run`). It only has a beat entry when `event_store` is
"elasticsearch"; with SQLite, "scheduled" mode is refused at start-up (`check_modes`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import shared_task
from sqlalchemy.exc import IntegrityError

from core.clock import SystemClock
from core.config import Settings, get_settings
from core.store import es_common
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work
from detection.alerts import deliver_outbox
from detection.scheduled import ScheduledSearch, mode_of
from detection.scheduled_run import plan_scheduled, run_scheduled
from detection.service import snapshot

log = logging.getLogger(__name__)

# Per worker process: the session factory, the Elasticsearch client and the plan, rebuilt when
# the settings object or the rule files change.
_RUNTIME: dict[str, Any] = {}


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """Detection's beat entries for `settings`."""
    if settings.event_store != "elasticsearch":
        return {}
    return {
        "detection-scheduled-search": {
            "task": "detection.scheduled_search",
            "schedule": timedelta(seconds=settings.scheduled_search_every_seconds),
        }
    }


@shared_task(name="detection.scheduled_search")
def scheduled_search() -> dict[str, Any]:
    """One scheduled-search run: settings in, one service call in one unit of work, deliver."""
    settings = get_settings()
    if settings.event_store != "elasticsearch":
        return {"skipped": "event_store is not elasticsearch"}
    sessions, search, plan = _runtime(settings)
    clock = SystemClock()
    try:
        with unit_of_work(sessions) as db:
            report = run_scheduled(
                db=db,
                plan=plan,
                search=search,
                clock=clock,
                lookback=timedelta(seconds=settings.scheduled_search_lookback_seconds),
                max_alerts=settings.scheduled_search_max_alerts,
            )
    except IntegrityError:
        # Another worker's overlapping run committed the same alerts first; ours rolled back
        # whole (checkpoints too), so the next run starts where that one left off.
        log.info("detection.scheduled_search: an overlapping run won; nothing committed")
        return {"overlap": True}
    alerts = open_alert_store(settings, clock=clock)
    try:
        with sessions() as db:
            delivered = deliver_outbox(db=db, alert_store=alerts, clock=clock)
    finally:
        alerts.close()
    return {**report.as_dict(), "delivered": len(delivered)}


def _runtime(settings: Settings) -> tuple[Any, Any, Any]:
    if _RUNTIME.get("settings") is not settings:
        _RUNTIME.clear()
        _RUNTIME["settings"] = settings
        _RUNTIME["sessions"] = create_session_factory(create_db_engine(settings))
        client = es_common.connect(settings.elasticsearch_url)
        _RUNTIME["search"] = ScheduledSearch(client, prefix=settings.elasticsearch_prefix)
    paths = [path for path in _rule_paths(settings) if path.exists()]
    version = tuple(sorted(snapshot(paths).items()))
    if _RUNTIME.get("version") != version:
        plan = plan_scheduled(
            paths=paths,
            stacks=settings.detection_stacks,
            mode_of=lambda rule_id: mode_of(settings, rule_id),
        )
        failed = [f"{f.rule_id} ({f.stack}): cannot search: {f.reason}" for f in plan.failed]
        for problem in [*plan.problems, *failed]:
            log.warning("detection.scheduled_search: %s", problem)
        log.info(
            "detection.scheduled_search: %d queries, %d correlations in scheduled mode",
            len(plan.rules),
            len(plan.correlations),
        )
        _RUNTIME["plan"], _RUNTIME["version"] = plan, version
    return _RUNTIME["sessions"], _RUNTIME["search"], _RUNTIME["plan"]


def _rule_paths(settings: Settings) -> list[Path]:
    """The configured rule folders, or the pack that ships (as the streaming hook reads them)."""
    if settings.detection_rules:
        return [path.expanduser().resolve() for path in settings.detection_rules]
    return [Path(__file__).resolve().parent / "rules"]
