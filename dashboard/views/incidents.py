"""Incidents: list, detail (timeline, observables, playbook runs), triage from an alert, approvals.

Observables name hosts, users and residents, so the detail read is audited (purpose when a
resident pseudonym appears). Approval follows playbooks' four-eyes rule: the service refuses
the requester and approvers without the playbook's role (409).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from core.accounts.models import Role, User
from core.errors import NotFoundError
from dashboard.audit_reads import audit_personal_read, pseudonyms_in
from dashboard.deps import (
    AlertStoreDep,
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    Templates,
)
from dashboard.services.incidents import IncidentView, dispatch, incident_view, triage_alert
from dashboard.views.writes import begin_write
from playbooks.service import approve_action, list_incidents, request_action

router = APIRouter(tags=["incidents"])
READ_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER, Role.CRISIS_TEAM)
ACT_ROLES = (Role.ANALYST, Role.INCIDENT_MANAGER)
APPROVE_ROLES = (Role.INCIDENT_MANAGER, Role.DPO, Role.CRISIS_TEAM)
Reader = Annotated[Principal, Depends(RequireRole(*READ_ROLES, scope="read:alerts"))]
Actor = Annotated[Principal, Depends(RequireRole(*ACT_ROLES, scope="write:alerts"))]
Approver = Annotated[Principal, Depends(RequireRole(*APPROVE_ROLES))]
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


class IncidentDetailOut(BaseModel):
    """An incident with its timeline, observables and playbook runs with their steps."""

    incident: IncidentOut
    alert_ids: list[str]
    timeline: list[dict[str, Any]]
    observables: list[dict[str, Any]]
    runs: list[dict[str, Any]]


class TriageOut(BaseModel):
    """Where triage put the alert."""

    incident_id: int
    created: bool


def _out(incident: Any) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        assignee=incident.assignee,
        created_at=incident.created_at.isoformat(),
        exercise=incident.exercise_id is not None,
    )


def _number(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise NotFoundError(f"{what} {value!r} does not exist")
    return int(value)


def _account(db: DbSession, user: Principal) -> User:
    account = db.get(User, user.user_id)
    if account is None:
        raise NotFoundError("your account no longer exists")
    return account


def _detail(
    db: DbSession, clock: ClockDep, user: Principal, incident_id: str, purpose: str | None
) -> tuple[IncidentView, IncidentDetailOut]:
    view = incident_view(db=db, incident_id=_number(incident_id, "incident"))
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
                    }
                    for s in steps
                ],
            }
            for run, steps in view.runs
        ],
    )
    return view, out


@router.get("/incidents", response_class=HTMLResponse, summary="Incidents (page)")
def incidents_page(
    request: Request, db: DbSession, templates: Templates, user: Reader
) -> HTMLResponse:
    items = [_out(i) for i in list_incidents(db=db)]
    return templates.TemplateResponse(request, "incidents.html", {"incidents": items})


@router.get("/api/incidents", response_model=list[IncidentOut], summary="Incidents")
def incidents_api(db: DbSession, user: Reader) -> list[IncidentOut]:
    """The latest 100 incidents; titles and states only."""
    return [_out(i) for i in list_incidents(db=db)]


@router.get(
    "/incidents/{incident_id}", response_class=HTMLResponse, summary="Incident detail (page)"
)
def incident_page(
    incident_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Reader,
    purpose: str | None = None,
) -> HTMLResponse:
    _, out = _detail(db, clock, user, incident_id, purpose)
    return templates.TemplateResponse(request, "incident_detail.html", {"d": out})


@router.get(
    "/api/incidents/{incident_id}", response_model=IncidentDetailOut, summary="Incident detail"
)
def incident_api(
    incident_id: str, db: DbSession, clock: ClockDep, user: Reader, purpose: str | None = None
) -> IncidentDetailOut:
    """Timeline, observables and runs; audited; `purpose` required when residents appear."""
    return _detail(db, clock, user, incident_id, purpose)[1]


def _triage(
    alert_id: str, store: AlertStoreDep, db: DbSession, clock: ClockDep, settings: AppSettings
) -> TriageOut:
    begin_write(db)
    result = triage_alert(db=db, clock=clock, store=store, alert_id=alert_id)
    db.commit()
    dispatch(settings=settings, work=result.to_enqueue)
    return TriageOut(incident_id=result.incident_id, created=result.created)


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
    return RedirectResponse(f"/incidents/{out.incident_id}", status_code=303)


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


@router.post("/steps/{step_id}/request", summary="Request approval of an action (form)")
def request_form(step_id: str, db: DbSession, clock: ClockDep, user: Actor) -> Response:
    begin_write(db)
    step = request_action(
        db=db, clock=clock, run_step_id=_number(step_id, "step"), user=_account(db, user)
    )
    db.commit()
    return RedirectResponse(f"/runs/{step.run_id}", status_code=303)


@router.post("/steps/{step_id}/approve", summary="Approve an action (form, four eyes)")
def approve_form(
    step_id: str, db: DbSession, clock: ClockDep, settings: AppSettings, user: Approver
) -> Response:
    begin_write(db)
    step, work = approve_action(
        db=db, clock=clock, run_step_id=_number(step_id, "step"), user=_account(db, user)
    )
    db.commit()
    dispatch(settings=settings, work=work)
    return RedirectResponse(f"/runs/{step.run_id}", status_code=303)


@router.get("/runs/{run_id}", summary="The incident a playbook run belongs to (redirect)")
def run_page(run_id: str, db: DbSession, user: Reader) -> Response:
    from playbooks.service import get_run

    run = get_run(db=db, run_id=_number(run_id, "run"))
    return RedirectResponse(f"/incidents/{run.incident_id}", status_code=303)
