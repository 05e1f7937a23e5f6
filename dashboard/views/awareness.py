"""Public awareness pages: content by language, audience and topic, the bulletin and Atom feeds.

Thin: every response comes from awareness.service; unknown content is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from awareness import service
from awareness.errors import UnknownContentError
from awareness.service import default_library
from dashboard.deps import PUBLIC, AlertStoreDep, ClockDep
from dashboard.security import csp_for_inline_styles

router = APIRouter(prefix="/awareness", tags=["awareness"], dependencies=[PUBLIC])


def _respond(rendered: service.Rendered) -> Response:
    response = Response(rendered.content, media_type=rendered.media_type)
    if rendered.media_type.startswith("text/html"):
        response.headers["Content-Security-Policy"] = csp_for_inline_styles(rendered.content)
    return response


@router.get("/index.html", summary="Awareness content: every audience per language")
def index() -> Response:
    """The public start page of the resilience content."""
    return _respond(service.index_page(library=default_library()))


@router.get("/{lang}/feed.atom", summary="Atom feed of the awareness content")
def feed(lang: str, request: Request) -> Response:
    """New and updated topics, one entry per topic and audience."""
    base = str(request.url_for("index")).removesuffix("index.html")
    try:
        return _respond(service.atom_feed(library=default_library(), lang=lang, base_url=base))
    except UnknownContentError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/{lang}/{audience}/bulletin.html", summary="Bulletin of the month")
def bulletin(lang: str, audience: str, alerts: AlertStoreDep, clock: ClockDep) -> Response:
    """Topics ranked by the last 30 days of detection, without incident detail."""
    try:
        rendered = service.monthly_bulletin(
            library=default_library(),
            alert_store=alerts,
            now=clock.now(),
            lang=lang,
            audience=audience,
        )
    except UnknownContentError as exc:
        raise HTTPException(404, str(exc)) from None
    return _respond(rendered)


@router.get("/{lang}/{audience}/{name}", summary="One awareness output (page, PDF, text)")
def output(lang: str, audience: str, name: str) -> Response:
    """A topic page, lesson plan, newsletter text or PDF of one audience and language."""
    try:
        rendered = service.render_output(
            library=default_library(), lang=lang, audience=audience, name=name
        )
    except UnknownContentError as exc:
        raise HTTPException(404, str(exc)) from None
    return _respond(rendered)
