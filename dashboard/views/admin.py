"""Account and API-token administration for admins (pages and JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core.accounts import create_user, list_users
from core.accounts.administration import reset_password, set_active, set_role, unlock_user
from core.accounts.models import Role, User
from core.accounts.tokens import SCOPES, create_token, list_tokens, revoke_token, shown_prefix
from core.errors import ConflictError, NotFoundError, ValidationError
from dashboard.deps import ClockDep, DbSession, Principal, RequireRole, Templates, WriteDb

router = APIRouter(tags=["admin"])
Admin = Annotated[Principal, Depends(RequireRole(Role.ADMIN, scope="admin"))]


ACCOUNT_ERRORS = (ConflictError, NotFoundError, ValidationError)
ERROR_STATUS = {ConflictError: 409, NotFoundError: 404, ValidationError: 422}


@dataclass(frozen=True, slots=True)
class AccountError:
    """A refused change shown next to its field on the users page, with what was entered."""

    username: str
    field: str
    message: str
    value: str = ""  # kept input (never a password)


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    failed_logins: int
    locked_until: str | None


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)


class TokenOut(BaseModel):
    id: int
    name: str
    user: str | None = Field(description="None: a collector's token (only 'ingest')")
    source: str | None = Field(description="the collector source an 'ingest' token is bound to")
    prefix: str = Field(description="how the token starts, e.g. 'dkw_1a2b3c4d_…'")
    scopes: list[str]
    created_at: str
    expires_at: str | None
    revoked: bool
    last_used_at: str | None


class TokenIn(BaseModel):
    username: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=100)
    source: str | None = Field(default=None, max_length=64)
    scopes: list[str] = Field(min_length=1, max_length=10)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenCreated(BaseModel):
    id: int
    token: str = Field(description="shown once; only its hash is stored")
    scopes: list[str]
    source: str | None = None


def _user_out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        active=user.active,
        failed_logins=user.failed_logins,
        locked_until=user.locked_until.isoformat() if user.locked_until else None,
    )


def _tokens(db: DbSession) -> list[TokenOut]:
    return [
        TokenOut(
            id=t.id,
            name=t.name,
            user=username,
            source=t.source,
            prefix=shown_prefix(t),
            scopes=[str(s) for s in t.scopes],
            created_at=t.created_at.isoformat(),
            expires_at=t.expires_at.isoformat() if t.expires_at else None,
            revoked=t.revoked_at is not None,
            last_used_at=t.last_used_at.isoformat() if t.last_used_at else None,
        )
        for t, username in list_tokens(db=db)
    ]


def _users_page(
    request: Request,
    db: Session,
    templates: Templates,
    error: AccountError | None = None,
    status: int = 200,
) -> HTMLResponse:
    users = [_user_out(u) for u in list_users(db=db)]
    roles = [role.value for role in Role]
    context = {"users": users, "roles": roles, "account_error": error}
    return templates.TemplateResponse(request, "admin_users.html", context, status_code=status)


def _refused(
    request: Request,
    db: Session,
    templates: Templates,
    exc: Exception,
    *,
    username: str,
    field: str,
    value: str = "",
) -> HTMLResponse:
    """The users page again, the refusal next to the field it concerns (status 404/409/422)."""
    if isinstance(exc, ValidationError):
        field, message = exc.field or field, exc.problem
    else:
        message = str(exc)
    status = next(code for kind, code in ERROR_STATUS.items() if isinstance(exc, kind))
    error = AccountError(username=username, field=field, message=message, value=value)
    return _users_page(request, db, templates, error, status)


@router.get("/admin/users", response_class=HTMLResponse, summary="Users (page)")
def users_page(request: Request, db: DbSession, templates: Templates, user: Admin) -> HTMLResponse:
    return _users_page(request, db, templates)


@router.post("/admin/users", summary="Create a user (form)")
def users_create_form(
    db: WriteDb,
    clock: ClockDep,
    user: Admin,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[Role, Form()],
    display_name: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    create_user(
        db=db,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        clock=clock,
        actor=user.username,
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/unlock", summary="Lift a lock-out (form)")
def users_unlock_form(username: str, db: WriteDb, clock: ClockDep, user: Admin) -> Response:
    unlock_user(db=db, username=username, clock=clock, actor=user.username)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/active", summary="Enable or disable (form)")
def users_active_form(
    request: Request,
    username: str,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Admin,
    active: Annotated[bool, Form()],
) -> Response:
    try:
        set_active(db=db, username=username, active=active, clock=clock, actor=user.username)
    except ConflictError as exc:  # own account, or the last admin: refused before any change
        return _refused(request, db, templates, exc, username=username, field="active")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/role", summary="Change a user's role (form)")
def users_role_form(
    request: Request,
    username: str,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Admin,
    role: Annotated[str, Form(max_length=32)],
) -> Response:
    """Audited; the last active admin cannot be demoted (the page says so next to the role)."""
    try:
        set_role(db=db, username=username, role=role, clock=clock, actor=user.username)
    except ACCOUNT_ERRORS as exc:
        return _refused(request, db, templates, exc, username=username, field="role", value=role)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/password", summary="Reset a user's password (form)")
def users_password_form(
    request: Request,
    username: str,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Admin,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Audited; ends the user's sessions. A refused password is not echoed back."""
    try:
        reset_password(
            db=db, username=username, password=password, clock=clock, actor=user.username
        )
    except ACCOUNT_ERRORS as exc:
        return _refused(request, db, templates, exc, username=username, field="password")
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/tokens", response_class=HTMLResponse, summary="API tokens (page)")
def tokens_page(request: Request, db: DbSession, templates: Templates, user: Admin) -> HTMLResponse:
    context = {"tokens": _tokens(db), "scopes": SCOPES, "created": None}
    return templates.TemplateResponse(request, "admin_tokens.html", context)


