"""The DPO's "who viewed my data" report and the re-identification approval flow."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from core.accounts.models import Role
from core.errors import ValidationError
from core.privacy import service as privacy
from core.privacy.service import AccessReport, pseudonym_of, resident_report, verify_bsn
from dashboard.deps import (
    ClockDep,
    DbSession,
    EventStoreDep,
    Principal,
    PseudonymiserDep,
    RequireRole,
    Templates,
    WriteDb,
)
from dashboard.pdf import render_pdf
from dashboard.report_labels import ACTIONS, LABELS, record_name, role_name
from ldv import service as ldv
from playbooks.breach import service as breach_service

router = APIRouter(tags=["privacy"])
Dpo = Annotated[Principal, Depends(RequireRole(Role.DPO))]
ReidUser = Annotated[Principal, Depends(RequireRole(Role.ANALYST, Role.INCIDENT_MANAGER, Role.DPO))]
Approver = Annotated[Principal, Depends(RequireRole(Role.DPO, Role.INCIDENT_MANAGER))]
Lang = Literal["nl", "en"]


class ReportRequest(BaseModel):
    bsn: str = Field(min_length=9, max_length=20, description="the resident's BSN; not stored")
    include_names: bool = False
    names_reason: str | None = Field(default=None, max_length=500)


class ReidRequestIn(BaseModel):
    pseudonym: str = Field(min_length=4, max_length=64)
    purpose: str = Field(min_length=5, max_length=500)


class RejectIn(BaseModel):
    reason: str = Field(min_length=5, max_length=500)


class VerifyIn(BaseModel):
    bsn: str = Field(min_length=9, max_length=20)


class VerifyOut(BaseModel):
    match: bool


class ReidOut(BaseModel):
    id: int
    pseudonym: str
    purpose: str
    requested_by: str
    requested_at: str
    status: str
    dpo_approver: str | None
    manager_approver: str | None
    expires_at: str
    attempts: int


def _report_json(report: AccessReport) -> dict[str, Any]:
    data = asdict(report)
    data["generated_at"] = report.generated_at.isoformat()
    for row in data["records"]:
        row["at"] = row["at"].isoformat()
    return data


def _reid_out(row: privacy.ReidentificationRequest, clock: ClockDep) -> ReidOut:
    return ReidOut(
        id=row.id,
        pseudonym=row.pseudonym,
        purpose=row.purpose,
        requested_by=row.requested_by,
        requested_at=row.requested_at.isoformat(),
        status=row.current_status(clock.now()),
        dpo_approver=row.dpo_approver,
        manager_approver=row.manager_approver,
        expires_at=row.expires_at.isoformat(),
        attempts=row.attempts,
    )


def _pdf(templates: Templates, report: AccessReport, lang: str) -> Response:

    pdf = render_pdf(
        templates,
        "access_report_pdf.html",
        {
            "report": report,
            "lang": lang,
            "T": LABELS[lang],
            "ACTIONS": ACTIONS,
            "role_name": role_name,
            "record_name": record_name,
            "for_resident": True,
        },
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="inzage-{lang}.pdf"'},
    )


class _Reports:
    """What a resident report needs, so the page, the JSON and the PDF build it one way."""

    def __init__(
        self,
        db: WriteDb,
        store: EventStoreDep,
        pseudonymiser: PseudonymiserDep,
        clock: ClockDep,
    ) -> None:
        self.db, self.store, self.pseudonymiser, self.clock = db, store, pseudonymiser, clock

    def build(
        self, user: Principal, *, bsn: str, include_names: bool, names_reason: str | None
    ) -> AccessReport:
        return resident_report(
            db=self.db,
            store=self.store,
            pseudonymiser=self.pseudonymiser,
            clock=self.clock,
            actor=user.username,
            bsn=bsn,
            include_names=include_names,
            names_reason=names_reason,
            partner_names=ldv.partner_names(db=self.db),
        )

    def from_body(self, user: Principal, body: ReportRequest) -> AccessReport:
        return self.build(
            user, bsn=body.bsn, include_names=body.include_names, names_reason=body.names_reason
        )


Reports = Annotated[_Reports, Depends()]


@router.get("/dpo/access-report", response_class=HTMLResponse, summary="Who viewed my data")
def report_form(request: Request, templates: Templates, user: Dpo) -> HTMLResponse:
    return templates.TemplateResponse(request, "access_report.html", {"report": None, "form": {}})


@router.post("/dpo/access-report", summary="Build the resident access report (page or PDF)")
def report_page(
    request: Request,
    reports: Reports,
    templates: Templates,
    user: Dpo,
    bsn: Annotated[str, Form(max_length=20)] = "",
    include_names: Annotated[bool, Form()] = False,
    names_reason: Annotated[str | None, Form(max_length=500)] = None,
    lang: Annotated[Lang, Form()] = "nl",
    format: Annotated[Literal["html", "pdf"], Form()] = "html",
    request_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """POST, so the BSN never appears in a URL, a log line or the browser history.

    An invalid BSN comes back next to its field with the form kept (HTTP 422). With a
    `request_id` from the residents' requests register, the BSN must belong to that request's
    resident, and the request records that its report was produced.
    """
    try:
        with reports.db.begin_nested():
            if request_id:
                _check_request(reports, request_id, bsn)
            report = reports.build(
                user, bsn=bsn, include_names=include_names, names_reason=names_reason
            )
    except ValidationError as problem:
        form: dict[str, Any] = {
            "bsn": bsn, "names_reason": names_reason or "", "include_names": include_names,
            "lang": lang, "format": format, "request_id": request_id,
        }  # fmt: skip
        failed: dict[str, Any] = {"report": None, "error": problem, "form": form}
        return templates.TemplateResponse(request, "access_report.html", failed, status_code=422)
    if format == "pdf":
        return _pdf(templates, report, lang)
    context = {
        "report": report, "lang": lang, "T": LABELS[lang], "ACTIONS": ACTIONS, "form": {},
        "role_name": role_name, "record_name": record_name,
    }  # fmt: skip
    return templates.TemplateResponse(request, "access_report.html", context)


def _check_request(reports: _Reports, request_id: str, bsn: str) -> None:
    """The BSN must be the requesting resident's; then the request notes the report."""

    if not request_id.isdigit():
        raise ValidationError("request_id", "not a request number")
    wanted = breach_service.get_request(db=reports.db, request_id=int(request_id))
    if pseudonym_of(reports.pseudonymiser, bsn) != wanted.pseudonym:
        raise ValidationError("bsn", f"this BSN is not the resident of request {wanted.reference}")
    breach_service.mark_report_produced(db=reports.db, clock=reports.clock, request_id=wanted.id)


