"""Who is calling and what they may do: sessions, API tokens, roles, CSRF, security headers.

Every route declares its access in one place, its signature: `RequireRole(...)` (a role list
and, for API tokens, the scope it accepts) or `PUBLIC`. State-changing requests that are not
made with a bearer token must carry the session's synchroniser token (form field `csrf_token`
or header `X-CSRF-Token`); browsers never add an Authorization header on their own, which is
why bearer calls are exempt.

Cookies: HttpOnly, SameSite=Strict, and Secure except on plain http to 127.0.0.1/localhost
(the embedded default, where a browser would otherwise drop the cookie). Behind a TLS proxy
the host is not local, so the cookie is Secure.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import sqlite3
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.accounts.models import Role
from core.accounts.sessions import ActiveSession, csrf_matches, load_session, look_up_session
from core.accounts.tokens import TokenRefusedError, touch_token, verify_token
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from core.privacy.service import PurposeRequired
from core.store.unit_of_work import is_locked_error, unit_of_work
from dashboard.state import app_clock, session_factory

SESSION_COOKIE = "dijkwacht_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Seconds a client is asked to wait after a 503 for a busy database (past the busy timeout).
BUSY_RETRY_AFTER_S = 5
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
ALL_ROLES = tuple(Role)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_log = logging.getLogger(__name__)
_INLINE_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


def csp_for_inline_styles(html: bytes) -> str:
    """`CSP` that also admits exactly the inline <style> blocks of this page, by hash.

    Self-contained pages (the awareness content also works offline from a folder) carry their
    stylesheet inline; a hash admits that stylesheet and nothing an attacker could inject.
    """
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode() + "'"
        for block in _INLINE_STYLE.findall(html)
    )
    if not hashes:
        return CSP
    return CSP.replace("style-src 'self'", f"style-src 'self' {hashes}")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller; `scopes` is None for a browser session (the role decides)."""

    user_id: int
    username: str
    display_name: str
    role: Role
    via: Literal["session", "token"]
    scopes: frozenset[str] | None
    csrf_token: str | None

    @classmethod
    def of_session(cls, session: ActiveSession) -> Principal | None:
        """The logged-in user of a browser session; None for an anonymous one."""
        user = session.user
        if user is None:
            return None
        return cls(
            user.id,
            user.username,
            user.display_name,
            user.role,
            "session",
            None,
            session.csrf_token,
        )


