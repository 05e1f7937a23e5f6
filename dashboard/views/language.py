"""The language switch: a preference cookie (nl or en), then back to the page it came from.

A GET, like the public awareness pages' switch: it changes no data, only which catalogue the
next pages use, and it must work before anyone has logged in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from core.errors import NotFoundError
from dashboard.deps import PUBLIC
from dashboard.i18n import LANGUAGE_COOKIE, LANGUAGES

router = APIRouter(tags=["pages"], dependencies=[PUBLIC])
ONE_YEAR = 365 * 24 * 3600


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/language/{lang}", summary="Switch the dashboard's language (nl, en)")
def switch(lang: str, request: Request, next: str | None = None) -> RedirectResponse:
    if lang not in LANGUAGES:
        raise NotFoundError(f"language {lang!r} is not offered")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        lang,
        max_age=ONE_YEAR,
        path="/",
        samesite="lax",
        httponly=True,
        secure=request.url.scheme == "https",
    )
    return response
