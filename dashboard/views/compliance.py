"""BIO2 compliance pages for the auditor (and the DPO and admin): measures, evidence, report,
the signed evidence package. Read-only; every page view and download is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from compliance import service
from core.accounts.models import Role
from core.privacy.service import audit_read
from dashboard.deps import AppSettings, ClockDep, DbSession, Principal, RequireRole, Templates
from dashboard.i18n import current_language

router = APIRouter(tags=["compliance"])
READERS = (Role.AUDITOR, Role.DPO, Role.ADMIN)
Reader = Annotated[Principal, Depends(RequireRole(*READERS))]
Year = Annotated[int | None, Query(description="Reporting year; default: this year.")]


@router.get(
    "/compliance/{framework}", response_class=HTMLResponse, summary="Measures and status (page)"
)
def measures_page(
    framework: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Reader,
) -> Response:
    """Every measure of the newest catalogue edition with its last status and why."""
    catalogue, views = service.measure_views(db=db, framework=framework)
    audit_read(
        db=db, clock=clock, principal=user, object_type="compliance",
        object_id=f"{catalogue.framework}:{catalogue.edition}", purpose=None,
    )  # fmt: skip
    counts = {s: sum(1 for v in views if v.status == s) for s in service.STATUSES}
    context = {
        "catalogue": catalogue,
        "views": views,
        "counts": counts,
        "lang": current_language(),
        "year": clock.now().year,
    }
    return templates.TemplateResponse(request, "compliance.html", context)


@router.get(
    "/compliance/{framework}/measures/{measure_id}",
    response_class=HTMLResponse,
    summary="One measure with its evidence (page)",
)
def measure_page(
    framework: str,
    measure_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Reader,
) -> Response:
    """What was checked, when, by what, the result, ENSIA, and every evidence item's hash."""
    catalogue, view = service.measure_view(db=db, framework=framework, measure_id=measure_id)
    audit_read(
        db=db, clock=clock, principal=user, object_type="compliance_measure",
        object_id=f"{catalogue.framework}:{measure_id}", purpose=None,
    )  # fmt: skip
    context = {"catalogue": catalogue, "v": view, "lang": current_language()}
    return templates.TemplateResponse(request, "compliance_measure.html", context)


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    disposition = "inline" if media_type.startswith("text/html") else "attachment"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


@router.get("/compliance/{framework}/report", summary="The report (html, pdf or csv; nl or en)")
def report_download(
    framework: str,
    db: DbSession,
    clock: ClockDep,
    user: Reader,
    year: Year = None,
    format: Annotated[str, Query(description="html, pdf or csv")] = "pdf",
    lang: Annotated[str, Query(description="nl or en")] = "nl",
) -> Response:
    """The report per measure: checked what, when, by what, the result, ENSIA."""
    chosen = year or clock.now().year
    report = service.build_report(
        db=db, clock=clock, framework=framework, year=chosen, fmt=format, lang=lang,
        actor=user.username,
    )  # fmt: skip
    audit_read(
        db=db, clock=clock, principal=user, object_type="compliance_report",
        object_id=f"{framework}:{chosen}", purpose=None, details={"format": format, "lang": lang},
    )  # fmt: skip
    return _attachment(report.content, report.media_type, report.filename)


@router.get("/compliance/{framework}/package", summary="Evidence package (signed ZIP)")
def package_download(
    framework: str,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    user: Reader,
    year: Year = None,
) -> Response:
    """PDF reports, evidence files and a manifest signed with the platform key."""
    chosen = year or clock.now().year
    package = service.evidence_package(
        db=db, clock=clock, settings=settings, framework=framework, year=chosen,
        actor=user.username,
    )  # fmt: skip
    audit_read(
        db=db, clock=clock, principal=user, object_type="compliance_package",
        object_id=f"{framework}:{chosen}", purpose=None,
        details={"files": len(package.manifest), "manifest_sha256": package.manifest_sha256},
    )  # fmt: skip
    return _attachment(package.zip, "application/zip", f"{framework}-{chosen}-bewijspakket.zip")
