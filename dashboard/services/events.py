"""Event search for the dashboard: every search is an audited read of personal data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import ValidationError
from core.privacy.service import audit_personal_read, pseudonyms_in
from core.store.base import EventQuery, EventStore, StoredEvent
from dashboard.security import Principal
from dashboard.services.timerange import Histogram, TimeRange, time_slices

PAGE_SIZE = 50
# The total is counted up to here (at least to the page after this one), shown as "10000+",
# as Kibana shows its hit count: exact totals of a broad search over millions of events cost a
# pass over all of them on every page.
COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class EventResults:
    """One page of a search: the events, the total counted up to `cap` and whether it stopped."""

    events: list[StoredEvent]
    total: int
    capped: bool


@dataclass(frozen=True, slots=True)
class EventSearch:
    """What the page and the API ask for: query (text and `field:value`), range, page, purpose.

    `q` is split by `parse_query`: `host.name:web01` filters on a field, `-host.name:web01`
    leaves a value out, quotes keep spaces (`user.name:"jan de vries"`), the rest is free text
    over `event.original`.
    """

    q: str | None = None
    dataset: str | None = None
    page: int = 1
    purpose: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    order: Literal["asc", "desc"] = "desc"
    span: TimeRange | None = None


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    filters: dict[str, Any]
    exclude: dict[str, Any]
    text: str | None


_TERM = re.compile(r'(-?)([A-Za-z@_][\w.@-]*):("([^"]*)"|(\S+))|"([^"]*)"|(\S+)')
_FIELD = re.compile(r"^[A-Za-z@_][\w@-]*(\.[\w@-]+)*$")


def parse_query(q: str | None) -> ParsedQuery:
    """Split a Discover-style query into field filters, exclusions and free text."""
    filters: dict[str, list[str]] = {}
    exclude: dict[str, list[str]] = {}
    words: list[str] = []
    for match in _TERM.finditer(q or ""):
        neg, name, _raw, quoted, bare, phrase, word = match.groups()
        if name is not None:
            if not _FIELD.match(name):
                raise ValidationError("q", f"{name!r} is no ECS field name")
            value = quoted if quoted is not None else bare
            (exclude if neg else filters).setdefault(name, []).append(value)
        else:
            words.append(phrase if phrase is not None else word)
    return ParsedQuery(
        {k: v[0] if len(v) == 1 else v for k, v in filters.items()},
        {k: v[0] if len(v) == 1 else v for k, v in exclude.items()},
        " ".join(w for w in words if w) or None,
    )


def quote_term(name: str, value: str, *, out: bool = False) -> str:
    """The query term for one field value (what a click on a value adds to the query)."""
    shown = f'"{value}"' if (not value or any(c.isspace() or c == '"' for c in value)) else value
    return f"{'-' if out else ''}{name}:{shown.replace(chr(34) * 2, chr(34))}"


def event_query(search: EventSearch, *, limit: int = PAGE_SIZE) -> EventQuery:
    parsed = parse_query(search.q)
    filters = dict(parsed.filters)
    if search.dataset:
        filters["event.dataset"] = search.dataset
    return EventQuery(
        start=search.start,
        end=search.end,
        filters=filters,
        exclude=parsed.exclude,
        text=parsed.text,
        limit=limit,
        offset=(search.page - 1) * limit,
        order=search.order,
    )


def search_events(
    *, store: EventStore, db: Session, clock: Clock, principal: Principal, search: EventSearch
) -> EventResults:
    """Search, ask for a purpose when residents appear, audit what was shown.

    The total is counted up to COUNT_CAP or to the page after this one, whichever is further,
    so "next" works while events remain and a deep page counts only as far as it needs.
    """
    query = event_query(search)
    found = store.search(query)
    audit_personal_read(
        db=db,
        clock=clock,
        principal=principal,
        object_type="event_search",
        object_id=None,
        purpose=search.purpose,
        subjects=pseudonyms_in([stored.event for stored in found]),
        details={
            "query": {
                "text": search.q,
                "dataset": search.dataset,
                "page": search.page,
                "start": search.start.isoformat() if search.start else None,
                "end": search.end.isoformat() if search.end else None,
            },
            "ids": [stored.id for stored in found],
        },
    )
    cap = max(COUNT_CAP, query.offset + 2 * PAGE_SIZE)
    total = store.count(query, cap=cap + 1)
    return EventResults(found, min(total, cap), total > cap)


def events_histogram(
    *, store: EventStore, search: EventSearch, span: TimeRange, now: datetime
) -> Histogram | None:
    """Matching events over the range in whole slices (aligned: the store caches them),
    counted by the store in one query; the first slice is clipped to the range's start."""
    slices = time_slices(span=span, now=now, aligned=True)
    if slices is None:
        return None
    starts, step = slices
    counts = store.count_slices(
        replace(event_query(search), limit=0, offset=0),
        start=starts[0],
        step=step,
        buckets=len(starts),
    )
    return Histogram(starts, step, {"events": counts})