@router.post("/admin/tokens", response_class=HTMLResponse, summary="Create a token (form)")
def tokens_create_form(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Admin,
    name: Annotated[str, Form(max_length=100)],
    scopes: Annotated[list[str], Form(max_length=10)],
    username: Annotated[str, Form(max_length=64)] = "",
    source: Annotated[str, Form(max_length=64)] = "",
    expires_days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> HTMLResponse:
    """Shows the new token once, on this response only. An empty user makes a collector's
    token (only 'ingest'); an empty source leaves it unbound."""
    issued = create_token(
        db=db,
        username=username.strip() or None,
        name=name,
        scopes=scopes,
        source=source.strip() or None,
        clock=clock,
        actor=user.username,
        expires_in=timedelta(days=expires_days) if expires_days else None,
    )
    context = {"tokens": _tokens(db), "scopes": SCOPES, "created": issued}
    return templates.TemplateResponse(request, "admin_tokens.html", context)


@router.post("/admin/tokens/{token_id}/revoke", summary="Revoke a token (form)")
def tokens_revoke_form(token_id: int, db: WriteDb, clock: ClockDep, user: Admin) -> Response:
    revoke_token(db=db, token_id=token_id, clock=clock, actor=user.username)
    return RedirectResponse("/admin/tokens", status_code=303)


@router.get("/api/admin/users", response_model=list[UserOut], summary="Users")
def api_users(db: DbSession, user: Admin) -> list[UserOut]:
    return [_user_out(u) for u in list_users(db=db)]


@router.post("/api/admin/users", response_model=UserOut, status_code=201, summary="Create user")
def api_users_create(body: UserIn, db: WriteDb, clock: ClockDep, user: Admin) -> UserOut:
    created = create_user(
        db=db,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        clock=clock,
        actor=user.username,
    )
    return _user_out(created)


@router.post("/api/admin/users/{username}/unlock", response_model=UserOut, summary="Unlock")
def api_users_unlock(username: str, db: WriteDb, clock: ClockDep, user: Admin) -> UserOut:
    return _user_out(unlock_user(db=db, username=username, clock=clock, actor=user.username))


class RoleIn(BaseModel):
    role: Role


class PasswordIn(BaseModel):
    password: str = Field(max_length=1024)


@router.post("/api/admin/users/{username}/role", response_model=UserOut, summary="Change role")
def api_users_role(
    username: str, body: RoleIn, db: WriteDb, clock: ClockDep, user: Admin
) -> UserOut:
    """Audited; 409 when it would demote the last active admin."""
    changed = set_role(db=db, username=username, role=body.role, clock=clock, actor=user.username)
    return _user_out(changed)


@router.post(
    "/api/admin/users/{username}/password", response_model=UserOut, summary="Reset password"
)
def api_users_password(
    username: str, body: PasswordIn, db: WriteDb, clock: ClockDep, user: Admin
) -> UserOut:
    """Audited; ends the user's sessions; 400 naming `password` when it breaks the rules."""
    changed = reset_password(
        db=db, username=username, password=body.password, clock=clock, actor=user.username
    )
    return _user_out(changed)


@router.get("/api/admin/tokens", response_model=list[TokenOut], summary="API tokens")
def api_tokens(db: DbSession, user: Admin) -> list[TokenOut]:
    return _tokens(db)


@router.post(
    "/api/admin/tokens", response_model=TokenCreated, status_code=201, summary="Create token"
)
def api_tokens_create(body: TokenIn, db: WriteDb, clock: ClockDep, user: Admin) -> TokenCreated:
    issued = create_token(
        db=db,
        username=body.username,
        name=body.name,
        scopes=body.scopes,
        source=body.source,
        clock=clock,
        actor=user.username,
        expires_in=timedelta(days=body.expires_days) if body.expires_days else None,
    )
    return TokenCreated(
        id=issued.id, token=issued.token, scopes=list(issued.scopes), source=issued.source
    )


@router.post("/api/admin/tokens/{token_id}/revoke", summary="Revoke token")
def api_tokens_revoke(token_id: int, db: WriteDb, clock: ClockDep, user: Admin) -> dict[str, bool]:
    revoke_token(db=db, token_id=token_id, clock=clock, actor=user.username)
    return {"revoked": True}
