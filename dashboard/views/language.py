"""The language switch: nl or en, then back to the page it came from.

A GET, like the public awareness pages' switch, so it works as a plain link and before anyone
has logged in. Anonymous visitors get a preference cookie only; for a logged-in person the
choice is also remembered on their account, and logging in (on any browser) sets the cookie
from the account again (dashboard/views/auth.py), so the language follows the person.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from core.accounts.service import set_language
from core.errors import NotFoundError
from dashboard.deps import PUBLIC, OptionalUser, WriteDb
from dashboard.i18n import LANGUAGE_COOKIE, LANGUAGES

router = APIRouter(tags=["pages"], dependencies=[PUBLIC])
ONE_YEAR = 365 * 24 * 3600


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/language/{lang}", summary="Switch the dashboard's language (nl, en)")
def switch(
    lang: str, request: Request, db: WriteDb, user: OptionalUser, next: str | None = None
) -> RedirectResponse:
    if lang not in LANGUAGES:
        raise NotFoundError(f"language {lang!r} is not offered")
    if user is not None:
        set_language(db=db, user_id=user.user_id, language=lang)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_language_cookie(response, request, lang)
    return response


def set_language_cookie(response: Response, request: Request, lang: str) -> None:
    """The preference cookie the language middleware reads (a year; not readable by scripts)."""
    response.set_cookie(
        LANGUAGE_COOKIE,
        lang,
        max_age=ONE_YEAR,
        path="/",
        samesite="lax",
        httponly=True,
        secure=request.url.scheme == "https",
    )