class LoginRequired(Exception):
    """No valid session or token: pages redirect to /login, the API answers 401 with `reason`
    (why a token was refused: unknown, revoked, expired)."""

    def __init__(self, reason: str = "authentication required") -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    """Authenticated, but the role, token scope or CSRF token does not allow this request."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def wants_json(request: Request) -> bool:
    """API paths answer in JSON; pages answer in HTML."""
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def cookie_is_secure(request: Request) -> bool:
    """Secure everywhere except plain http on the local machine."""
    return not (request.url.scheme == "http" and request.url.hostname in LOCAL_HOSTS)


def set_session_cookie(response: Response, request: Request, session: ActiveSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.session_id,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=cookie_is_secure(request)
    )


def web_session(
    request: Request, factory: sessionmaker[Session], clock: Clock
) -> ActiveSession | None:
    """The request's valid browser session (anonymous or logged in), cached on the request.

    A plain read; a write unit is opened only when the row is stale (expired, or its idle
    expiry due to slide, about once a minute per session), so requests never upgrade a read
    transaction to a write, which is what made SQLite answer "database is locked" at once.
    """
    if hasattr(request.state, "web_session"):
        cached: ActiveSession | None = request.state.web_session
        return cached
    session_id = request.cookies.get(SESSION_COOKIE)
    found: ActiveSession | None = None
    if session_id:
        with unit_of_work(factory, write=False) as db:
            lookup = look_up_session(db=db, session_id=session_id, clock=clock)
        found = lookup.session
        if lookup.stale:
            found = _refresh_session(factory, session_id, clock, found)
    request.state.web_session = found
    return found


def _refresh_session(
    factory: sessionmaker[Session], session_id: str, clock: Clock, seen: ActiveSession | None
) -> ActiveSession | None:
    """Slide the idle expiry or delete the expired row; skipped while the database is busy.

    The refresh is housekeeping: when the write lock stays taken past the busy timeout the
    session as read is still valid (an expired one is refused either way), so the request goes
    on and the next request a minute on refreshes it.
    """
    try:
        with unit_of_work(factory) as db:
            return load_session(db=db, session_id=session_id, clock=clock)
    except OperationalError as exc:
        if not is_locked_error(exc):
            raise
        _log.warning("session refresh skipped: database busy")
        return seen


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _token_principal(factory: sessionmaker[Session], token: str, clock: Clock) -> Principal:
    """The principal of a valid API token; records its use (at most once a minute).

    A collector's token (no user) is valid but reaches no dashboard route: Forbidden.
    """
    with unit_of_work(factory, write=False) as db:
        try:
            identity = verify_token(db=db, token=token, clock=clock)
        except TokenRefusedError as exc:
            raise LoginRequired(str(exc)) from None
        user = identity.user
        if user is None:
            raise Forbidden("this collector token only sends events (scope 'ingest')")
        principal = Principal(
            user.id, user.username, user.display_name, user.role, "token", identity.scopes, None
        )
    if identity.touch_due:
        try:
            with unit_of_work(factory) as db:
                touch_token(db=db, token_id=identity.token_id, clock=clock)
        except OperationalError as exc:
            if not is_locked_error(exc):
                raise
            _log.warning("token last-used update skipped: database busy")
    return principal


def current_principal(
    request: Request, factory: sessionmaker[Session], clock: Clock
) -> Principal | None:
    """Who is calling: a bearer token wins over a cookie; None when anonymous.

    A bearer header that is present but invalid is an error, never a silent fall-back to
    the cookie. Blocking (database reads): call it from sync code, never on the event loop.
    """
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal: Principal | None = None
    token = _bearer(request)
    if token is not None:
        principal = _token_principal(factory, token, clock)
    else:
        session = web_session(request, factory, clock)
        if session is not None:
            principal = Principal.of_session(session)
    request.state.principal = principal
    return principal


@dataclass(frozen=True, slots=True)
class Caller:
    """The resolved caller; `bad_token` when a bearer header was given but is not valid,
    `refusal` why, and `forbidden` when it is valid but may reach no route here."""

    principal: Principal | None
    bad_token: bool
    refusal: str | None = None
    forbidden: bool = False


def _caller(
    request: Request,
    factory: Annotated[sessionmaker[Session], Depends(session_factory)],
    clock: Annotated[Clock, Depends(app_clock)],
) -> Caller:
    """Sync on purpose: FastAPI runs it in the thread pool, so the session and token reads
    never block the event loop (an async dependency doing them stalled even /livez)."""
    try:
        return Caller(current_principal(request, factory, clock), bad_token=False)
    except LoginRequired as exc:
        return Caller(None, bad_token=True, refusal=exc.reason)
    except Forbidden as exc:
        return Caller(None, bad_token=True, refusal=exc.reason, forbidden=True)


CallerDep = Annotated[Caller, Depends(_caller)]


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing cookie request whose token does not match its session."""
    if request.method in SAFE_METHODS or _bearer(request) is not None:
        return
    session: ActiveSession | None = getattr(request.state, "web_session", None)
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if given is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if session is None or not csrf_matches(session.csrf_token, given):
        raise Forbidden("CSRF token missing or wrong; reload the page and try again")


