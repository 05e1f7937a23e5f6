"""Event search for the dashboard: every search is an audited read of personal data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.clock import Clock
from core.store.base import EventQuery, EventStore, StoredEvent
from dashboard.audit_reads import audit_personal_read, pseudonyms_in
from dashboard.security import Principal

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class EventSearch:
    """What the page and the API ask for: free text, a dataset, a page and the purpose."""

    q: str | None = None
    dataset: str | None = None
    page: int = 1
    purpose: str | None = None


def search_events(
    *, store: EventStore, db: Session, clock: Clock, principal: Principal, search: EventSearch
) -> tuple[list[StoredEvent], int]:
    """Search, ask for a purpose when residents appear, audit what was shown; events and total."""
    filters = {"event.dataset": search.dataset} if search.dataset else {}
    query = EventQuery(
        text=search.q or None,
        filters=filters,
        limit=PAGE_SIZE,
        offset=(search.page - 1) * PAGE_SIZE,
    )
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
            "query": {"text": search.q, "dataset": search.dataset, "page": search.page},
            "ids": [stored.id for stored in found],
        },
    )
    return found, store.count(query)


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
