"""OIDC login routes (only when `oidc_enabled`): redirect to the issuer, then the callback.

Both are GETs open to everyone: the issuer sends the browser back with a plain redirect, so
`state` (checked against the signed cookie) is what protects the callback from forged
requests, the way the CSRF token protects forms. The pending-login cookie is SameSite=Lax for
the same reason: a Strict cookie would not come back on the issuer's cross-site redirect.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.accounts.oidc import (
    OidcError,
    begin,
    discover,
    finish,
    local_user,
    open_client,
    seal,
    unseal,
)
from core.accounts.sessions import start_session
from core.errors import NotFoundError
from core.store.unit_of_work import unit_of_work
from dashboard.deps import PUBLIC, AppSettings, ClockDep, SessionFactory, Templates
from dashboard.security import SESSION_COOKIE, cookie_is_secure, set_session_cookie

router = APIRouter(tags=["auth"])
PENDING_COOKIE = "dijkwacht_oidc"
COOKIE_PATH = "/login/oidc"


def _enabled(settings: AppSettings) -> None:
    if not settings.oidc_enabled:
        raise NotFoundError("OIDC login is not enabled")


def _redirect_uri(request: Request, settings: AppSettings) -> str:
    return settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get(
    "/login/oidc",
    summary="Log in with the municipal identity provider (OIDC)",
    description="Redirects to the configured issuer (authorization code + PKCE S256). 404 "
    "when OIDC is not enabled.",
    dependencies=[PUBLIC],
)
def oidc_start(
    request: Request,
    settings: AppSettings,
    clock: ClockDep,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    _enabled(settings)
    with open_client(settings) as client:
        try:
            provider = discover(settings=settings, client=client)
        except OidcError as exc:
            return _failed(request, str(exc))
        url, pending = begin(
            client=client,
            provider=provider,
            redirect_uri=_redirect_uri(request, settings),
            next_url=_safe_next(next),
            now=clock.now().timestamp(),
        )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        PENDING_COOKIE,
        seal(pending, key=settings.secret("secret_key")),
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request),
        path=COOKIE_PATH,
    )
    return response


@router.get(
    "/login/oidc/callback",
    name="oidc_callback",
    summary="OIDC callback",
    description="Checks state, redeems the code with the PKCE verifier, verifies the ID token "
    "(JWKS signature, iss, aud, exp, nonce) and logs the mapped local user in.",
    response_class=HTMLResponse,
    dependencies=[PUBLIC],
)
def oidc_callback(
    request: Request,
    factory: SessionFactory,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    _enabled(settings)
    try:
        if error:
            raise OidcError(f"the identity provider refused: {error}")
        if not code or not state:
            raise OidcError("code and state are required")
        pending = unseal(
            request.cookies.get(PENDING_COOKIE),
            key=settings.secret("secret_key"),
            now=clock.now().timestamp(),
        )
        with open_client(settings) as client:
            provider = discover(settings=settings, client=client)
            claims = finish(
                settings=settings,
                provider=provider,
                client=client,
                pending=pending,
                code=code,
                state=state,
                redirect_uri=_redirect_uri(request, settings),
            )
        # The write unit opens after the identity provider answered: no lock held on network.
        with unit_of_work(factory) as db:
            user = local_user(db=db, clock=clock, settings=settings, claims=claims)
            # A new session id, as with the password form: no session fixation through OIDC.
            session = start_session(
                db=db, user=user, clock=clock, replaces=request.cookies.get(SESSION_COOKIE)
            )
    except OidcError as exc:
        return _failed(request, str(exc))
    response = RedirectResponse(pending.next_url, status_code=303)
    set_session_cookie(response, request, session)
    response.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)
    return response


def _failed(request: Request, message: str) -> Response:
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(
        request,
        "error.html",
        {"status": 400, "message": f"OIDC: {message}", "principal": None},
        status_code=400,
    )
    response.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)
    return response
