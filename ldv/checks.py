"""The stream check: is every system still logging every processing (no sampling, no loss)?

Two signs of a gap, per system, over a window that ended `SETTLE` ago (a parent span is sent
when it ends, after its children):

- missing parents: spans whose `parent_span_id` is not among the spans received in the
  window plus `LOOKBACK` before it (a parent starts before its children). A sampler that drops
  spans, or a lost batch, leaves exactly these orphans.
- volume: fewer records than `TOLERANCE` times the system's expected volume (`ldv_streams`).

Each run yields one `ldv.stream_check` event per system with a result, which goes through the
normal pipeline (spool, store, rule `ldv_stream_gap`), so a gap is an alert like any other and
the check's own history is searchable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from core.clock import utc_iso
from core.events import Event, get_field
from core.store.base import EventQuery, EventStore

SETTLE = timedelta(minutes=5)
LOOKBACK = timedelta(minutes=30)
TOLERANCE = 0.5
PAGE = 2000
MAX_SPANS = 500_000  # spans examined per run; beyond that the check says it was cut short
DATASET = "ldv.stream_check"


def _spans(
    store: EventStore, start: datetime, end: datetime
) -> tuple[set[str], list[tuple[str, str, str | None, datetime]]]:
    """Known span ids, and (system, span, parent, time) of every LDV span in [start, end)."""
    known: set[str] = set()
    rows: list[tuple[str, str, str | None, datetime]] = []
    offset = 0
    while offset < MAX_SPANS:
        page = store.search(
            EventQuery(
                start=start,
                end=end,
                filters={"event.kind": "event"},
                exclude={"event.dataset": DATASET},
                limit=PAGE,
                offset=offset,
                order="asc",
            )
        )
        for stored in page:
            ldv = get_field(stored.event, "dijkwacht.ldv")
            if not isinstance(ldv, dict) or "span_id" not in ldv:
                continue
            known.add(ldv["span_id"])
            moment = datetime.fromisoformat(str(stored.event["@timestamp"]).replace("Z", "+00:00"))
            system = str((ldv.get("resource") or {}).get("system") or "unknown")
            rows.append((system, ldv["span_id"], ldv.get("parent_span_id"), moment))
        if len(page) < PAGE:
            break
        offset += PAGE
    return known, rows


def check_streams(
    *,
    store: EventStore,
    expected_per_hour: Mapping[str, int],
    now: datetime,
    window: timedelta = timedelta(hours=1),
) -> list[Event]:
    """One `ldv.stream_check` event per system seen or expected in the window."""
    end = now - SETTLE
    start = end - window
    known, rows = _spans(store, start - LOOKBACK, end)
    received: dict[str, int] = {}
    missing: dict[str, int] = {}
    for system, _span, parent, moment in rows:
        if moment < start:
            continue
        received[system] = received.get(system, 0) + 1
        if parent and parent not in known:
            missing[system] = missing.get(system, 0) + 1
    hours = window.total_seconds() / 3600
    events = []
    for system in sorted(set(received) | set(expected_per_hour)):
        count = received.get(system, 0)
        orphans = missing.get(system, 0)
        gap: dict[str, Any] = {
            "missing_parents": orphans,
            "received": count,
            "window_minutes": int(window.total_seconds() // 60),
        }
        expected = expected_per_hour.get(system)
        short = False
        if expected:
            gap["expected"] = int(expected * hours)
            short = count < expected * hours * TOLERANCE
        gap["detected"] = orphans > 0 or short
        body = {"system": system, **gap}
        events.append(
            {
                "@timestamp": utc_iso(end),
                "event": {
                    "kind": "metric",
                    "category": ["database"],
                    "type": ["info"],
                    "dataset": DATASET,
                    "start": utc_iso(start),
                    "end": utc_iso(end),
                    "created": utc_iso(now),
                    "original": orjson.dumps(body).decode(),
                },
                "dijkwacht": {"ldv": {"resource": {"system": system}, "gap": gap}},
            }
        )
    return events