@router.post("/api/access-report", summary="Resident access report (JSON)")
def api_report(
    body: ReportRequest,
    reports: Reports,
    user: Dpo,
) -> dict[str, Any]:
    """Every read of one resident's data: Dijkwacht's own reads and the application logs."""
    report = reports.from_body(user, body)
    return _report_json(report)


@router.post(
    "/api/access-report/pdf",
    summary="Resident access report (PDF, Dutch or English)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def api_report_pdf(
    body: ReportRequest,
    reports: Reports,
    templates: Templates,
    user: Dpo,
    lang: Lang = "nl",
) -> Response:
    report = reports.from_body(user, body)
    return _pdf(templates, report, lang)


# --- re-identification -------------------------------------------------------------------


@router.get("/reidentification", response_class=HTMLResponse, summary="Re-identification")
def reid_list(
    request: Request, db: DbSession, clock: ClockDep, templates: Templates, user: ReidUser
) -> HTMLResponse:
    rows = [_reid_out(row, clock) for row in privacy.list_requests(db=db)]
    return templates.TemplateResponse(request, "reidentification.html", {"rows": rows})


@router.post("/reidentification", summary="Request re-identification (form)")
def reid_request_form(
    db: WriteDb,
    clock: ClockDep,
    user: ReidUser,
    pseudonym: Annotated[str, Form(max_length=64)],
    purpose: Annotated[str, Form(max_length=500)],
) -> Response:
    privacy.request_reidentification(
        db=db,
        pseudonym=pseudonym.strip(),
        purpose=purpose,
        actor=user.username,
        actor_role=user.role,
        clock=clock,
    )
    return RedirectResponse("/reidentification", status_code=303)


