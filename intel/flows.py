"""Multi-step intel work that opens its own units: import a feed then retro-hunt what it added.

Used by the scheduled refresh and, through `intel.service`, by `dijkwacht intel import` and the
import page, so the three share one order of steps: read (no unit), apply (write unit), hunt
(write unit), deliver the alerts (write unit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.clock import Clock
from core.config import Settings
from core.store.factory import open_alert_store, open_event_store
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work
from intel.alerting import alert_hits, deliver
from intel.hunt import HuntReport
from intel.hunt import hunt as retro_hunt  # `hunt` is import_and_hunt's flag
from intel.indicators import apply_import, build_matcher, feed_defaults, parse_upload, read_feed
from intel.schemas import ImportReport


@dataclass
class ImportOutcome:
    report: ImportReport
    hunt: HuntReport | None
    alert_ids: list[str]


def import_and_hunt(
    *,
    settings: Settings,
    clock: Clock,
    sessions: Any,
    location: str,
    fmt: str,
    source: str,
    confidence: int | None = None,
    tlp: str | None = None,
    hunt: bool = True,
    actor: str = "system:intel.refresh",
    data: bytes | None = None,
) -> ImportOutcome:
    """Read a feed (or parse `data`, an uploaded file named `location`), store it, then
    retro-hunt the indicators it added (when `hunt`)."""
    feed = feed_defaults(settings, source)
    if data is not None:
        parsed = parse_upload(data, fmt, name=location)
    else:
        parsed = read_feed(location, fmt, settings=settings)
    with unit_of_work(sessions) as db:
        report = apply_import(
            db=db,
            clock=clock,
            parsed=parsed,
            source=source,
            location=location,
            fmt=fmt,
            actor=actor,
            confidence=confidence if confidence is not None else (feed.confidence if feed else 50),
            tlp=tlp or (feed.tlp if feed else "amber"),
        )
    if not hunt or not report.new_keys:
        return ImportOutcome(report, None, [])
    hunted, ids = hunt_keys(settings=settings, clock=clock, sessions=sessions, keys=report.new_keys)
    return ImportOutcome(report, hunted, ids)


def hunt_keys(
    *, settings: Settings, clock: Clock, sessions: Any, keys: list[str] | None
) -> tuple[HuntReport, list[str]]:
    """Retro-hunt `keys` (None: every active indicator); deliver the alerts it queued.

    `report.alerts` counts the alerts queued; the ids returned are those this call delivered,
    which can be fewer: a running collector delivers pending outbox alerts with its next batch.
    """
    event_store = open_event_store(settings, clock=clock)
    try:
        with unit_of_work(sessions, write=False) as db:
            matcher = build_matcher(db=db, clock=clock, settings=settings, keys=keys)
        report = retro_hunt(
            clock=clock, settings=settings, event_store=event_store, matcher=matcher
        )
    finally:
        event_store.close()
    if report.hits:
        with unit_of_work(sessions) as db:
            report.alerts = alert_hits(
                db=db,
                clock=clock,
                hits=report.hits,
                events_with_ids=report.matched_events,
                how="hunt",
            )
    ids: list[str] = []
    if report.alerts:
        alert_store = open_alert_store(settings, clock=clock)
        try:
            with unit_of_work(sessions) as db:
                ids = deliver(db=db, alert_store=alert_store, clock=clock)
        finally:
            alert_store.close()
    return report, ids


def refresh_feeds(*, settings: Settings, clock: Clock) -> dict[str, Any]:
    """Every configured feed once; returns per source its counts (for the task result)."""
    engine = create_db_engine(settings)
    sessions = create_session_factory(engine)
    results: dict[str, Any] = {}
    try:
        for source, feed in settings.intel_feeds.items():
            outcome = import_and_hunt(
                settings=settings,
                clock=clock,
                sessions=sessions,
                location=feed.location,
                fmt=feed.format,
                source=source,
            )
            results[source] = {
                **outcome.report.counts(),
                "problems": len(outcome.report.problems),
                "hunt_alerts": len(outcome.alert_ids),
            }
    finally:
        engine.dispose()
    return results
