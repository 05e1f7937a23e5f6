"""`POST /api/ingest/{source}` on the dashboard: a 308 redirect to the collector's listener.

HTTP ingest moved to the collector process (`collectors.http_server`, `ingest_http_port`) so
dashboard load cannot starve it. This route still checks the token (so unauthenticated
callers learn nothing and the authorisation matrix holds), then answers 308 Permanent Redirect
to the same path on the collector port without reading the body: clients that follow 308 resend
the same method and body there, and everyone else sees where to point their sender.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from collectors.service import ForbiddenError, UnauthorizedError, authenticate
from dashboard.deps import AppSettings, ClockDep, DbSession

router = APIRouter(tags=["ingest"])


@router.post("/api/ingest/{source}", summary="Moved: HTTP ingest is served by the collector")
def ingest(
    source: str,
    request: Request,
    settings: AppSettings,
    db: DbSession,
    clock: ClockDep,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """401 without a live token, 403 without the `ingest` scope or for another source; 308 to
    the collector's port; 503 when it serves no HTTP."""
    try:
        authenticate(db=db, source=source, authorization=authorization, clock=clock)
    except UnauthorizedError as exc:
        return JSONResponse({"detail": str(exc)}, 401, headers={"WWW-Authenticate": "Bearer"})
    except ForbiddenError as exc:
        return JSONResponse({"detail": str(exc)}, 403)
    if not settings.ingest_http_enabled or settings.ingest_http_port == 0:
        return JSONResponse(
            {"detail": "HTTP ingest is served by the collector, and it is disabled there"}, 503
        )
    target = str(request.url.replace(port=settings.ingest_http_port))
    return JSONResponse(
        {"detail": f"HTTP ingest moved to the collector: POST to {target}"},
        308,
        headers={"Location": target},
    )
