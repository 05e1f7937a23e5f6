"""`/metrics`: Prometheus exposition for the operators' scraper (counts only, no personal data).

Admins only: a session, or an API token with the `read:metrics` scope for the scraper
(`dijkwacht tokens create --user ADMIN --scope read:metrics --name prometheus`).

Collector counters from the spool, platform counts read from the stores on each scrape, and
this web process's request-latency histogram, in one response.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from collectors.service import SourceCollector, open_spool, silence_limits, source_status
from core.accounts.models import Role
from dashboard.deps import AlertStoreDep, AppSettings, ClockDep, DbSession, Principal, RequireRole
from dashboard.platform_metrics import PlatformCollector, http_registry, read_platform_or_none
from dijkwacht.detection_runtime import rule_paths

router = APIRouter(tags=["metrics"])
# Breach deadlines and incident counts are operational secrets: not for anonymous callers.
Scraper = Annotated[Principal, Depends(RequireRole(Role.ADMIN, scope="read:metrics"))]


@router.get(
    "/metrics",
    summary="Platform metrics (Prometheus text format)",
    description="Collector counters, detection, alerts and incidents by status, breach "
    "deadlines due, Celery queue depth and HTTP request latency. Counts only.",
)
def metrics(
    settings: AppSettings, clock: ClockDep, db: DbSession, alerts: AlertStoreDep, user: Scraper
) -> Response:
    """Admins (session) or a `read:metrics` token: the counts include open breach deadlines."""
    silent_after = timedelta(minutes=settings.source_silent_minutes)
    with open_spool(settings) as spool:
        statuses = source_status(
            counters=spool.counters(),
            now=clock.now(),
            silent_after=silent_after,
            expected=silence_limits(db=db),
        )
        pending = spool.pending()
    platform = read_platform_or_none(
        db=db, alerts=alerts, settings=settings, clock=clock, rule_paths=rule_paths(settings)
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        SourceCollector(statuses=statuses, spool_pending=pending, silent_after=silent_after)
    )
    registry.register(PlatformCollector(platform))
    body = generate_latest(registry) + generate_latest(http_registry())
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