class RequireRole:
    """Dependency: the caller must have one of `roles`; a token also needs `scope`.

    Use as `Annotated[Principal, Depends(RequireRole(Role.ANALYST, scope="read:alerts"))]`.
    Without `scope`, API tokens are refused: tokens only reach routes made for them.
    """

    def __init__(self, *roles: Role, scope: str | None = None) -> None:
        if not roles:
            raise ValueError("RequireRole needs at least one role; use PUBLIC for open routes")
        self.roles = frozenset(roles)
        self.scope = scope

    def __repr__(self) -> str:
        names = ",".join(sorted(role.value for role in self.roles))
        return f"RequireRole({names}; scope={self.scope})"

    async def __call__(self, request: Request, caller: CallerDep) -> Principal:
        principal = caller.principal
        if principal is None:
            if caller.forbidden and caller.refusal:
                raise Forbidden(caller.refusal)
            raise LoginRequired(caller.refusal or "authentication required")
        if principal.role not in self.roles:
            raise Forbidden("your role does not give access to this page")
        if principal.via == "token" and (
            self.scope is None or principal.scopes is None or self.scope not in principal.scopes
        ):
            raise Forbidden("this API token's scopes do not cover this call")
        if principal.via == "session":
            await check_csrf(request)
        return principal


async def public(request: Request, caller: CallerDep) -> Principal | None:
    """Dependency of routes open to everyone; still CSRF-checks state-changing requests.

    A bad token on a public page is simply anonymous.
    """
    await check_csrf(request)
    return caller.principal


PUBLIC = Depends(public)
OptionalUser = Annotated[Principal | None, PUBLIC]


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def _error(request: Request, status: int, message: str, field: str | None = None) -> Response:
    if wants_json(request):
        body: dict[str, str] = {"detail": message}
        if field:
            body["field"] = field
        return JSONResponse(body, status)
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "message": message,
            # The field and the problem apart, so error.html can translate the problem.
            "field": field,
            "problem": message.removeprefix(f"{field}: ") if field else None,
            "principal": getattr(request.state, "principal", None),
        },
        status_code=status,
    )


def install_security(app: FastAPI) -> None:
    """Error mapping and security headers; `create_app` calls this once."""

    async def login_required(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            reason = exc.reason if isinstance(exc, LoginRequired) else "authentication required"
            return JSONResponse({"detail": reason}, 401, headers={"WWW-Authenticate": "Bearer"})
        return _login_redirect(request)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return _error(request, 403, str(exc))

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(request, 404, str(exc))

    async def invalid(request: Request, exc: Exception) -> Response:
        field = exc.field if isinstance(exc, ValidationError) else None
        return _error(request, 400, str(exc), field)

    async def purpose_required(request: Request, exc: Exception) -> Response:
        # Pages get a purpose form (same URL, `?purpose=`); the API a 400 naming the field.
        problem = exc.problem if isinstance(exc, PurposeRequired) else str(exc)
        if wants_json(request):
            return JSONResponse({"detail": f"purpose: {problem}", "field": "purpose"}, 400)
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "purpose"]
        return request.app.state.templates.TemplateResponse(
            request,
            "purpose.html",
            {"problem": problem, "action": request.url.path, "params": params},
            status_code=200,
        )

    async def conflict(request: Request, exc: Exception) -> Response:
        return _error(request, 409, str(exc))

    async def database_busy(request: Request, exc: Exception) -> Response:
        # Only SQLite's "database is locked" after its busy timeout is a 503: the client may
        # simply retry. Any other database error stays a 500, so it is seen and fixed.
        if not is_locked_error(exc):
            raise exc
        _log.warning("503 for %s %s: database busy", request.method, request.url.path)
        response = _error(request, 503, "the database is busy; try again in a few seconds")
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
        return response

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ValidationError, invalid)
    app.add_exception_handler(PurposeRequired, purpose_required)  # the most specific class wins
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(OperationalError, database_busy)
    app.add_exception_handler(sqlite3.OperationalError, database_busy)

    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """Security headers on every response, as plain ASGI middleware.

    Plain ASGI rather than `@app.middleware("http")`: that one runs each request through an
    extra task and stream, a measurable share of a fast page (bench/dashboard.py).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        csp = True  # /docs too: Swagger UI is vendored (dashboard/views/apidocs.py)
        no_store = SESSION_COOKIE in connection.cookies or "authorization" in connection.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                if csp:
                    headers.setdefault("Content-Security-Policy", CSP)
                if no_store:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_form_token(request: Request) -> str | None:
    """The token templates put in hidden fields (None when the request has no session)."""
    session: ActiveSession | None = getattr(request.state, "web_session", None)
    return None if session is None else session.csrf_token
