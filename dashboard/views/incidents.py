"""Incidents: list, detail (timeline, observables, playbook runs), triage from an alert, approvals.

Observables name hosts, users and residents, so the detail read is audited (purpose when a
resident pseudonym appears). Approval follows playbooks' four-eyes rule: the service refuses
the requester and approvers without the playbook's role (409).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from core.accounts.models import Role, User
from core.errors import NotFoundError
from core.privacy.service import audit_personal_read, pseudonyms_in
from dashboard.deps import (
    AlertStoreDep,
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    Templates,
)
from dashboard.services.incidents import (
    FILTERS,
    IncidentView,
    dispatch,
    incident_rows,
    incident_view,
    incidents_histogram,
    mark_in_incident,
    triage_alert,
)
from dashboard.services.timerange import PRESET_LABELS, TimeRange, parse_range
from dashboard.views.dpo import require_linked_incident
from dashboard.views.events import From, Range, To
from dashboard.views.writes import begin_write
from playbooks.schemas import OBSERVABLE_KINDS, SEVERITIES
from playbooks.service import (
    CLOSE_REASONS,
    STATUSES,
    SYSTEM_ACTORS,
    TRANSITIONS,
    get_run,
)

router = APIRouter(tags=["incidents"])
READ_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.CRISIS_TEAM)
ACT_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER)
Reader = Annotated[Principal, Depends(RequireRole(*READ_ROLES, scope="read:alerts"))]
Actor = Annotated[Principal, Depends(RequireRole(*ACT_ROLES, scope="write:alerts"))]
_DetailCaller = Annotated[
    Principal, Depends(RequireRole(*READ_ROLES, Role.DPO, scope="read:alerts"))
]


def _detail_reader(incident_id: str, db: DbSession, user: _DetailCaller) -> Principal:
    """Incident readers, and the DPO for an incident linked to a breach (read only)."""

    require_linked_incident(db=db, user=user, incident_id=incident_id)
    return user


DetailReader = Annotated[Principal, Depends(_detail_reader)]
Purpose = Annotated[str | None, "why you read it; required when residents appear"]


class IncidentOut(BaseModel):
    """An incident as listed; `exercise` marks OEFENING/EXERCISE incidents."""

    id: int
    title: str
    severity: str
    status: str
    assignee: str | None
    created_at: str
    exercise: bool
    close_reason: str | None = None
    close_summary: str | None = None
    merged_into: int | None = None


class IncidentDetailOut(BaseModel):
    """An incident with its timeline, observables, comments, evidence and playbook runs."""

    incident: IncidentOut
    alert_ids: list[str]
    timeline: list[dict[str, Any]]
    observables: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    comments: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    # Ad-hoc tasks a person added (title, assignee, who completed it with which note).
    tasks: list[dict[str, Any]] = []
    # Per alert id: why routing or triage grouped it into this incident.
    alert_reasons: dict[str, str] = {}


class TriageOut(BaseModel):
    """Where triage put the alert, and why (new incident, or grouped with an open one)."""

    incident_id: int
    created: bool
    reason: str = ""


def _out(incident: Any) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        assignee=incident.assignee,
        created_at=incident.created_at.isoformat(),
        exercise=incident.exercise_id is not None,
        close_reason=incident.close_reason,
        close_summary=incident.close_summary,
        merged_into=incident.merged_into,
    )


def path_number(value: str, what: str) -> int:
    """The number in a URL path (an incident, a task); NotFoundError for anything else."""
    if not value.isdigit() or len(value) > 12:
        raise NotFoundError(f"{what} {value!r} does not exist")
    return int(value)


def own_account(db: DbSession, user: Principal) -> User:
    """The signed-in person's account row; NotFoundError once it is deleted."""
    account = db.get(User, user.user_id)
    if account is None:
        raise NotFoundError("your account no longer exists")
    return account


