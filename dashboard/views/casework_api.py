"""The case-work JSON API: the same changes as the incident page's forms (issue 17).

Errors map through dashboard.security: 400 names the field, 404 unknown, 409 a refused
transition or four-eyes rule. Views that send Celery tasks commit first, then dispatch.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, UploadFile
from pydantic import BaseModel, Field

from core.accounts.models import Role
from core.errors import ValidationError
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    WriteDb,
)
from dashboard.services.incidents import dispatch
from dashboard.views.casework import MAX_UPLOAD, Actor, read_upload
from dashboard.views.incidents import own_account, path_number
from dashboard.views.writes import begin_write
from playbooks import service

router = APIRouter(tags=["incidents"])


class StatusIn(BaseModel):
    status: str = Field(max_length=32)
    reason: str = Field(max_length=2000)


class CloseIn(BaseModel):
    close_reason: str = Field(max_length=32)
    summary: str = Field(max_length=2000)


class AssignIn(BaseModel):
    assignee: str | None = Field(default=None, max_length=64)


class CommentIn(BaseModel):
    body: str = Field(max_length=20_000)


class ObservableIn(BaseModel):
    kind: str = Field(max_length=16)
    value: str = Field(max_length=500)


class SeverityIn(BaseModel):
    severity: str = Field(max_length=16)
    reason: str = Field(max_length=2000)


class DecisionIn(BaseModel):
    option: str = Field(max_length=100)


class MergeIn(BaseModel):
    target: int


class TaskIn(BaseModel):
    note: str = Field(default="", max_length=20_000)


class ChangedOut(BaseModel):
    """The incident after the change."""

    id: int
    status: str
    assignee: str | None
    severity: str
    merged_into: int | None = None


def _changed(incident: Any) -> ChangedOut:
    return ChangedOut(
        id=incident.id,
        status=incident.status,
        assignee=incident.assignee,
        severity=incident.severity,
        merged_into=incident.merged_into,
    )


@router.post("/api/incidents/{incident_id}/status", response_model=ChangedOut, summary="Status")
def status_api(
    incident_id: str, body: StatusIn, db: WriteDb, clock: ClockDep, user: Actor
) -> ChangedOut:
    """Move along new → in_progress → contained → resolved; 409 names an illegal transition."""
    return _changed(
        service.change_status(
            db=db,
            clock=clock,
            incident_id=path_number(incident_id, "incident"),
            status=body.status,
            reason=body.reason,
            actor=user.username,
        )
    )


@router.post("/api/incidents/{incident_id}/close", response_model=ChangedOut, summary="Close")
def close_api(
    incident_id: str, body: CloseIn, db: WriteDb, clock: ClockDep, user: Actor
) -> ChangedOut:
    """Close with a closing reason and a summary."""
    return _changed(
        service.close(
            db=db,
            clock=clock,
            incident_id=path_number(incident_id, "incident"),
            reason=body.close_reason,
            summary=body.summary,
            actor=user.username,
        )
    )


@router.post("/api/incidents/{incident_id}/assign", response_model=ChangedOut, summary="Assign")
def assign_api(
    incident_id: str, body: AssignIn, db: WriteDb, clock: ClockDep, user: Actor
) -> ChangedOut:
    """Assign to an existing, enabled account (null clears)."""
    return _changed(
        service.assign(
            db=db,
            clock=clock,
            incident_id=path_number(incident_id, "incident"),
            assignee=body.assignee,
            actor=user.username,
        )
    )


@router.post("/api/incidents/{incident_id}/severity", response_model=ChangedOut, summary="Severity")
def severity_api(
    incident_id: str, body: SeverityIn, db: WriteDb, clock: ClockDep, user: Actor
) -> ChangedOut:
    """Change the severity (low, medium, high, critical) with a reason."""
    return _changed(
        service.set_severity(
            db=db,
            clock=clock,
            incident_id=path_number(incident_id, "incident"),
            severity=body.severity,
            reason=body.reason,
            actor=user.username,
        )
    )


@router.post("/api/incidents/{incident_id}/evidence", summary="Evidence", status_code=201)
def evidence_api(
    incident_id: str,
    file: UploadFile,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    user: Actor,
    description: Annotated[str, Form(max_length=1000)] = "",
) -> dict[str, Any]:
    """Upload a file (multipart, field `file`); answers its SHA-256 as stored."""
    content = read_upload(file)
    if content is None:
        raise ValidationError("content", f"larger than {MAX_UPLOAD} bytes")
    item = service.add_evidence(
        db=db,
        clock=clock,
        settings=settings,
        incident_id=path_number(incident_id, "incident"),
        filename=file.filename or "",
        content=content,
        actor=user.username,
        description=description.strip() or None,
    )
    return {"id": item.id, "filename": item.filename, "sha256": item.sha256, "size": item.size}


@router.post("/api/incidents/{incident_id}/comments", summary="Comment", status_code=201)
def comment_api(
    incident_id: str, body: CommentIn, db: WriteDb, clock: ClockDep, user: Actor
) -> dict[str, int]:
    """Add a comment (markdown, rendered safely on the page)."""
    comment = service.add_comment(
        db=db,
        clock=clock,
        incident_id=path_number(incident_id, "incident"),
        body=body.body,
        actor=user.username,
    )
    return {"id": comment.id}


@router.post("/api/incidents/{incident_id}/observables", summary="Observable", status_code=201)
def observable_api(
    incident_id: str, body: ObservableIn, db: WriteDb, clock: ClockDep, user: Actor
) -> dict[str, Any]:
    """Add an observable by hand; answers where else it was seen."""
    link = service.add_observable(
        db=db,
        clock=clock,
        incident_id=path_number(incident_id, "incident"),
        kind=body.kind,
        value=body.value,
        actor=user.username,
    )
    return {"kind": link.kind, "value": link.value, "other_incidents": list(link.other_incidents)}


@router.post("/api/incidents/{incident_id}/merge", response_model=ChangedOut, summary="Merge")
def merge_api(
    incident_id: str, body: MergeIn, db: WriteDb, clock: ClockDep, user: Actor
) -> ChangedOut:
    """Merge this incident into `target`; answers the survivor."""
    return _changed(
        service.merge(
            db=db,
            clock=clock,
            source_id=path_number(incident_id, "incident"),
            target_id=body.target,
            actor=user.username,
        )
    )


@router.post("/api/steps/{step_id}/complete", summary="Complete a task")
def complete_api(
    step_id: str,
    body: TaskIn,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Actor,
) -> dict[str, str]:
    """Complete an open task (or an action that fell back to manual) with a note."""
    begin_write(db)
    work = service.complete_task(
        db=db,
        clock=clock,
        run_step_id=path_number(step_id, "step"),
        user=own_account(db, user),
        note=body.note,
    )
    db.commit()
    dispatch(settings=settings, work=work)
    return {"status": "done"}


@router.post("/api/steps/{step_id}/decide", summary="Take a decision")
def decide_api(
    step_id: str,
    body: DecisionIn,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Actor,
) -> dict[str, str]:
    """Choose one of a decision step's options; the playbook continues on that branch."""
    begin_write(db)
    work = service.decide(
        db=db,
        clock=clock,
        run_step_id=path_number(step_id, "step"),
        option=body.option,
        user=own_account(db, user),
    )
    db.commit()
    dispatch(settings=settings, work=work)
    return {"status": "done", "option": body.option}


@router.post("/api/steps/{step_id}/request", summary="Request an action (four eyes)")
def request_api(step_id: str, db: WriteDb, clock: ClockDep, user: Actor) -> dict[str, str]:
    """Ask for an action that waits for approval; a second person approves it."""
    step = service.request_action(
        db=db, clock=clock, run_step_id=path_number(step_id, "step"), user=own_account(db, user)
    )
    return {"status": step.status, "requested_by": step.requested_by or ""}


Approver = Annotated[
    Principal,
    Depends(RequireRole(Role.INCIDENT_MANAGER, Role.DPO, Role.CRISIS_TEAM, scope="write:alerts")),
]


@router.post("/api/steps/{step_id}/approve", summary="Approve an action (four eyes)")
def approve_api(
    step_id: str, db: DbSession, clock: ClockDep, settings: AppSettings, user: Approver
) -> dict[str, str]:
    """Approve a requested action; it then runs on a worker."""
    begin_write(db)
    step, work = service.approve_action(
        db=db, clock=clock, run_step_id=path_number(step_id, "step"), user=own_account(db, user)
    )
    db.commit()
    dispatch(settings=settings, work=work)
    return {"status": step.status, "approved_by": step.approved_by or ""}
