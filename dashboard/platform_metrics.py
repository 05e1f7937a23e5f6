"""`/metrics` beyond the collectors: detection, alerts, incidents, breach clocks, queue, HTTP.

Everything but the HTTP histogram is read from the stores at scrape time (`read_platform`,
a handful of COUNT/GROUP BY queries) and exposed by `PlatformCollector`, so every process
that serves `/metrics` reports the same numbers. Each web process fills its own HTTP latency
histogram, summed over the workers of `dijkwacht up` at scrape time (`http_registry`);
`RequestTimer` fills it, labelled by route *template*
(`/alerts/{alert_id}`), never by raw path, so the number of series stays bounded.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from core.clock import Clock
from core.config import Settings
from core.errors import DijkwachtError
from core.runtime import MULTIPROC_ENV
from core.store.base import ALERT_STATUSES, AlertQuery, AlertStore
from detection.models import RuntimeValue
from detection.service import ENGINE_COST, list_rules, rule_states, snapshot
from playbooks.breach.service import all_deadlines
from playbooks.models import Incident

log = logging.getLogger(__name__)
DUE_SOON = timedelta(hours=24)
UNMATCHED_ROUTE = "<unmatched>"

HTTP_REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "dijkwacht_http_request_duration_seconds",
    "Time the dashboard took to answer a request, by route template and method.",
    ["method", "route"],
    registry=HTTP_REGISTRY,
)


def http_registry() -> CollectorRegistry:
    """The HTTP histogram to expose: this process's own, or, when `dijkwacht up` runs several
    web workers (`MULTIPROC_ENV` set), every worker's summed from their files, so a scrape
    answered by any one worker reports the requests all of them served."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return HTTP_REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    return registry