def _detail(
    db: DbSession, clock: ClockDep, user: Principal, incident_id: str, purpose: str | None
) -> tuple[IncidentView, IncidentDetailOut]:
    view = incident_view(db=db, incident_id=path_number(incident_id, "incident"))
    observables = [
        {"kind": o.kind, "value": o.value, "other_incidents": list(o.other_incidents)}
        for o in view.observables
    ]
    audit_personal_read(
        db=db,
        clock=clock,
        principal=user,
        object_type="incident",
        object_id=str(view.incident.id),
        purpose=purpose,
        subjects=pseudonyms_in(observables),
    )
    out = IncidentDetailOut(
        incident=_out(view.incident),
        alert_ids=view.alert_ids,
        timeline=[
            {"at": t.at.isoformat(), "actor": t.actor, "action": t.action, "details": t.details}
            for t in view.timeline
        ],
        observables=observables,
        runs=[
            {
                "id": run.id,
                "playbook_id": run.playbook_id,
                "status": run.status,
                "steps": [
                    {
                        "id": s.id,
                        "step_id": s.step_id,
                        "title": s.title,
                        "kind": s.kind,
                        "status": s.status,
                        "requested_by": s.requested_by,
                        "approved_by": s.approved_by,
                        "approval_role": (s.spec.get("approval") or {}).get("role"),
                        "owner_role": s.owner_role,
                        "error": s.error if s.status == "manual" else None,
                        "result": s.result or {},
                        "options": s.spec.get("options") or [],
                        "checklist": s.spec.get("checklist") or [],
                        "origins": view.origins.get(s.id, []),
                    }
                    for s in steps
                ],
            }
            for run, steps in view.runs
        ],
        alert_reasons={
            str(t.details.get("alert_id")): str(t.details.get("reason") or "")
            for t in view.timeline
            if t.action in ("incident.alert_added", "incident.alert_linked")
        },
        tasks=[
            {
                "id": t.id,
                "title": t.title,
                "assignee": t.assignee,
                "created_by": t.created_by,
                "at": t.created_at.isoformat(),
                "completed_by": t.completed_by,
                "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                "note": t.note,
            }
            for t in view.tasks
        ],
        comments=[
            {"author": c.author, "at": c.created_at.isoformat(), "html": str(c.html)}
            for c in view.comments
        ],
        evidence=[
            {
                "id": e.id,
                "filename": e.filename,
                "sha256": e.sha256,
                "size": e.size,
                "added_by": e.added_by,
                "at": e.added_at.isoformat(),
            }
            for e in view.evidence
        ],
    )
    return view, out


