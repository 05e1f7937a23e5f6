"""Event search, as a page and as JSON; every search is an audited read of personal data."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from core.accounts.models import Role
from core.store.base import EventQuery, StoredEvent
from dashboard.audit_reads import audit_read, pseudonyms_in, require_purpose
from dashboard.deps import ClockDep, DbSession, EventStoreDep, Principal, RequireRole, Templates

router = APIRouter(tags=["events"])
Searcher = Annotated[
    Principal,
    Depends(RequireRole(Role.ANALYST, Role.INCIDENT_MANAGER, scope="read:events")),
]
PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=500, description="free text in event.original")]
Dataset = Annotated[str | None, Query(max_length=200, description="exact event.dataset")]
Page = Annotated[int, Query(ge=1, le=10_000)]
Purpose = Annotated[
    str | None, Query(max_length=500, description="why; required when results name residents")
]


class EventOut(BaseModel):
    id: str
    event: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventOut]
    total: int
    page: int


def _search(
    *,
    store: EventStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Principal,
    q: str | None,
    dataset: str | None,
    page: int,
    purpose: str | None,
) -> tuple[list[StoredEvent], int]:
    """Search, ask for a purpose when residents appear, audit what was shown."""
    filters = {"event.dataset": dataset} if dataset else {}
    query = EventQuery(
        text=q or None, filters=filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    found = store.search(query)
    subjects = pseudonyms_in([stored.event for stored in found])
    clean = require_purpose(purpose, subjects)
    audit_read(
        db=db,
        clock=clock,
        principal=user,
        object_type="event_search",
        object_id=None,
        purpose=clean,
        subjects=subjects,
        details={
            "query": {"text": q, "dataset": dataset, "page": page},
            "ids": [stored.id for stored in found],
        },
    )
    return found, store.count(query)


@router.get("/events", response_class=HTMLResponse, summary="Event search (page)")
def search_page(
    request: Request,
    store: EventStoreDep,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Searcher,
    q: Text = None,
    dataset: Dataset = None,
    page: Page = 1,
    purpose: Purpose = None,
) -> HTMLResponse:
    found, total = _search(
        store=store,
        db=db,
        clock=clock,
        user=user,
        q=q,
        dataset=dataset,
        page=page,
        purpose=purpose,
    )
    rows = [(s.id, json.dumps(s.event, indent=2, ensure_ascii=False, default=str)) for s in found]
    context = {
        "rows": rows,
        "total": total,
        "q": q or "",
        "dataset": dataset or "",
        "page": page,
        "purpose": purpose or "",
    }
    return templates.TemplateResponse(request, "events.html", context)


@router.get("/api/events", response_model=EventPage, summary="Event search")
def api_search(
    store: EventStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Searcher,
    q: Text = None,
    dataset: Dataset = None,
    page: Page = 1,
    purpose: Purpose = None,
) -> EventPage:
    """Free text and dataset filter; 400 naming `purpose` when results name a resident."""
    found, total = _search(
        store=store,
        db=db,
        clock=clock,
        user=user,
        q=q,
        dataset=dataset,
        page=page,
        purpose=purpose,
    )
    return EventPage(
        events=[EventOut(id=s.id, event=s.event) for s in found], total=total, page=page
    )
