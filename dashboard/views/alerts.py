"""Alert queue and alert detail, as pages and as JSON; detail reads of residents are audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.clock import Clock
from core.config import Settings
from core.privacy.service import pseudonyms_in
from core.store.base import StoredAlert
from dashboard.deps import (
    AlertStoreDep,
    AppSettings,
    ClockDep,
    DbSession,
    EventStoreDep,
    Principal,
    RequireRole,
    Templates,
    WriteDb,
)
from dashboard.services.alert_views import (
    match_rows,
    queue_histogram,
    related_alerts,
    resolve_rules,
    shows_accounts,
)
from dashboard.services.events import flatten, original_text
from dashboard.services.rules import explain_events
from dashboard.services.timerange import PRESET_LABELS, Histogram, TimeRange, parse_range
from detection.service import (
    AssigneeCheck,
    GroupBy,
    Grouping,
    QueueFilter,
    QueuePage,
    attack_context,
    bulk_update,
    list_exceptions,
    list_rules,
    open_count,
    read_alert,
    read_queue,
)
from dijkwacht.detection_runtime import rule_paths
from playbooks.service import OPEN_STATUSES, check_assignee, incident_of_alert, list_incidents

router = APIRouter(tags=["alerts"])
TRIAGE_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER)
Reader = Annotated[Principal, Depends(RequireRole(*TRIAGE_ROLES, scope="read:alerts"))]
Writer = Annotated[Principal, Depends(RequireRole(*TRIAGE_ROLES, scope="write:alerts"))]
Purpose = Annotated[
    str | None, Query(max_length=500, description="why you read it; required for residents")
]


class AlertOut(BaseModel):
    """An alert as the API returns it."""

    id: str
    created_at: str
    updated_at: str
    first_event_at: str | None = Field(default=None, description="first matching event (UTC)")
    last_event_at: str | None = Field(default=None, description="last matching event (UTC)")
    rule_id: str
    rule_title: str
    level: str
    status: str
    assignee: str | None
    host_name: str | None
    user_name: str | None
    exercise_id: str | None
    body: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = Field(
        default=None, description="detail only: the matched events from the event store"
    )
    attack_context: dict[str, Any] | None = Field(
        default=None, description="detail only: ATT&CK tactics and techniques of the rule's tags"
    )


class GroupOut(BaseModel):
    key: str | None
    label: str
    count: int


class GroupingOut(BaseModel):
    """Counts over the newest `scanned` alerts of the filter; `partial` when more exist."""

    by: str
    groups: list[GroupOut]
    scanned: int
    partial: bool


class AlertPage(BaseModel):
    """One page of the queue; `total` stops counting at a cap (`capped` true: "total+")."""

    alerts: list[AlertOut]
    total: int
    page: int
    pages: int
    capped: bool = False
    grouping: GroupingOut | None = None


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
        first_event_at=alert.first_event_at.isoformat() if alert.first_event_at else None,
        last_event_at=alert.last_event_at.isoformat() if alert.last_event_at else None,
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


class QueueParams(BaseModel):
    """The queue's query parameters, shared by the page and the API.

    One model rather than eight separate parameters: FastAPI then validates them in one
    pydantic call, which took a fifth of the time the separate ones did (bench/dashboard.py).
    """

    status: list[str] = Field(default_factory=list, description="any of these statuses")
    level: list[str] = Field(default_factory=list, description="any of these levels")
    rule: list[str] = Field(default_factory=list, description="any of these rule ids")
    host: str | None = Field(default=None, max_length=255, description="only this host")
    user: str | None = Field(default=None, max_length=255, description="only this user")
    group: GroupBy | None = Field(
        default=None, description="also count the filtered queue by rule, host or user"
    )
    sort: Literal["newest", "oldest", "severity"] = "newest"
    page: int = Field(default=1, ge=1, le=100_000)
    range: str | None = Field(
        default=None,
        max_length=10,
        description="15m, 1h, 24h, 7d, 30d, all or custom (page default 24h, API default all)",
    )
    from_: str | None = Field(
        default=None, alias="from", max_length=30, description="custom start, local time"
    )
    to: str | None = Field(default=None, max_length=30, description="custom end, local time")


def _rule_titles(settings: Settings) -> Callable[[], dict[str, str]]:
    def titles() -> dict[str, str]:

        infos, _problems = list_rules(paths=rule_paths(settings))
        return {info.rule_id: info.title for info in infos}

    return titles


def _filters(
    params: QueueParams, settings: Settings, clock: Clock, default: str
) -> tuple[QueueFilter, TimeRange]:
    span = parse_range(
        key=params.range,
        start=params.from_,
        end=params.to,
        now=clock.now(),
        zone=ZoneInfo(settings.timezone),
        default=default,
    )
    rules = params.rule
    if any(value.strip() for value in rules):
        rules = resolve_rules([v for r in rules for v in r.split(",")], _rule_titles(settings))
    return QueueFilter(
        statuses=params.status,
        levels=params.level,
        rule_ids=rules,
        host_name=params.host,
        user_name=params.user,
        group=params.group,
        sort=params.sort,
        page=params.page,
        start=span.start,
        end=span.end,
    ), span


Params = Annotated[QueueParams, Query()]


async def _api_filter(params: Params, settings: AppSettings, clock: ClockDep) -> QueueFilter:
    return _filters(params, settings, clock, default="all")[0]


Filters = Annotated[QueueFilter, Depends(_api_filter)]


@router.get("/alerts", response_class=HTMLResponse, summary="Alert queue (page)")
def queue(
    request: Request,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Reader,
    params: Params,
) -> HTMLResponse:
    """Filter, sort, group by rule/host/user with counts, and bulk-triage the queue.

    The page shows the last 24 hours unless the URL names another range; a histogram of the
    range per level (SVG plus a table for screen readers) sits above the rows.

    Privacy: by default the rows show time, level, rule, host, status and assignee, and no
    account names, so the list is no read of personal data and writes no audit entry. Host
    names identify machines, not people; the assignee is the SOC colleague the work is given
    to. Account names appear only when asked for (user filter, grouping by user) and those
    renders are audited; so is a list whose shown fields carry a resident pseudonym. The
    detail page shows everything, behind its own audited, purpose-gated read.

    Sync, so it runs in the thread pool: even the plain list may write an audit entry (a
    pseudonym in a shown field), and a database wait on the event loop stalls every request.
    """
    filters, span = _filters(params, settings, clock, default="24h")
    accounts = shows_accounts(filters)
    result, grouping = read_queue(
        store=store,
        db=db,
        clock=clock,
        reader=user,
        filters=filters,
        accounts=accounts,
    )
    chart = queue_histogram(store=store, filters=filters, span=span, now=clock.now())
    context = queue_context(
        result, grouping, filters, accounts, span=span, chart=chart, rule_text=params.rule
    )
    context["now"] = clock.now()
    # Issue 17: the queue says how many alerts each active exception kept out of it.
    context["exceptions"] = list_exceptions(db=db, clock=clock)
    return templates.TemplateResponse(request, "alerts.html", context)


def queue_context(
    result: QueuePage,
    grouping: Grouping | None,
    filters: QueueFilter,
    accounts: bool,
    *,
    span: TimeRange | None = None,
    chart: Histogram | None = None,
    rule_text: list[str] | None = None,
) -> dict[str, Any]:
    """What alerts.html needs besides the request (public: bench/dashboard.py renders it too)."""
    status, level = filters.statuses, filters.levels
    rule = rule_text if rule_text is not None else filters.rule_ids
    host, username, group, sort = filters.host_name, filters.user_name, filters.group, filters.sort
    span = span or TimeRange("all", None, None)
    keep = (
        [("status", s) for s in status]
        + [("level", lv) for lv in level]
        + [("rule", r) for r in rule if r]
        + ([("host", host)] if host else [])
        + ([("user", username)] if username else [])
    )
    base = keep + span.params
    return {
        "result": result,
        "grouping": grouping,
        "span": span,
        "chart": chart,
        "range_labels": PRESET_LABELS,
        "keep": keep + [("sort", sort)] + ([("group", group)] if group else []),
        "now": None,
        "filters": {
            "status": status,
            "level": level,
            "rule": ",".join(rule),
            "sort": sort,
            "host": host or "",
            "user": username or "",
            "group": group or "",
        },
        "show_accounts": accounts,
        "base_params": base,
        "params": base + [("sort", sort)] + ([("group", group)] if group else []),
    }


def _assignee_check(db: Session) -> AssigneeCheck:
    """Alerts go to existing, enabled accounts only: the playbooks domain knows them."""
    return lambda username: check_assignee(db=db, username=username)


@router.post("/alerts/bulk", summary="Bulk triage (form)")
def bulk_form(
    store: AlertStoreDep,
    db: WriteDb,
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
        check_assignee=_assignee_check(db),
        assignee=assignee,
    )
    return RedirectResponse("/alerts", status_code=303)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, summary="Alert detail (page)")
def detail(
    alert_id: str,
    request: Request,
    store: AlertStoreDep,
    events: EventStoreDep,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Reader,
    purpose: Purpose = None,
) -> HTMLResponse:
    """The alert, its matched events (audited read), the selections that matched and ATT&CK."""
    alert, matched = read_alert(
        store=store,
        events=events,
        db=db,
        clock=clock,
        reader=user,
        alert_id=alert_id,
        purpose=purpose,
    )
    body = alert.body
    why = explain_events(
        paths=rule_paths(settings),
        rule_id=alert.rule_id,
        events=[e.event for e in matched.events],
        stacks=settings.detection_stacks,
    )
    context = {
        "alert": alert,
        "matched": matched,
        "match_rows": match_rows(body, why.values()),
        "event_rows": [
            {
                "id": e.id,
                "why": why.get(i),
                "fields": flatten(e.event),
                "original": original_text(e.event),
                "time": e.event.get("@timestamp"),
            }
            for i, e in enumerate(matched.events)
        ],
        "related": related_alerts(store=store, alert=alert),
        "selections": body.get("selections") or [],
        "attack": attack_context(body),
        "body_json": json.dumps(body, indent=2, ensure_ascii=False, default=str),
        "subjects": pseudonyms_in(body),
        "incident_id": incident_of_alert(db=db, alert_id=alert.id),  # issue 17: triage link
        # ... or link it to an open incident picked from a list (same exercise-ness only)
        "open_incidents": [
            i
            for i in list_incidents(db=db, statuses=OPEN_STATUSES, limit=100)
            if i.exercise_id == alert.exercise_id and i.merged_into is None
        ],
        "now": clock.now(),
    }
    return templates.TemplateResponse(request, "alert_detail.html", context)


@router.get("/api/alerts", response_model=AlertPage, summary="Alert queue")
def api_queue(
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Reader,
    filters: Filters,
) -> AlertPage:
    """Filtered, sorted, paged alerts without their bodies (optionally grouped); audited."""
    result, grouping = read_queue(store=store, db=db, clock=clock, reader=user, filters=filters)
    return AlertPage(
        alerts=[_out(a, with_body=False) for a in result.alerts],
        total=result.total,
        page=result.page,
        pages=result.pages,
        capped=result.capped,
        grouping=GroupingOut(
            by=grouping.by,
            groups=[GroupOut(key=g.key, label=g.label, count=g.count) for g in grouping.groups],
            scanned=grouping.scanned,
            partial=grouping.partial,
        )
        if grouping
        else None,
    )


@router.get("/api/alerts/count", summary="Open alerts by status (live counter)")
def api_count(store: AlertStoreDep, user: Reader) -> dict[str, int]:
    """Counts only, no personal data: the queue page polls this every few seconds."""
    return open_count(store=store)


@router.post("/api/alerts/bulk", response_model=BulkResult, summary="Bulk triage")
def api_bulk(
    body: BulkRequest, store: AlertStoreDep, db: WriteDb, clock: ClockDep, user: Writer
) -> BulkResult:
    """Acknowledge, assign or suppress many alerts in one transaction; audited."""
    changed = bulk_update(
        store=store,
        db=db,
        clock=clock,
        actor=user.username,
        ids=body.ids,
        action=body.action,
        check_assignee=_assignee_check(db),
        assignee=body.assignee,
    )
    return BulkResult(changed=changed)


@router.get("/api/alerts/{alert_id}", response_model=AlertOut, summary="Alert detail")
def api_detail(
    alert_id: str,
    store: AlertStoreDep,
    events: EventStoreDep,
    db: DbSession,
    clock: ClockDep,
    user: Reader,
    purpose: Purpose = None,
) -> AlertOut:
    """The full alert with its matched events and ATT&CK context; `purpose` is required when
    the alert or its events name a resident (400 otherwise)."""
    alert, matched = read_alert(
        store=store,
        events=events,
        db=db,
        clock=clock,
        reader=user,
        alert_id=alert_id,
        purpose=purpose,
    )
    out = _out(alert, with_body=True)
    out.events = [{"id": e.id, "event": e.event} for e in matched.events]
    out.attack_context = attack_context(alert.body)
    return out
