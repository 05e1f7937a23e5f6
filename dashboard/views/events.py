"""Event search, as a page and as JSON; every search is an audited read of personal data."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from core.accounts.models import Role
from dashboard.deps import ClockDep, DbSession, EventStoreDep, Principal, RequireRole, Templates
from dashboard.services.events import EventSearch, search_events

router = APIRouter(tags=["events"])
Searcher = Annotated[
    Principal,
    Depends(RequireRole(Role.ANALYST, Role.INCIDENT_MANAGER, scope="read:events")),
]
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


def _search_params(
    q: Text = None, dataset: Dataset = None, page: Page = 1, purpose: Purpose = None
) -> EventSearch:
    """The search's query parameters, shared by the page and the API."""
    return EventSearch(q=q, dataset=dataset, page=page, purpose=purpose)


Search = Annotated[EventSearch, Depends(_search_params)]


@router.get("/events", response_class=HTMLResponse, summary="Event search (page)")
def search_page(
    request: Request,
    store: EventStoreDep,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Searcher,
    search: Search,
) -> HTMLResponse:
    found, total = search_events(store=store, db=db, clock=clock, principal=user, search=search)
    rows = [(s.id, json.dumps(s.event, indent=2, ensure_ascii=False, default=str)) for s in found]
    context = {
        "rows": rows,
        "total": total,
        "q": search.q or "",
        "dataset": search.dataset or "",
        "page": search.page,
        "purpose": search.purpose or "",
    }
    return templates.TemplateResponse(request, "events.html", context)


@router.get("/api/events", response_model=EventPage, summary="Event search")
def api_search(
    store: EventStoreDep, db: DbSession, clock: ClockDep, user: Searcher, search: Search
) -> EventPage:
    """Free text and dataset filter; 400 naming `purpose` when results name a resident."""
    found, total = search_events(store=store, db=db, clock=clock, principal=user, search=search)
    return EventPage(
        events=[EventOut(id=s.id, event=s.event) for s in found], total=total, page=search.page
    )
