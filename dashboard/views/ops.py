"""Collector health and metrics charts, as pages and JSON; counters only, no personal data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from core.accounts.models import Role
from dashboard.charts import stacked_bars
from dashboard.deps import (
    AlertStoreDep,
    AppSettings,
    ClockDep,
    DbSession,
    EventStoreDep,
    Principal,
    RequireRole,
    Templates,
)
from dashboard.services.ops import (
    alerts_per_day,
    breaches_per_quarter,
    collector_health,
    response_times,
)

router = APIRouter(tags=["operations"])
OPS_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.ADMIN)
CHART_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.CRISIS_TEAM, Role.DPO, Role.ADMIN)
Ops = Annotated[Principal, Depends(RequireRole(*OPS_ROLES, scope="read:alerts"))]
Charts = Annotated[Principal, Depends(RequireRole(*CHART_ROLES, scope="read:alerts"))]


class SourceOut(BaseModel):
    """One collector source's counters and whether it went silent."""

    source: str
    received: int
    parsed: int
    dead_lettered: int
    dropped: int
    last_seen: str | None
    silent: bool
    silent_for_seconds: float | None
    expected: bool = False
    missing: bool = False
    max_silence_minutes: int | None = None


class DeadLetterSourceOut(BaseModel):
    """Dead letters of one source (a file path, a peer, an HTTP token's source)."""

    source: str
    count: int
    newest: str | None


class CollectorsOut(BaseModel):
    """Every source plus the spool's backlog (events stored durably, not yet in the store)
    and the dead letters of every path (`dijkwacht deadletters list` shows them)."""

    sources: list[SourceOut]
    spool_pending: int
    silent_after_minutes: int
    dead_letters_total: int = 0
    dead_letter_sources: list[DeadLetterSourceOut] = []


class Series(BaseModel):
    """One chart: labels along the x axis, one list of values per series."""

    labels: list[str]
    series: dict[str, list[float]]


class ChartsOut(BaseModel):
    """The numbers behind the metrics page."""

    alerts_per_day: Series
    response_times_per_month: Series
    breaches_per_quarter: Series


def _collectors(
    settings: AppSettings, clock: ClockDep, events: EventStoreDep, db: DbSession
) -> CollectorsOut:
    health = collector_health(settings=settings, now=clock.now(), events=events, db=db)
    letters = health.dead_letters
    return CollectorsOut(
        dead_letters_total=letters.total if letters else 0,
        dead_letter_sources=[
            DeadLetterSourceOut(
                source=item.source,
                count=item.count,
                newest=item.newest.isoformat(timespec="seconds") if item.newest else None,
            )
            for item in (letters.sources if letters else [])
        ],
        sources=[
            SourceOut(
                source=s.counters.source,
                received=s.counters.received,
                parsed=s.counters.parsed,
                dead_lettered=s.counters.dead_lettered,
                dropped=s.counters.dropped,
                last_seen=s.counters.last_seen.isoformat() if s.counters.last_seen else None,
                silent=s.silent,
                silent_for_seconds=s.silent_for.total_seconds() if s.silent_for else None,
                expected=s.expected,
                missing=s.missing,
                max_silence_minutes=int(s.silent_after.total_seconds() // 60)
                if s.silent_after
                else None,
            )
            for s in health.sources
        ],
        spool_pending=health.spool_pending,
        silent_after_minutes=int(health.silent_after.total_seconds() // 60),
    )


@router.get("/collectors", response_class=HTMLResponse, summary="Collector health (page)")
def collectors_page(
    request: Request,
    settings: AppSettings,
    clock: ClockDep,
    events: EventStoreDep,
    db: DbSession,
    templates: Templates,
    user: Ops,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "collectors.html", {"health": _collectors(settings, clock, events, db)}
    )


@router.get("/api/collectors", response_model=CollectorsOut, summary="Collector health")
def collectors_api(
    settings: AppSettings, clock: ClockDep, events: EventStoreDep, db: DbSession, user: Ops
) -> CollectorsOut:
    """Per-source counters, silent flags and spool depth (the numbers behind /metrics), and
    the dead letters of every path per source."""
    return _collectors(settings, clock, events, db)


def _charts(store: AlertStoreDep, db: DbSession, clock: ClockDep) -> ChartsOut:
    days, per_level = alerts_per_day(store=store, now=clock.now())
    months, times = response_times(db=db)
    quarters, breaches = breaches_per_quarter(db=db)
    return ChartsOut(
        alerts_per_day=Series(
            labels=days, series={k: list(map(float, v)) for k, v in per_level.items()}
        ),
        response_times_per_month=Series(labels=months, series=times),
        breaches_per_quarter=Series(
            labels=quarters, series={k: list(map(float, v)) for k, v in breaches.items()}
        ),
    )


@router.get("/charts", response_class=HTMLResponse, summary="Metrics charts (page)")
def charts_page(
    request: Request,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Charts,
) -> HTMLResponse:
    data = _charts(store, db, clock)
    svgs = {
        "alerts": stacked_bars(
            title="Alerts per dag per niveau / alerts per day by level",
            labels=data.alerts_per_day.labels,
            series=data.alerts_per_day.series,
        ),
        "times": stacked_bars(
            title="MTTA en MTTR per maand (uren) / per month (hours)",
            labels=data.response_times_per_month.labels,
            series=data.response_times_per_month.series,
        ),
        "breaches": stacked_bars(
            title="Datalekken per kwartaal / breaches per quarter",
            labels=data.breaches_per_quarter.labels,
            series=data.breaches_per_quarter.series,
        ),
    }
    return templates.TemplateResponse(request, "charts.html", {"data": data, "svgs": svgs})


@router.get("/api/charts", response_model=ChartsOut, summary="Metrics chart data")
def charts_api(store: AlertStoreDep, db: DbSession, clock: ClockDep, user: Charts) -> ChartsOut:
    """Alerts per day by level (14 days), MTTA/MTTR per month, breaches per quarter."""
    return _charts(store, db, clock)
