"""Event search for the dashboard: every search is an audited read of personal data."""

from __future__ import annotations

from dataclasses import dataclass

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
