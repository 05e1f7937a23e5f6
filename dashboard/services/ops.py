"""Collector health and the metrics charts' numbers, composed from the domains' services.

Only composition lives here: counting is done by the stores and the domains (collectors'
spool counters, the alert store's capped counts, playbooks' monthly metrics, the breach
register), this module arranges their answers for one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from collectors.service import (
    DeadLetterSummary,
    SourceStatus,
    dead_letter_summary,
    open_spool,
    silence_limits,
    source_status,
)
from core.config import Settings
from core.store.base import ALERT_LEVELS, AlertQuery, AlertStore, EventStore
from playbooks.breach.service import list_breaches
from playbooks.service import monthly_metrics

DAY_CAP = 100_000  # a day with more alerts than this shows as the cap ("100000+")


@dataclass(frozen=True, slots=True)
class CollectorHealth:
    """Every source's counters and silent flag, plus the spool's backlog."""

    sources: list[SourceStatus]
    spool_pending: int
    silent_after: timedelta
    dead_letters: DeadLetterSummary | None = None  # every path's, from the event store


def collector_health(
    *,
    settings: Settings,
    now: datetime,
    events: EventStore | None = None,
    db: Session | None = None,
) -> CollectorHealth:
    """Read the spool's per-source counters and depth (the same numbers as /metrics), and,
    given the event store, the dead letters of every path (live, files, HTTP, refusals).
    Given the database, the expected log sources count too: their own silence limits, and
    the ones never seen listed as missing."""

    silent_after = timedelta(minutes=settings.source_silent_minutes)
    expected = silence_limits(db=db) if db is not None else None
    with open_spool(settings) as spool:
        statuses = source_status(
            counters=spool.counters(), now=now, silent_after=silent_after, expected=expected
        )
        pending = spool.pending()
    letters = dead_letter_summary(store=events) if events is not None else None
    return CollectorHealth(statuses, pending, silent_after, letters)


def alerts_per_day(
    *, store: AlertStore, now: datetime, days: int = 14
) -> tuple[list[str], dict[str, list[int]]]:
    """Alerts per UTC day and level for the last `days` days (capped counts, index ranges)."""
    first = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    labels: list[str] = []
    series: dict[str, list[int]] = {level: [] for level in ALERT_LEVELS}
    for n in range(days):
        start = first + timedelta(days=n)
        labels.append(start.strftime("%m-%d"))
        for level in ALERT_LEVELS:
            query = AlertQuery(levels=(level,), start=start, end=start + timedelta(days=1))
            series[level].append(store.count(query, cap=DAY_CAP))
    return labels, series


def response_times(*, db: Session) -> tuple[list[str], dict[str, list[float]]]:
    """MTTA and MTTR per month in hours, from playbooks' metrics (exercises left out there)."""

    months = monthly_metrics(db=db)
    hours = 3600.0
    return [m.month for m in months], {
        "MTTA (h)": [round((m.mtta or 0) / hours, 2) for m in months],
        "MTTR (h)": [round((m.mttr or 0) / hours, 2) for m in months],
    }


def breaches_per_quarter(*, db: Session) -> tuple[list[str], dict[str, list[int]]]:
    """Breaches in the register per quarter of awareness; exercises in their own series."""

    counts: dict[str, dict[str, int]] = {}
    for breach in list_breaches(db=db):
        key = f"{breach.aware_at.year}-Q{(breach.aware_at.month - 1) // 3 + 1}"
        kind = "oefening/exercise" if breach.exercise_id else "echt/real"
        counts.setdefault(key, {"echt/real": 0, "oefening/exercise": 0})[kind] += 1
    labels = sorted(counts)
    return labels, {
        kind: [counts[label][kind] for label in labels]
        for kind in ("echt/real", "oefening/exercise")
    }
