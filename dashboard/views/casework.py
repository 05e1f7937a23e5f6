"""Working a case: status, close, assignee, severity, comments, observables, evidence, merge,
tasks and decisions, requesting and approving playbook actions (four eyes), as forms on the
incident page (the JSON API: casework_api.py).

Views stay thin: parse, call one playbooks service, then redirect (forms) or answer (API). A
refused form re-renders the incident page with the problem next to the form and the text the
user typed kept. Every change lands in the incident timeline and the audit log (the services
write both in the same unit). Views that send Celery tasks (tasks and decisions can start
actions or notifications) commit first with `begin_write`, then dispatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.clock import Clock
from core.errors import ConflictError, ValidationError
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    RequireRole,
    Templates,
    WriteDb,
)
from dashboard.services.incidents import dispatch
from dashboard.views.incidents import ACT_ROLES, own_account, path_number, render_detail
from dashboard.views.writes import begin_write
from playbooks import service

router = APIRouter(tags=["incidents"])
Actor = Annotated[Principal, Depends(RequireRole(*ACT_ROLES, scope="write:alerts"))]
APPROVE_ROLES = (Role.INCIDENT_MANAGER, Role.DPO, Role.CRISIS_TEAM)
Approver = Annotated[Principal, Depends(RequireRole(*APPROVE_ROLES))]
MAX_UPLOAD = 50 * 1024 * 1024


@dataclass(frozen=True)
class CaseForm:
    """What every incident form needs: the request, its write unit, the clock, the templates
    and the acting person; `apply` runs one change and answers the form."""

    request: Request
    db: Session
    clock: Clock
    templates: Jinja2Templates
    user: Principal

    def apply(
        self, incident_id: str, form: dict[str, str], change: Callable[[int], object], anchor: str
    ) -> Response:
        """Run one change; redirect to the page, or show it again with the error and the input."""
        number = path_number(incident_id, "incident")
        try:
            change(number)
        except (ValidationError, ConflictError) as exc:
            status = 400 if isinstance(exc, ValidationError) else 409
            return render_detail(
                self.request,
                self.db,
                self.clock,
                self.templates,
                self.user,
                incident_id,
                error=exc,
                form=form,
                status_code=status,
            )
        return RedirectResponse(f"/incidents/{number}#{anchor}", status_code=303)


def _case_form(
    request: Request, db: WriteDb, clock: ClockDep, templates: Templates, user: Actor
) -> CaseForm:
    return CaseForm(request, db, clock, templates, user)


Case = Annotated[CaseForm, Depends(_case_form)]
Text = Annotated[str, Form(max_length=20_000)]


@router.post("/incidents/{incident_id}/status", summary="Change the status (form)")
def status_form(
    incident_id: str,
    case: Case,
    status: Annotated[str, Form(max_length=32)],
    reason: Text = "",
) -> Response:
    return case.apply(
        incident_id,
        {"status": status, "reason": reason},
        lambda n: service.change_status(
            db=case.db,
            clock=case.clock,
            incident_id=n,
            status=status,
            reason=reason,
            actor=case.user.username,
        ),
        "status",
    )


@router.post("/incidents/{incident_id}/close", summary="Close with a reason (form)")
def close_form(
    incident_id: str,
    case: Case,
    close_reason: Annotated[str, Form(max_length=32)],
    summary: Text = "",
) -> Response:
    return case.apply(
        incident_id,
        {"close_reason": close_reason, "summary": summary},
        lambda n: service.close(
            db=case.db,
            clock=case.clock,
            incident_id=n,
            reason=close_reason,
            summary=summary,
            actor=case.user.username,
        ),
        "status",
    )


@router.post("/incidents/{incident_id}/assign", summary="Assign (form)")
def assign_form(
    incident_id: str, case: Case, assignee: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    return case.apply(
        incident_id,
        {"assignee": assignee},
        lambda n: service.assign(
            db=case.db,
            clock=case.clock,
            incident_id=n,
            assignee=assignee.strip() or None,
            actor=case.user.username,
        ),
        "assign",
    )


@router.post("/incidents/{incident_id}/severity", summary="Change the severity (form)")
def severity_form(
    incident_id: str,
    case: Case,
    severity: Annotated[str, Form(max_length=16)],
    reason: Text = "",
) -> Response:
    return case.apply(
        incident_id,
        {"severity": severity, "severity_reason": reason},
        lambda n: service.set_severity(
            db=case.db,
            clock=case.clock,
            incident_id=n,
            severity=severity,
            reason=reason,
            actor=case.user.username,
        ),
        "assign",
    )


@router.post("/incidents/{incident_id}/comments", summary="Add a comment (form)")
def comment_form(incident_id: str, case: Case, body: Text = "") -> Response:
    return case.apply(
        incident_id,
        {"body": body},
        lambda n: service.add_comment(
            db=case.db, clock=case.clock, incident_id=n, body=body, actor=case.user.username
        ),
        "comments",
    )


@router.post("/incidents/{incident_id}/observables", summary="Add an observable (form)")
def observable_form(
    incident_id: str,
    case: Case,
    kind: Annotated[str, Form(max_length=16)],
    value: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    return case.apply(
        incident_id,
        {"kind": kind, "value": value},
        lambda n: service.add_observable(
            db=case.db,
            clock=case.clock,
            incident_id=n,
            kind=kind,
            value=value,
            actor=case.user.username,
        ),
        "observables",
    )


@router.post("/incidents/{incident_id}/merge", summary="Merge this incident into another (form)")
def merge_form(
    incident_id: str, case: Case, target: Annotated[str, Form(max_length=12)] = ""
) -> Response:
    def change(n: int) -> object:
        if not target.strip().lstrip("#").isdigit():
            raise ValidationError("target", "give the number of the incident to merge into")
        return service.merge(
            db=case.db,
            clock=case.clock,
            source_id=n,
            target_id=int(target.strip().lstrip("#")),
            actor=case.user.username,
        )

    response = case.apply(incident_id, {"target": target}, change, "merge")
    if isinstance(response, RedirectResponse):
        return RedirectResponse(f"/incidents/{target.strip().lstrip('#')}", status_code=303)
    return response


@router.post("/incidents/{incident_id}/evidence", summary="Upload evidence (form)")
def evidence_form(
    incident_id: str,
    case: Case,
    settings: AppSettings,
    file: UploadFile,
    description: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Store a file with its SHA-256 (shown on the page and in the police package manifest)."""
    content = read_upload(file)

    def change(n: int) -> object:
        if content is None:
            raise ValidationError("content", f"larger than {MAX_UPLOAD} bytes")
        return service.add_evidence(
            db=case.db,
            clock=case.clock,
            settings=settings,
            incident_id=n,
            filename=file.filename or "",
            content=content,
            actor=case.user.username,
            description=description.strip() or None,
        )

    return case.apply(incident_id, {"description": description}, change, "evidence")