class RequestTimer:
    """ASGI middleware: observe each HTTP request's duration in `REQUEST_SECONDS`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            # FastAPI's router puts the matched route into the (shared) scope.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            REQUEST_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - start)


@dataclass(frozen=True, slots=True)
class PlatformSnapshot:
    """What one scrape read from the stores."""

    detection_events: int = 0
    detection_batches: int = 0
    detection_seconds: float = 0.0
    rule_hits: Mapping[str, int] = field(default_factory=dict)
    rule_cost_seconds: Mapping[str, float] = field(default_factory=dict)
    rule_problems: int = 0
    alerts: Mapping[tuple[str, bool], int] = field(default_factory=dict)
    incidents: Mapping[tuple[str, bool], int] = field(default_factory=dict)
    deadlines_due: Mapping[tuple[str, bool], int] = field(default_factory=dict)
    deadlines_overdue: Mapping[tuple[str, bool], int] = field(default_factory=dict)
    queue_depth: Mapping[str, int] | None = None


_problem_cache: dict[str, Any] = {}


def rule_problem_count(paths: list[Path]) -> int:
    """Rules that do not load; re-read only when a rule file changed (mtime/size snapshot)."""
    mark = snapshot(paths)
    if _problem_cache.get("mark") != mark:
        _problem_cache["count"] = len(list_rules(paths=paths)[1])
        _problem_cache["mark"] = mark
    return int(_problem_cache["count"])


def queue_depth(settings: Settings) -> dict[str, int] | None:
    """Messages waiting per Celery queue, or None when the broker cannot be read cheaply.

    Embedded broker: rows of kombu's message table (read-only SQLite connection). Redis: LLEN
    of each queue list. Any other broker, or a broker that does not answer: not reported.
    """
    url = settings.celery_broker_url
    try:
        if url.startswith("sqla+sqlite:///"):
            path = Path(url.removeprefix("sqla+sqlite:///"))
            if not path.is_file():
                return {}
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
                rows = conn.execute(
                    "SELECT q.name, COUNT(m.id) FROM kombu_queue q LEFT JOIN kombu_message m"
                    " ON m.queue_id = q.id AND m.visible GROUP BY q.name"
                ).fetchall()
            return {str(name): int(count) for name, count in rows}
        if url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            try:
                return {"celery": int(client.llen("celery"))}
            finally:
                client.close()
    except (sqlite3.Error, OSError, redis.RedisError) as exc:
        # The scrape must not fail because the broker is busy or down: leave the metric out.
        log.info("metrics: Celery queue depth not readable: %s", exc)
    return None


def read_platform(
    *, db: Session, alerts: AlertStore, settings: Settings, clock: Clock, rule_paths: list[Path]
) -> PlatformSnapshot:
    """Counts and sums for one scrape: cheap queries, no personal data."""
    states = rule_states(db=db)
    engine = db.get(RuntimeValue, ENGINE_COST)
    cost = dict(engine.value) if engine is not None else {}
    alert_counts: dict[tuple[str, bool], int] = {
        (status, exercise): alerts.count(AlertQuery(statuses=[status], exercise=exercise))
        for status in ALERT_STATUSES
        for exercise in (False, True)
    }
    incident_counts: Counter[tuple[str, bool]] = Counter()
    rows = db.execute(
        select(Incident.status, Incident.exercise_id.is_not(None), func.count()).group_by(
            Incident.status, Incident.exercise_id.is_not(None)
        )
    )
    for status, exercise, count in rows:
        incident_counts[(str(status), bool(exercise))] += int(count)
    now = clock.now()
    due: Counter[tuple[str, bool]] = Counter()
    overdue: Counter[tuple[str, bool]] = Counter()
    for item in all_deadlines(db=db, clock=clock, settings=settings):
        if item.status == "overdue":
            overdue[(item.clock, item.exercise)] += 1
        elif item.status == "open" and _within(item.due_at, now, DUE_SOON):
            due[(item.clock, item.exercise)] += 1
    return PlatformSnapshot(
        detection_events=int(cost.get("events", 0)),
        detection_batches=int(cost.get("batches", 0)),
        detection_seconds=int(cost.get("ns", 0)) / 1e9,
        rule_hits={rule: state.hits or 0 for rule, state in states.items()},
        rule_cost_seconds={rule: (state.cost_ns or 0) / 1e9 for rule, state in states.items()},
        rule_problems=rule_problem_count(rule_paths),
        alerts=alert_counts,
        incidents=dict(incident_counts),
        deadlines_due=dict(due),
        deadlines_overdue=dict(overdue),
        queue_depth=queue_depth(settings),
    )


def read_platform_or_none(
    *, db: Session, alerts: AlertStore, settings: Settings, clock: Clock, rule_paths: list[Path]
) -> PlatformSnapshot | None:
    """`read_platform`, or None when a store cannot answer: the collector part still scrapes."""
    try:
        return read_platform(
            db=db, alerts=alerts, settings=settings, clock=clock, rule_paths=rule_paths
        )
    except (SQLAlchemyError, DijkwachtError) as exc:
        log.warning("metrics: platform counts not readable: %s", exc)
        return None


def _within(due: datetime, now: datetime, span: timedelta) -> bool:
    return now <= due <= now + span


def _flag(exercise: bool) -> str:
    return "true" if exercise else "false"


class PlatformCollector(Collector):
    """Metric families of one `PlatformSnapshot` (read on scrape, nothing kept in between)."""

    def __init__(self, data: PlatformSnapshot | None) -> None:
        self._data = data

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "dijkwacht_platform_metrics_up",
            "1 when the platform counts below were read; 0 when a store did not answer.",
            value=int(self._data is not None),
        )
        if self._data is None:
            return
        d = self._data
        yield CounterMetricFamily(
            "dijkwacht_detection_events", "Events run through detection.", value=d.detection_events
        )
        yield CounterMetricFamily(
            "dijkwacht_detection_batches",
            "Batches run through detection.",
            value=d.detection_batches,
        )
        yield CounterMetricFamily(
            "dijkwacht_detection_seconds",
            "Wall time spent matching batches against the rules.",
            value=d.detection_seconds,
        )
        hits = CounterMetricFamily(
            "dijkwacht_detection_rule_matches", "Matches per rule.", labels=["rule"]
        )
        for rule, count in sorted(d.rule_hits.items()):
            hits.add_metric([rule], count)
        yield hits
        cost = CounterMetricFamily(
            "dijkwacht_detection_rule_cost_seconds",
            "Profiled matching time per rule (an upper bound: the engine's index is bypassed).",
            labels=["rule"],
        )
        for rule, seconds in sorted(d.rule_cost_seconds.items()):
            cost.add_metric([rule], seconds)
        yield cost
        yield GaugeMetricFamily(
            "dijkwacht_detection_rule_load_problems",
            "Rule files or rules that do not load (shown on /rules).",
            value=d.rule_problems,
        )
        yield _by_two("dijkwacht_alerts", "Alerts by status.", "status", d.alerts)
        yield _by_two("dijkwacht_incidents", "Incidents by status.", "status", d.incidents)
        yield _by_two(
            "dijkwacht_breach_deadlines_due_24h",
            "Open legal deadlines of breaches due within the next 24 hours, by clock.",
            "clock",
            d.deadlines_due,
        )
        yield _by_two(
            "dijkwacht_breach_deadlines_overdue",
            "Legal deadlines of breaches that passed without the report, by clock.",
            "clock",
            d.deadlines_overdue,
        )
        if d.queue_depth is not None:
            depth = GaugeMetricFamily(
                "dijkwacht_celery_queue_depth",
                "Task messages waiting in the broker, by queue.",
                labels=["queue"],
            )
            for queue, count in sorted(d.queue_depth.items()):
                depth.add_metric([queue], count)
            yield depth


def _by_two(
    name: str, help_text: str, label: str, values: Mapping[tuple[str, bool], int]
) -> GaugeMetricFamily:
    """A gauge labelled by `label` and `exercise` (drill data is always told apart)."""
    family = GaugeMetricFamily(name, help_text, labels=[label, "exercise"])
    for (key, exercise), count in sorted(values.items()):
        family.add_metric([key, _flag(exercise)], count)
    return family
