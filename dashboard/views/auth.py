"""Login and logout: argon2 check with lock-out (core.accounts), session rotation at login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from core.accounts import AuthenticationError, LoginPolicy, authenticate, check_password
from core.accounts.sessions import end_session, start_session
from core.store.unit_of_work import unit_of_work
from dashboard.deps import (
    PUBLIC,
    ClockDep,
    Principal,
    RequireRole,
    SessionFactory,
    Templates,
    WriteDb,
)
from dashboard.security import (
    ALL_ROLES,
    SESSION_COOKIE,
    clear_session_cookie,
    set_session_cookie,
    web_session,
)
from dashboard.views.language import set_language_cookie

router = APIRouter(tags=["auth"])
AnyUser = Annotated[Principal, Depends(RequireRole(*ALL_ROLES))]
POLICY = LoginPolicy()


class Me(BaseModel):
    """The caller as the API sees it."""

    username: str
    display_name: str
    role: str
    via: str
    scopes: list[str] | None


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request,
    templates: Templates,
    *,
    csrf: str,
    next_url: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "csrf": csrf,
        "next": next_url,
        "username": username,
        "error": error,
        "max_failures": POLICY.max_failures,
        "lockout_minutes": int(POLICY.lockout.total_seconds() // 60),
        "oidc": request.app.state.settings.oidc_enabled,
    }
    return templates.TemplateResponse(request, "login.html", context, status_code=status)


@router.get("/login", response_class=HTMLResponse, summary="Login form", dependencies=[PUBLIC])
def login_form(
    request: Request,
    factory: SessionFactory,
    clock: ClockDep,
    templates: Templates,
    next: str | None = None,
) -> HTMLResponse:
    """Gives the visitor an anonymous session whose CSRF token protects the login form."""
    session = web_session(request, factory, clock)
    new = session is None
    if session is None:
        with unit_of_work(factory) as db:  # committed before the cookie is handed out
            session = start_session(db=db, user=None, clock=clock)
        request.state.web_session = session
    response = _login_page(request, templates, csrf=session.csrf_token, next_url=_safe_next(next))
    if new:
        set_session_cookie(response, request, session)
    return response


@router.post("/login", summary="Log in (form)", dependencies=[PUBLIC])
def login(
    request: Request,
    factory: SessionFactory,
    clock: ClockDep,
    templates: Templates,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """On success a NEW session id replaces the pre-login one (no session fixation).

    The password is verified in a read unit first (argon2 is slow; never under the write
    lock), then one write unit for the outcome and the new session; a refused login still
    commits its failure count and audit entry (`commit_on`).
    """
    with unit_of_work(factory, write=False) as db:
        checked = check_password(db=db, username=username, password=password)
    try:
        with unit_of_work(factory, commit_on=(AuthenticationError,)) as db:
            user = authenticate(
                db=db,
                username=username,
                password=password,
                clock=clock,
                policy=POLICY,
                checked=checked,
            )
            session = start_session(
                db=db, user=user, clock=clock, replaces=request.cookies.get(SESSION_COOKIE)
            )
            language = user.language
    except AuthenticationError as exc:
        current = web_session(request, factory, clock)
        csrf = current.csrf_token if current else ""
        return _login_page(
            request,
            templates,
            csrf=csrf,
            next_url=_safe_next(next),
            username=username,
            error=str(exc),  # translated in login.html (the catalogue has every message)
            status=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, request, session)
    if language:  # the language this person chose before, on whichever browser
        set_language_cookie(response, request, language)
    return response


@router.post("/logout", summary="Log out")
def logout(request: Request, db: WriteDb, user: AnyUser) -> Response:
    """Ends the session server-side, so a copied cookie stops working too."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        end_session(db=db, session_id=session_id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.get("/api/me", response_model=Me, summary="Who am I (session)")
def me(user: AnyUser) -> Me:
    """The logged-in user and role; scripts use their token on the routes made for them."""
    scopes = sorted(user.scopes) if user.scopes is not None else None
    return Me(
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        via=user.via,
        scopes=scopes,
    )
