"""Alert queue and alert detail, as pages and as JSON; detail reads of residents are audited."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from core.accounts.models import Role
from core.store.base import StoredAlert
from dashboard.audit_reads import audit_read, pseudonyms_in, require_purpose
from dashboard.deps import AlertStoreDep, ClockDep, DbSession, Principal, RequireRole, Templates
from dashboard.services.alerts import build_query, bulk_update, open_count, queue_page

router = APIRouter(tags=["alerts"])
TRIAGE_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER)
Reader = Annotated[Principal, Depends(RequireRole(*TRIAGE_ROLES, scope="read:alerts"))]
Writer = Annotated[Principal, Depends(RequireRole(*TRIAGE_ROLES, scope="write:alerts"))]
Statuses = Annotated[list[str], Query(alias="status", description="any of these statuses")]
Levels = Annotated[list[str], Query(alias="level", description="any of these levels")]
Rules = Annotated[list[str], Query(alias="rule", description="any of these rule ids")]
Sort = Annotated[Literal["newest", "oldest", "severity"], Query()]
Page = Annotated[int, Query(ge=1, le=100_000)]
Purpose = Annotated[
    str | None, Query(max_length=500, description="why you read it; required for residents")
]


class AlertOut(BaseModel):
    """An alert as the API returns it."""

    id: str
    created_at: str
    updated_at: str
    rule_id: str
    rule_title: str
    level: str
    status: str
    assignee: str | None
    host_name: str | None
    user_name: str | None
    exercise_id: str | None
    body: dict[str, Any] | None = None


class AlertPage(BaseModel):
    """One page of the queue; `total` stops counting at a cap (`capped` true: "total+")."""

    alerts: list[AlertOut]
    total: int
    page: int
    pages: int
    capped: bool = False


class BulkRequest(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=500)
    action: Literal["acknowledge", "assign", "suppress", "close"]
    assignee: str | None = Field(default=None, max_length=200)


class BulkResult(BaseModel):
    changed: int


def _out(alert: StoredAlert, *, with_body: bool) -> AlertOut:
    return AlertOut(
        id=alert.id,
        created_at=alert.created_at.isoformat(),
        updated_at=alert.updated_at.isoformat(),
        rule_id=alert.rule_id,
        rule_title=alert.rule_title,
        level=alert.level,
        status=alert.status,
        assignee=alert.assignee,
        host_name=alert.host_name,
        user_name=alert.user_name,
        exercise_id=alert.exercise_id,
        body=alert.body if with_body else None,
    )


def _read_detail(
    *,
    alert_id: str,
    purpose: str | None,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Principal,
) -> StoredAlert:
    """Fetch, demand a purpose when the alert names a resident, and audit the read."""
    alert = store.get(alert_id)
    subjects = pseudonyms_in(alert.body)
    clean = require_purpose(purpose, subjects)
    audit_read(
        db=db,
        clock=clock,
        principal=user,
        object_type="alert",
        object_id=alert.id,
        purpose=clean,
        subjects=subjects,
    )
    return alert


@router.get("/alerts", response_class=HTMLResponse, summary="Alert queue (page)")
def queue(
    request: Request,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Reader,
    status: Statuses = [],  # noqa: B006 - FastAPI copies defaults per request
    level: Levels = [],  # noqa: B006
    rule: Rules = [],  # noqa: B006
    sort: Sort = "newest",
    page: Page = 1,
) -> HTMLResponse:
    query = build_query(statuses=status, levels=level, rule_ids=rule, sort=sort, page=page)
    result = queue_page(store=store, query=query)
    audit_read(
        db=db,
        clock=clock,
        principal=user,
        object_type="alert_list",
        object_id=None,
        purpose=None,
        details={"ids": [a.id for a in result.alerts]},
    )
    context = {
        "result": result,
        "filters": {"status": status, "level": level, "rule": ",".join(rule), "sort": sort},
        "params": [("status", s) for s in status]
        + [("level", lv) for lv in level]
        + [("rule", r) for r in rule]
        + [("sort", sort)],
    }
    return templates.TemplateResponse(request, "alerts.html", context)


@router.post("/alerts/bulk", summary="Bulk triage (form)")
def bulk_form(
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Writer,
    ids: Annotated[list[str], Form(max_length=500)],
    action: Annotated[str, Form(max_length=20)],
    assignee: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    bulk_update(
        store=store,
        db=db,
        clock=clock,
        actor=user.username,
        ids=ids,
        action=action,
        assignee=assignee,
    )
    return RedirectResponse("/alerts", status_code=303)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, summary="Alert detail (page)")
def detail(
    alert_id: str,
    request: Request,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Reader,
    purpose: Purpose = None,
) -> HTMLResponse:
    alert = _read_detail(
        alert_id=alert_id, purpose=purpose, store=store, db=db, clock=clock, user=user
    )
    body = alert.body
    context = {
        "alert": alert,
        "event_ids": body.get("event_ids") or [],
        "selections": body.get("selections") or [],
        "attack": json.dumps(body.get("attack"), indent=2, ensure_ascii=False, default=str)
        if body.get("attack")
        else None,
        "body_json": json.dumps(body, indent=2, ensure_ascii=False, default=str),
        "subjects": pseudonyms_in(body),
    }
    return templates.TemplateResponse(request, "alert_detail.html", context)


@router.get("/api/alerts", response_model=AlertPage, summary="Alert queue")
def api_queue(
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Reader,
    status: Statuses = [],  # noqa: B006
    level: Levels = [],  # noqa: B006
    rule: Rules = [],  # noqa: B006
    sort: Sort = "newest",
    page: Page = 1,
) -> AlertPage:
    """Filtered, sorted, paged alerts without their bodies; audited as a list read."""
    query = build_query(statuses=status, levels=level, rule_ids=rule, sort=sort, page=page)
    result = queue_page(store=store, query=query)
    audit_read(
        db=db,
        clock=clock,
        principal=user,
        object_type="alert_list",
        object_id=None,
        purpose=None,
        details={"ids": [a.id for a in result.alerts]},
    )
    return AlertPage(
        alerts=[_out(a, with_body=False) for a in result.alerts],
        total=result.total,
        page=result.page,
        pages=result.pages,
        capped=result.capped,
    )


@router.get("/api/alerts/count", summary="Open alerts by status (live counter)")
def api_count(store: AlertStoreDep, user: Reader) -> dict[str, int]:
    """Counts only, no personal data: the queue page polls this every few seconds."""
    return open_count(store=store)


@router.post("/api/alerts/bulk", response_model=BulkResult, summary="Bulk triage")
def api_bulk(
    body: BulkRequest, store: AlertStoreDep, db: DbSession, clock: ClockDep, user: Writer
) -> BulkResult:
    """Acknowledge, assign or suppress many alerts in one transaction; audited."""
    changed = bulk_update(
        store=store,
        db=db,
        clock=clock,
        actor=user.username,
        ids=body.ids,
        action=body.action,
        assignee=body.assignee,
    )
    return BulkResult(changed=changed)


@router.get("/api/alerts/{alert_id}", response_model=AlertOut, summary="Alert detail")
def api_detail(
    alert_id: str,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Reader,
    purpose: Purpose = None,
) -> AlertOut:
    """The full alert; `purpose` is required when it names a resident (400 otherwise)."""
    alert = _read_detail(
        alert_id=alert_id, purpose=purpose, store=store, db=db, clock=clock, user=user
    )
    return _out(alert, with_body=True)
