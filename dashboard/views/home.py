"""The landing page: each role's home; anonymous visitors go to the public resilience pages.

Nothing about stored events is shown to anonymous visitors (issue #18): the public start is
the awareness library, which holds no operational data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.accounts.models import Role
from core.privacy.service import audit_read
from dashboard.deps import (
    PUBLIC,
    AlertStoreDep,
    AppSettings,
    ClockDep,
    DbSession,
    OptionalUser,
    Templates,
)
from dashboard.services.home import role_home

router = APIRouter(tags=["pages"], dependencies=[PUBLIC])
PUBLIC_START = "/awareness/index.html"


@router.get("/", response_class=HTMLResponse, summary="Home page of the signed-in role")
def home(
    request: Request,
    db: DbSession,
    alerts: AlertStoreDep,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: OptionalUser,
) -> Response:
    """The role's own list of what waits; without a session, the public start page."""
    if user is None:
        return RedirectResponse(PUBLIC_START, status_code=303)
    if user.role == Role.AUDITOR:
        # The auditor's home shows compliance statuses: each of the auditor's reads is audited.
        audit_read(
            db=db, clock=clock, principal=user, object_type="compliance", object_id="home",
            purpose=None,
        )  # fmt: skip
    data = role_home(
        role=user.role,
        username=user.username,
        display_name=user.display_name,
        db=db,
        alerts=alerts,
        clock=clock,
        settings=settings,
    )
    return templates.TemplateResponse(request, "home.html", {"home": data})