def render_detail(
    request: Request,
    db: Any,
    clock: ClockDep,
    templates: Templates,
    user: Principal,
    incident_id: str,
    *,
    purpose: str | None = None,
    error: Exception | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The incident page; after a refused change it shows the error next to its form."""
    _, out = _detail(db, clock, user, incident_id, purpose)
    problem = None
    if error is not None:
        field = getattr(error, "field", None) or str(error).split(":", 1)[0]
        message = str(error)
        # The field and the problem apart, so the page can translate the problem.
        problem = {
            "field": field,
            "message": message,
            "problem": message.removeprefix(f"{field}: "),
        }
    context = {
        "d": out,
        "error": problem,
        "form": form or {},
        "statuses": STATUSES,
        "transitions": sorted(TRANSITIONS.get(out.incident.status, ())),
        "close_reasons": CLOSE_REASONS,
        "severities": SEVERITIES,
        "kinds": OBSERVABLE_KINDS,
        "act_roles": [r.value for r in ACT_ROLES],
        "system_actors": sorted(SYSTEM_ACTORS),
    }
    return templates.TemplateResponse(
        request, "incident_detail.html", context, status_code=status_code
    )


class IncidentRowOut(IncidentOut):
    """An incident as listed, with age, times to acknowledge and contain (seconds) and SLA."""

    age_seconds: float
    acknowledge_seconds: float | None
    contain_seconds: float | None
    due_at: str
    overdue: bool


def _span(
    clock: ClockDep, settings: AppSettings, key: str | None, start: str | None, end: str | None
) -> TimeRange:
    """The creation-time range of the list; all incidents unless the URL names one (an open
    incident never drops out of view because it is old)."""
    return parse_range(
        key=key, start=start, end=end, now=clock.now(), zone=ZoneInfo(settings.timezone),
        default="all",
    )  # fmt: skip


def _rows(
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Principal,
    show: str,
    severity: str | None,
    span: TimeRange | None = None,
) -> list[IncidentRowOut]:
    rows = incident_rows(
        db=db,
        clock=clock,
        settings=settings,
        username=user.username,
        show=show,
        severity=severity or None,
        span=span,
    )
    return [
        IncidentRowOut(
            **_out(r.incident).model_dump(),
            age_seconds=r.age.total_seconds(),
            acknowledge_seconds=r.to_acknowledge.total_seconds() if r.to_acknowledge else None,
            contain_seconds=r.to_contain.total_seconds() if r.to_contain else None,
            due_at=r.due_at.isoformat(),
            overdue=r.overdue,
        )
        for r in rows
    ]


@router.get("/incidents", response_class=HTMLResponse, summary="Incidents (page)")
def incidents_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Reader,
    show: str = "open",
    severity: str = "",
    range: Range = None,
    from_: From = None,
    to: To = None,
) -> HTMLResponse:
    """The list with age, times to acknowledge/contain and SLA; a time range (kept in the URL)
    with a histogram of incidents created per severity (SVG and a table)."""
    span = _span(clock, settings, range, from_, to)
    items = _rows(db, clock, settings, user, show, severity, span)
    keep = [("show", show)] + ([("severity", severity)] if severity else [])
    context = {
        "incidents": items,
        "show": show,
        "severity": severity,
        "filters": FILTERS,
        "severities": SEVERITIES,
        "sla": settings.incident_sla_hours,
        "span": span,
        "keep": keep,
        "range_labels": PRESET_LABELS,
        "chart": incidents_histogram(
            db=db, span=span, now=clock.now(), username=user.username, show=show
        ),
    }
    return templates.TemplateResponse(request, "incidents.html", context)


@router.get("/api/incidents", response_model=list[IncidentRowOut], summary="Incidents")
def incidents_api(
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Reader,
    show: str = "all",
    severity: str = "",
    range: Range = None,
    from_: From = None,
    to: To = None,
) -> list[IncidentRowOut]:
    """Incidents newest first with age, times to acknowledge/contain and SLA state.

    `show`: all, open, mine or overdue; `severity`: one severity; `range` (15m, 1h, 24h, 7d,
    30d, all, custom with `from`/`to` in local time): when they were created (default all).
    """
    return _rows(
        db, clock, settings, user, show, severity, _span(clock, settings, range, from_, to)
    )


@router.get(
    "/incidents/{incident_id}", response_class=HTMLResponse, summary="Incident detail (page)"
)
def incident_page(
    incident_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: DetailReader,
    purpose: str | None = None,
) -> HTMLResponse:
    return render_detail(request, db, clock, templates, user, incident_id, purpose=purpose)


@router.get(
    "/api/incidents/{incident_id}", response_model=IncidentDetailOut, summary="Incident detail"
)
def incident_api(
    incident_id: str, db: DbSession, clock: ClockDep, user: DetailReader, purpose: str | None = None
) -> IncidentDetailOut:
    """Timeline, observables and runs; audited; `purpose` required when residents appear."""
    return _detail(db, clock, user, incident_id, purpose)[1]


def _triage(
    alert_id: str, store: AlertStoreDep, db: DbSession, clock: ClockDep, settings: AppSettings
) -> TriageOut:
    begin_write(db)
    result = triage_alert(db=db, clock=clock, store=store, alert_id=alert_id)
    db.commit()
    mark_in_incident(store=store, alert_id=alert_id)
    dispatch(settings=settings, work=result.to_enqueue)
    return TriageOut(incident_id=result.incident_id, created=result.created, reason=result.reason)


@router.post("/alerts/{alert_id}/incident", summary="Triage an alert into an incident (form)")
def triage_form(
    alert_id: str,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Actor,
) -> Response:
    out = _triage(alert_id, store, db, clock, settings)
    return RedirectResponse(
        f"/incidents/{out.incident_id}?triaged={quote(alert_id)}#alerts", status_code=303
    )


@router.post("/api/alerts/{alert_id}/incident", response_model=TriageOut, summary="Triage")
def triage_api(
    alert_id: str,
    store: AlertStoreDep,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Actor,
) -> TriageOut:
    """Attach the alert to its open incident or open one (starting its playbook)."""
    return _triage(alert_id, store, db, clock, settings)


@router.get("/runs/{run_id}", summary="The incident a playbook run belongs to (redirect)")
def run_page(run_id: str, db: DbSession, user: Reader) -> Response:

    run = get_run(db=db, run_id=path_number(run_id, "run"))
    return RedirectResponse(f"/incidents/{run.incident_id}", status_code=303)