def read_upload(file: UploadFile) -> bytes | None:
    """The uploaded file, or None when it is larger than MAX_UPLOAD (never a truncated copy:
    its hash would not be the file's)."""
    content = file.file.read(MAX_UPLOAD + 1)
    return None if len(content) > MAX_UPLOAD else content


@router.post("/incidents/{incident_id}/tasks/{step_id}/complete", summary="Complete a task")
def complete_form(
    incident_id: str,
    step_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    settings: AppSettings,
    user: Actor,
    note: Text = "",
) -> Response:
    number = path_number(incident_id, "incident")
    begin_write(db)
    try:
        work = service.complete_task(
            db=db,
            clock=clock,
            run_step_id=path_number(step_id, "step"),
            user=own_account(db, user),
            note=note,
        )
    except (ValidationError, ConflictError) as exc:
        db.rollback()
        return render_detail(
            request,
            db,
            clock,
            templates,
            user,
            incident_id,
            error=exc,
            form={"note": note, "step": step_id},
            status_code=409,
        )
    db.commit()
    dispatch(settings=settings, work=work)
    return RedirectResponse(f"/incidents/{number}#playbooks", status_code=303)


@router.post("/incidents/{incident_id}/decisions/{step_id}", summary="Take a decision")
def decide_form(
    incident_id: str,
    step_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    settings: AppSettings,
    user: Actor,
    option: Annotated[str, Form(max_length=100)],
) -> Response:
    number = path_number(incident_id, "incident")
    begin_write(db)
    try:
        work = service.decide(
            db=db,
            clock=clock,
            run_step_id=path_number(step_id, "step"),
            option=option,
            user=own_account(db, user),
        )
    except (ValidationError, ConflictError) as exc:
        db.rollback()
        return render_detail(
            request, db, clock, templates, user, incident_id, error=exc, status_code=409
        )
    db.commit()
    dispatch(settings=settings, work=work)
    return RedirectResponse(f"/incidents/{number}#playbooks", status_code=303)


@router.post("/incidents/{incident_id}/police-package", summary="Police report package (ZIP)")
def police_form(
    incident_id: str,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    settings: AppSettings,
    user: Actor,
) -> Response:
    """The signed aangifte package as a download; refused for exercise incidents."""
    number = path_number(incident_id, "incident")
    try:
        package = service.export_police_package(
            db=db, clock=clock, settings=settings, incident_id=number, actor=user.username
        )
    except ConflictError as exc:
        return render_detail(
            request, db, clock, templates, user, incident_id, error=exc, status_code=409
        )
    return Response(
        package.zip,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="aangifte-incident-{number}.zip"',
            "X-Dijkwacht-Public-Key": package.public_key,
        },
    )


def _step_of(db: DbSession, step_id: str) -> tuple[int, int]:
    """(step number, incident id) of a playbook step; NotFoundError for an unknown step."""
    number = path_number(step_id, "step")
    run_id = service.get_step(db=db, run_step_id=number).run_id
    return number, service.get_run(db=db, run_id=run_id).incident_id


@router.post("/steps/{step_id}/request", summary="Request approval of an action (form)")
def request_form(
    step_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Actor,
) -> Response:
    begin_write(db)
    number, incident_id = _step_of(db, step_id)
    try:
        service.request_action(db=db, clock=clock, run_step_id=number, user=own_account(db, user))
    except (ValidationError, ConflictError) as exc:
        db.rollback()
        return render_detail(
            request, db, clock, templates, user, str(incident_id), error=exc, status_code=409
        )
    db.commit()
    return RedirectResponse(f"/incidents/{incident_id}#playbooks", status_code=303)


@router.post("/steps/{step_id}/approve", summary="Approve an action (form, four eyes)")
def approve_form(
    step_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    settings: AppSettings,
    user: Approver,
) -> Response:
    begin_write(db)
    number, incident_id = _step_of(db, step_id)
    try:
        _, work = service.approve_action(
            db=db, clock=clock, run_step_id=number, user=own_account(db, user)
        )
    except (ValidationError, ConflictError) as exc:
        db.rollback()
        return render_detail(
            request, db, clock, templates, user, str(incident_id), error=exc, status_code=409
        )
    db.commit()
    dispatch(settings=settings, work=work)
    return RedirectResponse(f"/incidents/{incident_id}#playbooks", status_code=303)