@router.post("/reidentification/{request_id}/approve", summary="Approve (form)")
def reid_approve_form(request_id: int, db: WriteDb, clock: ClockDep, user: Approver) -> Response:
    privacy.approve(
        db=db, request_id=request_id, actor=user.username, actor_role=user.role, clock=clock
    )
    return RedirectResponse("/reidentification", status_code=303)


@router.post("/reidentification/{request_id}/reject", summary="Reject (form)")
def reid_reject_form(
    request_id: int,
    db: WriteDb,
    clock: ClockDep,
    user: Approver,
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    privacy.reject(
        db=db,
        request_id=request_id,
        reason=reason,
        actor=user.username,
        actor_role=user.role,
        clock=clock,
    )
    return RedirectResponse("/reidentification", status_code=303)


@router.post(
    "/reidentification/{request_id}/verify", response_class=HTMLResponse, summary="Verify (form)"
)
def reid_verify_form(
    request_id: int,
    request: Request,
    db: WriteDb,
    pseudonymiser: PseudonymiserDep,
    clock: ClockDep,
    templates: Templates,
    user: ReidUser,
    bsn: Annotated[str, Form(max_length=20)],
) -> HTMLResponse:
    match = verify_bsn(
        db=db,
        pseudonymiser=pseudonymiser,
        clock=clock,
        actor=user.username,
        request_id=request_id,
        bsn=bsn,
    )
    rows = [_reid_out(row, clock) for row in privacy.list_requests(db=db)]
    context = {"rows": rows, "verified": {"id": request_id, "match": match}}
    return templates.TemplateResponse(request, "reidentification.html", context)


@router.get("/api/reidentification", response_model=list[ReidOut], summary="Requests")
def api_reid_list(db: DbSession, clock: ClockDep, user: ReidUser) -> list[ReidOut]:
    return [_reid_out(row, clock) for row in privacy.list_requests(db=db)]


@router.post("/api/reidentification", response_model=ReidOut, summary="Request re-identification")
def api_reid_request(body: ReidRequestIn, db: WriteDb, clock: ClockDep, user: ReidUser) -> ReidOut:
    """Needs a purpose; becomes usable after the DPO and an incident manager both approve."""
    row = privacy.request_reidentification(
        db=db,
        pseudonym=body.pseudonym,
        purpose=body.purpose,
        actor=user.username,
        actor_role=user.role,
        clock=clock,
    )
    return _reid_out(row, clock)


@router.post(
    "/api/reidentification/{request_id}/approve", response_model=ReidOut, summary="Approve"
)
def api_reid_approve(request_id: int, db: WriteDb, clock: ClockDep, user: Approver) -> ReidOut:
    row = privacy.approve(
        db=db, request_id=request_id, actor=user.username, actor_role=user.role, clock=clock
    )
    return _reid_out(row, clock)


@router.post("/api/reidentification/{request_id}/reject", response_model=ReidOut, summary="Reject")
def api_reid_reject(
    request_id: int, body: RejectIn, db: WriteDb, clock: ClockDep, user: Approver
) -> ReidOut:
    row = privacy.reject(
        db=db,
        request_id=request_id,
        reason=body.reason,
        actor=user.username,
        actor_role=user.role,
        clock=clock,
    )
    return _reid_out(row, clock)


@router.post(
    "/api/reidentification/{request_id}/verify",
    response_model=VerifyOut,
    summary="Verify a candidate BSN against an approved request",
)
def api_reid_verify(
    request_id: int,
    body: VerifyIn,
    db: WriteDb,
    pseudonymiser: PseudonymiserDep,
    clock: ClockDep,
    user: ReidUser,
) -> VerifyOut:
    """Confirms or denies; the BSN is never stored; attempts are capped and audited."""
    match = verify_bsn(
        db=db,
        pseudonymiser=pseudonymiser,
        clock=clock,
        actor=user.username,
        request_id=request_id,
        bsn=body.bsn,
    )
    return VerifyOut(match=match)
