"""Logboek Dataverwerkingen: the read API of the read extension, and the DPO's pages (volumes
per processing activity, chain partners with their evidence)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.errors import ValidationError
from core.privacy.service import audit_personal_read
from dashboard.deps import (
    AlertStoreDep,
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
from ldv import service as ldv
from playbooks.breach.service import activities_by_uri

router = APIRouter(tags=["ldv"])
API_VERSION = "1.1.0"  # the read extension's OpenAPI version this answers
READ_PATH = "/api/ldv/lezen/v1/processing-activities"
OVERVIEW_DAYS = 30
LdvReader = Annotated[
    Principal,
    Depends(RequireRole(Role.DPO, Role.ANALYST, Role.INCIDENT_MANAGER, scope="read:ldv")),
]
Dpo = Annotated[Principal, Depends(RequireRole(Role.DPO))]


def problem(exc: ValidationError) -> JSONResponse:
    """A 400 in the shape of the API design rules' problem+json (Nlgovproblem)."""
    body = {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": str(exc),
        "invalidParams": [{"name": exc.field, "reason": exc.problem}],
    }
    return JSONResponse(
        body, 400, media_type="application/problem+json", headers={"API-Version": API_VERSION}
    )


@router.post(READ_PATH, summary="LDV read extension: processing records (ProcessingActivities)")
def read_processing_activities(
    db: DbSession,
    store: EventStoreDep,
    pseudonymiser: PseudonymiserDep,
    clock: ClockDep,
    user: LdvReader,
    body: Annotated[Any, Body()] = None,
    purpose: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """At least one of traceId, dpl.core.processing_activity_id or dpl.core.data_subject_id
    (else 400); records naming residents need a `purpose` and are audited as reads."""

    def pseudonymise(value: str, id_type: str | None) -> str:
        return pseudonymiser.identifier(value, id_type=id_type, field="dpl.core.data_subject_id")

    try:
        request = ldv.check_request(body, pseudonymise=pseudonymise)
    except ValidationError as exc:
        return problem(exc)
    answer = ldv.read(store=store, request=request)
    count = len(answer.body["processingActivities"])
    audit_personal_read(
        db=db, clock=clock, principal=user, object_type="ldv_records", object_id=None,
        purpose=purpose, subjects=answer.subjects,
        details={"filters": sorted(request.filters), "records": count},
    )  # fmt: skip
    headers = {"API-Version": API_VERSION}
    if answer.truncated:
        headers["X-Result-Truncated"] = "true"
    return JSONResponse(answer.body, headers=headers)


@router.get("/dpo/ldv", response_class=HTMLResponse, summary="LDV: processing per activity")
def overview(
    request: Request,
    db: DbSession,
    store: EventStoreDep,
    clock: ClockDep,
    templates: Templates,
    user: Dpo,
) -> HTMLResponse:
    end = clock.now()
    rows = ldv.activity_volumes(
        store=store,
        register=activities_by_uri(db=db),
        start=end - timedelta(days=OVERVIEW_DAYS),
        end=end,
    )
    context = {"rows": rows, "days": OVERVIEW_DAYS, "streams": ldv.streams(db=db), "error": None}
    return templates.TemplateResponse(request, "ldv_overview.html", context)


@router.post("/dpo/ldv/streams", summary="LDV: set a system's expected records per hour")
def save_stream(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Dpo,
    system: Annotated[str, Form(max_length=100)] = "",
    expected_per_hour: Annotated[int, Form(ge=0)] = 0,
) -> Response:
    try:
        with db.begin_nested():
            ldv.set_stream(
                db=db, clock=clock, actor=user.username, system=system, per_hour=expected_per_hour
            )
    except ValidationError as exc:
        context = {"rows": [], "days": OVERVIEW_DAYS, "streams": ldv.streams(db=db), "error": exc}
        return templates.TemplateResponse(request, "ldv_overview.html", context, status_code=422)
    return RedirectResponse("/dpo/ldv#streams", status_code=303)


def _partner_form(
    name: str, entity_uri: str, contact: str, agreed_activities: str, read_api: str
) -> ldv.PartnerInput:
    agreed = [line.strip() for line in agreed_activities.replace(",", "\n").splitlines()]
    return ldv.PartnerInput(
        name=name,
        entity_uri=entity_uri,
        contact=contact,
        agreed_activities=[a for a in agreed if a],
        read_api=read_api or None,
    )


PartnerForm = tuple[str, str, str, str, str]


def _render_partners(
    request: Request,
    templates: Any,
    db: Session,
    *,
    error: ValidationError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {"partners": ldv.list_partners(db=db), "error": error, "form": form or {}}
    status = 422 if error is not None else 200
    return templates.TemplateResponse(request, "ldv_partners.html", context, status_code=status)


@router.get("/dpo/ldv/partners", response_class=HTMLResponse, summary="LDV: chain partners")
def partners_page(request: Request, db: DbSession, templates: Templates, user: Dpo) -> HTMLResponse:
    return _render_partners(request, templates, db)


@router.post("/dpo/ldv/partners", summary="LDV: register a chain partner (form)")
def add_partner(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Dpo,
    name: Annotated[str, Form(max_length=200)] = "",
    entity_uri: Annotated[str, Form(max_length=500)] = "",
    contact: Annotated[str, Form(max_length=300)] = "",
    agreed_activities: Annotated[str, Form(max_length=20_000)] = "",
    read_api: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    spec = _partner_form(name, entity_uri, contact, agreed_activities, read_api)
    try:
        with db.begin_nested():
            row = ldv.save_partner(db=db, clock=clock, actor=user.username, spec=spec)
    except ValidationError as exc:
        form = {
            "name": name, "entity_uri": entity_uri, "contact": contact,
            "agreed_activities": agreed_activities, "read_api": read_api,
        }  # fmt: skip
        return _render_partners(request, templates, db, error=exc, form=form)
    return RedirectResponse(f"/dpo/ldv/partners/{row.id}", status_code=303)


def _view(partner_id: int, db: Session, store: Any, alerts: Any, clock: Any) -> ldv.PartnerView:
    partner = ldv.get_partner(db=db, partner_id=partner_id)
    return ldv.partner_view(store=store, alerts=alerts, partner=partner, end=clock.now())


@router.get(
    "/dpo/ldv/partners/{partner_id}", response_class=HTMLResponse, summary="LDV: one partner"
)
def partner_page(
    request: Request,
    partner_id: int,
    db: DbSession,
    store: EventStoreDep,
    alerts: AlertStoreDep,
    clock: ClockDep,
    templates: Templates,
    user: Dpo,
) -> HTMLResponse:
    return _render_partner(request, templates, _view(partner_id, db, store, alerts, clock))


def _render_partner(
    request: Request,
    templates: Any,
    view: ldv.PartnerView,
    *,
    error: ValidationError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    partner = view.partner
    saved = {
        "name": partner.name, "entity_uri": partner.entity_uri, "contact": partner.contact,
        "agreed_activities": "\n".join(partner.agreed_activities or []),
        "read_api": partner.read_api or "",
    }  # fmt: skip
    peak = max((count for _, count in view.days), default=0)
    context = {"view": view, "peak": peak, "error": error, "form": form or saved}
    status = 422 if error is not None else 200
    return templates.TemplateResponse(request, "ldv_partner.html", context, status_code=status)


@router.post("/dpo/ldv/partners/{partner_id}", summary="LDV: change a chain partner (form)")
def edit_partner(
    request: Request,
    partner_id: int,
    db: WriteDb,
    store: EventStoreDep,
    alerts: AlertStoreDep,
    clock: ClockDep,
    templates: Templates,
    user: Dpo,
    name: Annotated[str, Form(max_length=200)] = "",
    entity_uri: Annotated[str, Form(max_length=500)] = "",
    contact: Annotated[str, Form(max_length=300)] = "",
    agreed_activities: Annotated[str, Form(max_length=20_000)] = "",
    read_api: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    spec = _partner_form(name, entity_uri, contact, agreed_activities, read_api)
    try:
        with db.begin_nested():
            ldv.save_partner(
                db=db, clock=clock, actor=user.username, spec=spec, partner_id=partner_id
            )
    except ValidationError as exc:
        form = {
            "name": name, "entity_uri": entity_uri, "contact": contact,
            "agreed_activities": agreed_activities, "read_api": read_api,
        }  # fmt: skip
        view = _view(partner_id, db, store, alerts, clock)
        return _render_partner(request, templates, view, error=exc, form=form)
    return RedirectResponse(f"/dpo/ldv/partners/{partner_id}", status_code=303)


def _evidence(
    partner_id: int, fmt: Literal["csv", "pdf"], db: Session, store: Any, alerts: Any,
    clock: Any, templates: Any,
) -> Response:  # fmt: skip
    view = _view(partner_id, db, store, alerts, clock)
    name = f"ldv-bewijs-{partner_id}-{clock.now().date().isoformat()}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(ldv.evidence_csv(view), media_type="text/csv", headers=disposition)

    peak = max((count for _, count in view.days), default=0)
    pdf = render_pdf(
        templates, "ldv_evidence_pdf.html", {"view": view, "peak": peak, "now": clock.now()}
    )
    return Response(pdf, media_type="application/pdf", headers=disposition)


@router.get("/dpo/ldv/partners/{partner_id}/evidence.csv", summary="LDV: partner evidence, CSV")
def partner_evidence_csv(
    partner_id: int,
    db: DbSession,
    store: EventStoreDep,
    alerts: AlertStoreDep,
    clock: ClockDep,
    templates: Templates,
    user: Dpo,
) -> Response:
    return _evidence(partner_id, "csv", db, store, alerts, clock, templates)


@router.get("/dpo/ldv/partners/{partner_id}/evidence.pdf", summary="LDV: partner evidence, PDF")
def partner_evidence_pdf(
    partner_id: int,
    db: DbSession,
    store: EventStoreDep,
    alerts: AlertStoreDep,
    clock: ClockDep,
    templates: Templates,
    user: Dpo,
) -> Response:
    return _evidence(partner_id, "pdf", db, store, alerts, clock, templates)
