"""Linking more alerts to an incident and ad-hoc tasks: forms on the incident and alert pages,
and the same changes in the JSON API (issue 17).

Linking commits first and then marks the alerts `in_incident` in the alert store (another
store), as triage does. Every change lands on the incident timeline and in the audit log.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from core.errors import ConflictError, ValidationError
from dashboard.deps import AlertStoreDep, ClockDep, DbSession, Templates, WriteDb
from dashboard.services.incidents import mark_in_incident
from dashboard.views.casework import Actor, Case, Text
from dashboard.views.incidents import path_number, render_detail
from dashboard.views.writes import begin_write
from playbooks import service

router = APIRouter(tags=["incidents"])


def _ids(text: str) -> list[str]:
    """Alert ids typed in a box: separated by spaces, commas or new lines."""
    return [part for part in re.split(r"[\s,;]+", text) if part]


def _link(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    store: AlertStoreDep,
    user: Actor,
    incident: str,
    alert_ids: list[str],
    form: dict[str, str],
) -> Response:
    number = path_number(incident.strip().lstrip("#"), "incident")
    begin_write(db)
    try:
        linked = service.link_alerts(
            db=db,
            clock=clock,
            store=store,
            incident_id=number,
            alert_ids=alert_ids,
            actor=user.username,
        )
    except (ValidationError, ConflictError) as exc:
        db.rollback()
        status = 400 if isinstance(exc, ValidationError) else 409
        return render_detail(
            request, db, clock, templates, user, str(number), error=exc, form=form,
            status_code=status,
        )  # fmt: skip
    db.commit()
    for alert_id in linked:
        mark_in_incident(store=store, alert_id=alert_id)
    return RedirectResponse(f"/incidents/{number}#alerts", status_code=303)


@router.post("/incidents/{incident_id}/alerts", summary="Link more alerts (form)")
def link_form(
    incident_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    store: AlertStoreDep,
    user: Actor,
    alert_ids: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Alert ids typed on the incident page (spaces, commas or new lines between them)."""
    return _link(
        request, db, clock, templates, store, user, incident_id, _ids(alert_ids),
        {"alert_ids": alert_ids},
    )  # fmt: skip


@router.post("/alerts/{alert_id}/link", summary="Link an alert to an incident (form)")
def link_from_alert(
    alert_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    store: AlertStoreDep,
    user: Actor,
    incident: Annotated[str, Form(max_length=13)] = "",
) -> Response:
    """From the alert page: the incident picked in the list (or typed)."""
    if not incident.strip().lstrip("#").isdigit():
        raise ValidationError("incident", "pick the incident to link this alert to")
    return _link(
        request, db, clock, templates, store, user, incident, [alert_id],
        {"alert_ids": alert_id},
    )  # fmt: skip


@router.post("/incidents/{incident_id}/tasks", summary="Add an ad-hoc task (form)")
def task_form(
    incident_id: str,
    case: Case,
    title: Annotated[str, Form(max_length=300)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    return case.apply(
        incident_id,
        {"task_title": title, "task_assignee": assignee},
        lambda n: service.add_task(
            db=case.db,
            clock=case.clock,
            incident_id=n,
            title=title,
            assignee=assignee.strip() or None,
            actor=case.user.username,
        ),
        "tasks",
    )


@router.post(
    "/incidents/{incident_id}/adhoc/{task_id}/complete", summary="Complete an ad-hoc task (form)"
)
def task_done_form(incident_id: str, task_id: str, case: Case, note: Text = "") -> Response:
    def change(n: int) -> object:
        number = path_number(task_id, "task")
        if service.incident_of_task(db=case.db, task_id=number) != n:
            raise ValidationError("task", f"task {number} is not a task of incident {n}")
        return service.complete_adhoc_task(
            db=case.db, clock=case.clock, task_id=number, note=note, actor=case.user.username
        )

    return case.apply(incident_id, {"adhoc_note": note, "adhoc_task": task_id}, change, "tasks")


class LinkIn(BaseModel):
    alert_ids: list[str] = Field(min_length=1, max_length=500)


class TaskIn(BaseModel):
    title: str = Field(max_length=300)
    assignee: str | None = Field(default=None, max_length=64)


class TaskDoneIn(BaseModel):
    note: str = Field(max_length=20_000)


class TaskOut(BaseModel):
    id: int
    incident_id: int
    title: str
    assignee: str | None
    created_by: str
    completed_by: str | None
    note: str | None


@router.post("/api/incidents/{incident_id}/alerts", summary="Link more alerts")
def link_api(
    incident_id: str,
    body: LinkIn,
    db: DbSession,
    clock: ClockDep,
    store: AlertStoreDep,
    user: Actor,
) -> dict[str, list[str]]:
    """Link alerts to the incident; answers the ids newly linked (already linked: skipped).

    409 when an alert is in another incident (merge instead) or the incident is closed.
    """
    begin_write(db)
    linked = service.link_alerts(
        db=db,
        clock=clock,
        store=store,
        incident_id=path_number(incident_id, "incident"),
        alert_ids=body.alert_ids,
        actor=user.username,
    )
    db.commit()
    for alert_id in linked:
        mark_in_incident(store=store, alert_id=alert_id)
    return {"linked": linked}


def _task_out(task: object) -> TaskOut:
    return TaskOut.model_validate(task, from_attributes=True)


@router.post(
    "/api/incidents/{incident_id}/tasks", response_model=TaskOut, status_code=201, summary="Task"
)
def task_api(incident_id: str, body: TaskIn, db: WriteDb, clock: ClockDep, user: Actor) -> TaskOut:
    """Add an ad-hoc task (title, optional assignee: an existing, enabled account)."""
    return _task_out(
        service.add_task(
            db=db,
            clock=clock,
            incident_id=path_number(incident_id, "incident"),
            title=body.title,
            assignee=body.assignee,
            actor=user.username,
        )
    )


@router.post("/api/tasks/{task_id}/complete", response_model=TaskOut, summary="Complete a task")
def task_done_api(
    task_id: str, body: TaskDoneIn, db: WriteDb, clock: ClockDep, user: Actor
) -> TaskOut:
    """Complete an ad-hoc task with a note; 409 when it is already done."""
    return _task_out(
        service.complete_adhoc_task(
            db=db,
            clock=clock,
            task_id=path_number(task_id, "task"),
            note=body.note,
            actor=user.username,
        )
    )