# Columns shown when the user picked none, by the kind of events on the page (their dataset).
_WEB = ["host.name", "source.ip", "http.request.method", "url.path", "http.response.status_code"]
DEFAULT_COLUMNS: dict[str, list[str]] = {
    "": ["host.name", "event.dataset", "event.action", "user.name", "source.ip"],
    "nginx": _WEB,
    "apache": _WEB,
    "system.auth": ["host.name", "event.action", "event.outcome", "user.name", "source.ip"],
    "syslog": ["host.name", "process.name", "log.syslog.severity.name", "message"],
    "app_audit": [
        "event.action",
        "user.id",
        "dijkwacht.actor.department",
        "dijkwacht.case.purpose",
    ],
    "windows": ["host.name", "event.code", "event.action", "user.name", "process.name"],
    "network": ["source.ip", "destination.ip", "destination.port", "dns.question.name"],
}


def default_columns(events: Sequence[StoredEvent], dataset: str | None) -> list[str]:
    """Columns for the page: by the searched dataset, else by the most common dataset shown."""
    kinds = [dataset] if dataset else [_dataset(e.event) for e in events]
    common = max(set(kinds), key=kinds.count) if kinds else ""
    for prefix, columns in DEFAULT_COLUMNS.items():
        if prefix and common.startswith(prefix):
            return columns
    return DEFAULT_COLUMNS[""]


def _dataset(event: Mapping[str, Any]) -> str:
    return str(field_value(event, "event.dataset") or "")


def field_value(event: Mapping[str, Any], name: str) -> Any:
    """A dotted ECS field of a nested document (or a flat key of that name); None if absent."""
    if name in event:
        return event[name]
    current: Any = event
    for part in name.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def flatten(event: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """An ECS document as (dotted field name, shown value) rows, sorted by name.

    Lists are joined with ", "; nested objects become dotted names, as ECS documents them.
    `event.original` is left out: pages show it apart, as the original text it is.
    """
    rows: list[tuple[str, str]] = []
    for key, value in event.items():
        name = f"{prefix}{key}"
        if name == "event.original":
            continue
        if isinstance(value, Mapping):
            rows.extend(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            rows.append((name, ", ".join(_shown(v) for v in value)))
        elif value is not None:
            rows.append((name, _shown(value)))
    return sorted(rows)


def _shown(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def original_text(event: Mapping[str, Any]) -> str | None:
    """`event.original` as its source wrote it (a JSON line is pretty-printed, not escaped)."""
    nested = event.get("event")
    raw = nested.get("original") if isinstance(nested, Mapping) else None
    if raw is None:
        raw = event.get("event.original")
    if not isinstance(raw, str):
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(parsed, dict | list):
        return json.dumps(parsed, indent=2, ensure_ascii=False)
    return raw
