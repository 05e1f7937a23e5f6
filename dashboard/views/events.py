"""Event search like Discover, as a page and as JSON; every search is an audited read.

The page keeps everything in the URL (query, range, columns, sort, page) so a search can be
shared and paged. The purpose of the reads is asked once and remembered for the browser
session (a cookie), and is still recorded with every audited search.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from core.accounts.models import Role
from core.privacy.service import clean_purpose
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    EventStoreDep,
    Principal,
    RequireRole,
    Templates,
)
from dashboard.services.events import (
    EventSearch,
    default_columns,
    events_histogram,
    field_value,
    flatten,
    original_text,
    parse_query,
    quote_term,
    search_events,
)
from dashboard.services.timerange import PRESET_LABELS, parse_range

router = APIRouter(tags=["events"])
Searcher = Annotated[
    Principal,
    Depends(RequireRole(Role.ANALYST, Role.INCIDENT_MANAGER, scope="read:events")),
]
Text = Annotated[
    str | None,
    Query(max_length=500, description="free text in event.original and field:value terms"),
]
Dataset = Annotated[str | None, Query(max_length=200, description="exact event.dataset")]
Page = Annotated[int, Query(ge=1, le=10_000)]
Purpose = Annotated[
    str | None, Query(max_length=500, description="why; required when results name residents")
]
Range = Annotated[
    str | None, Query(max_length=10, description="15m, 1h, 24h, 7d, 30d, all, custom")
]
From = Annotated[str | None, Query(alias="from", max_length=30, description="custom start")]
To = Annotated[str | None, Query(max_length=30, description="custom end")]
Order = Annotated[Literal["asc", "desc"], Query(description="by @timestamp")]
Columns = Annotated[list[str] | None, Query(max_length=20, description="columns to show")]
PURPOSE_COOKIE = "dijkwacht_purpose"


class EventOut(BaseModel):
    id: str
    event: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventOut]
    total: int
    # True when counting stopped at `total` (at least 10,000 or the page after this one).
    capped: bool = False
    page: int


def _search_params(
    request: Request,
    settings: AppSettings,
    clock: ClockDep,
    q: Text = None,
    dataset: Dataset = None,
    page: Page = 1,
    purpose: Purpose = None,
    range: Range = None,
    from_: From = None,
    to: To = None,
    order: Order = "desc",
) -> EventSearch:
    """The search's query parameters, shared by the page and the API (API range: all)."""
    default = "24h" if request.url.path == "/events" else "all"
    span = parse_range(
        key=range,
        start=from_,
        end=to,
        now=clock.now(),
        zone=ZoneInfo(settings.timezone),
        default=default,
    )
    parse_query(q)  # a bad field name is a 400 naming `q`, before any read
    remembered = request.cookies.get(PURPOSE_COOKIE) if request.url.path == "/events" else None
    return EventSearch(
        q=q,
        dataset=dataset,
        page=page,
        purpose=clean_purpose(purpose) or clean_purpose(remembered),
        start=span.start,
        end=span.end,
        order=order,
        span=span,
    )


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
    col: Columns = None,
) -> HTMLResponse:
    results = search_events(store=store, db=db, clock=clock, principal=user, search=search)
    found, total = results.events, results.total
    chosen = [c.strip() for raw in col or [] for c in raw.split(",") if c.strip()]
    columns = chosen or default_columns(found, search.dataset)
    span = search.span
    keep = [("q", search.q or "")] + ([("dataset", search.dataset)] if search.dataset else [])
    keep += ([("col", ",".join(chosen))] if chosen else []) + [("order", search.order)]
    rows = [
        {
            "id": s.id,
            "time": field_value(s.event, "@timestamp"),
            "cells": [(c, field_value(s.event, c)) for c in columns],
            "fields": flatten(s.event),
            "original": original_text(s.event),
        }
        for s in found
    ]
    context = {
        "rows": rows,
        "total": total,
        "capped": results.capped,
        "columns": columns,
        "chosen": chosen,
        "q": search.q or "",
        "dataset": search.dataset or "",
        "page": search.page,
        "pages": max(1, -(-total // 50)),
        "order": search.order,
        "purpose": search.purpose or "",
        "span": span,
        "keep": keep,
        "params": keep + (span.params if span else []),
        "range_labels": PRESET_LABELS,
        "chart": events_histogram(store=store, search=search, span=span, now=clock.now())
        if span
        else None,
        "term": quote_term,
    }
    response = templates.TemplateResponse(request, "events.html", context)
    if search.purpose and request.cookies.get(PURPOSE_COOKIE) != search.purpose:
        # Remembered for this browser session only (no max-age), never readable by scripts.
        response.set_cookie(
            PURPOSE_COOKIE,
            search.purpose,
            path="/events",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


@router.get("/api/events", response_model=EventPage, summary="Event search")
def api_search(
    store: EventStoreDep, db: DbSession, clock: ClockDep, user: Searcher, search: Search
) -> EventPage:
    """Free text, `field:value` terms and dataset filter; 400 naming `purpose` when results
    name a resident. Without `range` the API searches all stored events. `total` is counted
    up to 10,000 (or the page after this one); `capped` says that more exist."""
    results = search_events(store=store, db=db, clock=clock, principal=user, search=search)
    return EventPage(
        events=[EventOut(id=s.id, event=s.event) for s in results.events],
        total=results.total,
        capped=results.capped,
        page=search.page,
    )
