"""`/metrics`: collector counters in Prometheus text format, for the operators' scraper."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from collectors.metrics import render_prometheus, source_status
from collectors.spool import open_spool
from dashboard.deps import AppSettings, ClockDep

router = APIRouter(tags=["metrics"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/metrics", summary="Collector counters (Prometheus text format)")
def metrics(settings: AppSettings, clock: ClockDep) -> PlainTextResponse:
    silent_after = timedelta(minutes=settings.source_silent_minutes)
    with open_spool(settings) as spool:
        statuses = source_status(
            counters=spool.counters(), now=clock.now(), silent_after=silent_after
        )
        pending = spool.pending()
    text = render_prometheus(statuses=statuses, spool_pending=pending, silent_after=silent_after)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
