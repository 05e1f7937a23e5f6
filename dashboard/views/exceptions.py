"""Alert exceptions and maintenance windows: pages, forms and JSON API (issue 17).

"Don't alert again for this rule when host.name is X": created from an alert (prefilled), with
an expiry, a reason and the owner (the person who made it); listed with how many alerts each
suppressed; edited or expired, never deleted. Every change is audited by detection's service.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from core.accounts.models import Role
from core.errors import NotFoundError, ValidationError
from dashboard.deps import (
    AlertStoreDep,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    Templates,
    WriteDb,
)
from detection import service as detection

router = APIRouter(tags=["exceptions"])
Reader = Annotated[
    Principal,
    Depends(RequireRole(Role.ANALYST, Role.INCIDENT_MANAGER, Role.ADMIN, scope="read:alerts")),
]
Actor = Annotated[
    Principal, Depends(RequireRole(Role.ANALYST, Role.INCIDENT_MANAGER, scope="write:alerts"))
]
Text = Annotated[str, Form(max_length=500)]


class ExceptionOut(BaseModel):
    """An exception with its owner, expiry and how many alerts it suppressed."""

    id: int
    rule_id: str
    conditions: dict[str, list[str]]
    reason: str
    owner: str
    created_at: str
    expires_at: str
    active: bool
    suppressed: int


class WindowOut(BaseModel):
    """A maintenance window; `active` until it has ended (or was ended before it began)."""

    id: int
    active: bool
    host_name: str | None
    starts_at: str
    ends_at: str
    reason: str
    owner: str
    suppressed: int


class ExceptionIn(BaseModel):
    rule_id: str = Field(max_length=200)
    field: str = Field(default="host.name", max_length=100)
    value: str = Field(max_length=500)
    reason: str = Field(max_length=500)
    expires_at: datetime


class WindowIn(BaseModel):
    starts_at: datetime
    ends_at: datetime
    reason: str = Field(max_length=500)
    host_name: str | None = Field(default=None, max_length=255)


class ReasonIn(BaseModel):
    reason: str = Field(max_length=500)


class EditIn(BaseModel):
    reason: str = Field(max_length=500)
    expires_at: datetime


def _exception_out(row: Any, now: datetime) -> ExceptionOut:
    return ExceptionOut(
        id=row.id,
        rule_id=row.rule_id,
        conditions=dict(row.conditions),
        reason=row.reason,
        owner=row.created_by,
        created_at=row.created_at.isoformat(),
        expires_at=row.expires_at.isoformat(),
        active=row.expires_at > now,
        suppressed=row.suppressed,
    )


def _window_out(row: Any, now: datetime) -> WindowOut:
    return WindowOut(
        id=row.id,
        active=row.ends_at > now and row.ends_at > row.starts_at,
        host_name=row.host_name,
        starts_at=row.starts_at.isoformat(),
        ends_at=row.ends_at.isoformat(),
        reason=row.reason,
        owner=row.created_by,
        suppressed=row.suppressed,
    )


def _when(value: str, field: str, zone: Any) -> datetime:
    """A `datetime-local` form value in the platform's time zone, as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, f"not a date and time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _problem(error: Exception) -> dict[str, str]:
    """The field and the problem apart, so the page can translate the problem."""
    field = str(getattr(error, "field", "") or str(error).split(":", 1)[0])
    message = str(error)
    return {"field": field, "message": message, "problem": message.removeprefix(f"{field}: ")}


