"""Retro-hunt: run indicators over the events already stored, within a bounded window.

The stored events of the last `intel_hunt_window_hours` (at most `intel_hunt_max_events`) are
read page by page through the event store's own search (SQLite or Elasticsearch, whichever is
configured) and run through the same compiled matcher as the stream, built from only the
indicators asked for. The scan needs no database unit; only the matched events are kept, and
`alert_hits` (a write unit) turns them into alerts. Sightings make a past match alert once,
however often the hunt runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core.clock import Clock
from core.config import Settings
from core.store.base import EventQuery, EventStore
from intel.matcher import Hit, Matcher

PAGE = 2000


@dataclass
class HuntReport:
    indicators: int = 0
    events: int = 0
    matches: int = 0
    alerts: int = 0
    truncated: bool = False  # the window held more events than `intel_hunt_max_events`
    hits: list[Hit] = field(default_factory=list, repr=False)
    matched_events: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list, repr=False)


def hunt(
    *, clock: Clock, settings: Settings, event_store: EventStore, matcher: Matcher
) -> HuntReport:
    """Scan the window's stored events; the report holds the hits and the events they are in
    (indexes into `matched_events`), ready for `alert_hits`."""
    report = HuntReport(indicators=len(matcher))
    if not len(matcher):
        return report
    now = clock.now()
    start = now - timedelta(hours=settings.intel_hunt_window_hours)
    offset = 0
    while offset < settings.intel_hunt_max_events:
        limit = min(PAGE, settings.intel_hunt_max_events - offset)
        page = event_store.search(
            EventQuery(start=start, end=now, limit=limit, offset=offset, order="asc")
        )
        if not page:
            break
        hits = matcher.match([stored.event for stored in page])
        report.events += len(page)
        report.matches += len(hits)
        kept: dict[int, int] = {}
        for hit in hits:
            if hit.event_index not in kept:
                kept[hit.event_index] = len(report.matched_events)
                stored = page[hit.event_index]
                report.matched_events.append((stored.id, stored.event))
            report.hits.append(
                Hit(kept[hit.event_index], hit.field, hit.atomic, hit.key, hit.contexts)
            )
        offset += len(page)
        if len(page) < limit:
            break
    else:
        more = EventQuery(start=start, end=now, limit=1, offset=offset, order="asc")
        report.truncated = bool(event_store.search(more))
    return report
