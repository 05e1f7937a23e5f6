"""The landing page: how much the platform has seen (aggregates only, no personal data)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core.store.base import EventQuery
from dashboard.deps import PUBLIC, EventStoreDep, Templates

router = APIRouter(tags=["pages"], dependencies=[PUBLIC])


@router.get("/", response_class=HTMLResponse, summary="Landing page")
def home(request: Request, events: EventStoreDep, templates: Templates) -> HTMLResponse:
    total = events.count(EventQuery())
    return templates.TemplateResponse(request, "home.html", {"total_events": total})