def _page(
    request: Request,
    db: Any,
    clock: ClockDep,
    templates: Templates,
    *,
    form: dict[str, str] | None = None,
    error: Exception | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = clock.now()
    context = {
        "exceptions": [
            _exception_out(r, now)
            for r in detection.list_exceptions(db=db, clock=clock, include_expired=True)
        ],
        "windows": [_window_out(r, now) for r in detection.list_maintenance_windows(db=db)],
        "form": form or {},
        "error": None if error is None else _problem(error),
    }
    return templates.TemplateResponse(request, "exceptions.html", context, status_code=status_code)


@router.get("/exceptions", response_class=HTMLResponse, summary="Exceptions (page)")
def exceptions_page(
    request: Request, db: DbSession, clock: ClockDep, templates: Templates, user: Reader
) -> HTMLResponse:
    return _page(request, db, clock, templates)


@router.get("/alerts/{alert_id}/exception", response_class=HTMLResponse, summary="New exception")
def from_alert(
    alert_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    store: AlertStoreDep,
    templates: Templates,
    user: Actor,
) -> HTMLResponse:
    """The exception form prefilled from an alert: its rule and host, expiring in 30 days."""
    alert = store.get(alert_id)
    expires = (clock.now() + timedelta(days=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    form = {
        "rule_id": alert.rule_id,
        "field": "host.name",
        "value": alert.host_name or "",
        "expires_at": expires,
        "from_alert": alert.id,
    }
    return _page(request, db, clock, templates, form=form)


@router.post("/exceptions", summary="Add an exception (form)")
def add_form(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Actor,
    rule_id: Annotated[str, Form(max_length=200)] = "",
    field: Annotated[str, Form(max_length=100)] = "host.name",
    value: Text = "",
    reason: Text = "",
    expires_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = {
        "rule_id": rule_id,
        "field": field,
        "value": value,
        "reason": reason,
        "expires_at": expires_at,
    }
    try:
        if not value.strip():
            raise ValidationError("value", "give the value that should no longer alert")
        detection.add_exception(
            db=db,
            clock=clock,
            actor=user.username,
            rule_id=rule_id.strip(),
            conditions={field.strip(): [value.strip()]},
            reason=reason,
            expires_at=_when(expires_at, "expires_at", UTC),
        )
    except ValidationError as exc:
        return _page(request, db, clock, templates, form=form, error=exc, status_code=400)
    return RedirectResponse("/exceptions", status_code=303)


@router.post("/exceptions/{exception_id}/expire", summary="Expire an exception (form)")
def expire_form(
    exception_id: str,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Actor,
    reason: Text = "",
) -> Response:
    try:
        detection.expire_exception(
            db=db,
            clock=clock,
            actor=user.username,
            exception_id=_number(exception_id),
            reason=reason,
        )
    except ValidationError as exc:
        return _page(request, db, clock, templates, error=exc, status_code=400)
    return RedirectResponse("/exceptions", status_code=303)


@router.post("/exceptions/{exception_id}/edit", summary="Edit an exception (form)")
def edit_form(
    exception_id: str,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Actor,
    reason: Text = "",
    expires_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """A new reason and expiry (UTC); audited with before and after."""
    form = {"edit_id": exception_id, "edit_reason": reason, "edit_expires_at": expires_at}
    try:
        detection.edit_exception(
            db=db,
            clock=clock,
            actor=user.username,
            exception_id=_number(exception_id),
            reason=reason,
            expires_at=_when(expires_at, "expires_at", UTC),
        )
    except ValidationError as exc:
        return _page(request, db, clock, templates, form=form, error=exc, status_code=400)
    return RedirectResponse("/exceptions", status_code=303)


@router.post("/maintenance/{window_id}/end", summary="End a maintenance window (form)")
def end_window_form(
    window_id: str,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Actor,
    reason: Text = "",
) -> Response:
    try:
        detection.end_maintenance_window(
            db=db, clock=clock, actor=user.username, window_id=_number(window_id), reason=reason
        )
    except ValidationError as exc:
        return _page(request, db, clock, templates, error=exc, status_code=400)
    return RedirectResponse("/exceptions#maintenance", status_code=303)


@router.post("/maintenance", summary="Add a maintenance window (form)")
def window_form(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Actor,
    starts_at: Annotated[str, Form(max_length=40)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
    reason: Text = "",
    host_name: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    form = {"starts_at": starts_at, "ends_at": ends_at, "w_reason": reason, "host_name": host_name}
    try:
        detection.add_maintenance_window(
            db=db,
            clock=clock,
            actor=user.username,
            starts_at=_when(starts_at, "starts_at", UTC),
            ends_at=_when(ends_at, "ends_at", UTC),
            reason=reason,
            host_name=host_name.strip() or None,
        )
    except ValidationError as exc:
        return _page(request, db, clock, templates, form=form, error=exc, status_code=400)
    return RedirectResponse("/exceptions#maintenance", status_code=303)


def _number(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise NotFoundError(f"{value!r} does not exist")
    return int(value)


@router.get("/api/exceptions", response_model=list[ExceptionOut], summary="Exceptions")
def exceptions_api(db: DbSession, clock: ClockDep, user: Reader) -> list[ExceptionOut]:
    """Every exception (expired ones too) with owner, expiry and suppressed count."""
    now = clock.now()
    return [
        _exception_out(r, now)
        for r in detection.list_exceptions(db=db, clock=clock, include_expired=True)
    ]


@router.post(
    "/api/exceptions", response_model=ExceptionOut, status_code=201, summary="Add exception"
)
def add_api(body: ExceptionIn, db: WriteDb, clock: ClockDep, user: Actor) -> ExceptionOut:
    """Don't alert for `rule_id` when `field` equals `value`, until `expires_at`."""
    row = detection.add_exception(
        db=db,
        clock=clock,
        actor=user.username,
        rule_id=body.rule_id,
        conditions={body.field: [body.value]},
        reason=body.reason,
        expires_at=body.expires_at,
    )
    return _exception_out(row, clock.now())


@router.post("/api/exceptions/{exception_id}/expire", response_model=ExceptionOut, summary="Expire")
def expire_api(
    exception_id: str, body: ReasonIn, db: WriteDb, clock: ClockDep, user: Actor
) -> ExceptionOut:
    """End the exception now; its suppressed count stays."""
    row = detection.expire_exception(
        db=db,
        clock=clock,
        actor=user.username,
        exception_id=_number(exception_id),
        reason=body.reason,
    )
    return _exception_out(row, clock.now())


@router.post("/api/exceptions/{exception_id}/edit", response_model=ExceptionOut, summary="Edit")
def edit_api(
    exception_id: str, body: EditIn, db: WriteDb, clock: ClockDep, user: Actor
) -> ExceptionOut:
    """Change the reason and the expiry (in the future; use expire to end it now)."""
    row = detection.edit_exception(
        db=db,
        clock=clock,
        actor=user.username,
        exception_id=_number(exception_id),
        reason=body.reason,
        expires_at=body.expires_at,
    )
    return _exception_out(row, clock.now())


@router.post("/api/maintenance/{window_id}/end", response_model=WindowOut, summary="End a window")
def end_window_api(
    window_id: str, body: ReasonIn, db: WriteDb, clock: ClockDep, user: Actor
) -> WindowOut:
    """End the maintenance window now; its suppressed count stays."""
    row = detection.end_maintenance_window(
        db=db, clock=clock, actor=user.username, window_id=_number(window_id), reason=body.reason
    )
    return _window_out(row, clock.now())


@router.get("/api/maintenance", response_model=list[WindowOut], summary="Maintenance windows")
def windows_api(db: DbSession, clock: ClockDep, user: Reader) -> list[WindowOut]:
    now = clock.now()
    return [_window_out(r, now) for r in detection.list_maintenance_windows(db=db)]


@router.post("/api/maintenance", response_model=WindowOut, status_code=201, summary="Add a window")
def add_window_api(body: WindowIn, db: WriteDb, clock: ClockDep, user: Actor) -> WindowOut:
    """Suppress (and count) alerts in [starts_at, ends_at), optionally for one host."""
    row = detection.add_maintenance_window(
        db=db,
        clock=clock,
        actor=user.username,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        reason=body.reason,
        host_name=body.host_name,
    )
    return _window_out(row, clock.now())
