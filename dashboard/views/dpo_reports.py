"""The DPO's report editor: every question of the AP (or NIS2/Cbw) form, what is missing,
finalise (frozen, hashed), follow-ups, PDF and JSON exports; and releasing approved letters.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.privacy.service import audit_read
from dashboard.deps import AppSettings, ClockDep, DbSession, Templates, WriteDb
from dashboard.security import Principal
from dashboard.services import dpo as svc
from dashboard.services import dpo_words as words
from dashboard.views.dpo import Dpo, _breach_id, audited_download
from dashboard.views.dpo_work import Form, _account, _try
from playbooks.breach import service as breach

router = APIRouter(tags=["dpo"])


def _render(
    request: Request,
    *,
    db: Session,
    clock: Any,
    settings: Any,
    templates: Any,
    user: Principal,
    report_id: int,
    error: ValidationError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    report = breach.get_report(db=db, report_id=report_id)
    b = breach.get_breach(db=db, breach_id=report.breach_id)
    audit_read(
        db=db, clock=clock, principal=user, object_type="breach_report",
        object_id=str(report.id), purpose=None,
    )  # fmt: skip
    specs = breach.specs_for(report.kind)
    given = form or {}
    fields = [
        {
            "spec": spec,
            "value": given.get(spec.path)
            if spec.path in given
            else svc.form_value(spec, report.content.get(spec.section, {}).get(spec.key), settings),
        }
        for spec in specs
    ]
    context = {
        "report": report,
        "b": b,
        "fields": fields,
        "missing": breach.missing(report.kind, report.content),
        "sha256": breach.content_sha256(report) if report.status != "draft" else None,
        "followups": breach.followups(db=db, report_id=report.id),
        "deadline": svc.report_deadline(
            db=db, clock=clock, settings=settings, report=report, breach=b
        ),
        "show": lambda m: words.show_time(m, settings),
        "error": error,
    }
    status = 422 if error is not None else 200
    return templates.TemplateResponse(request, "dpo_report.html", context, status_code=status)


@router.post("/dpo/reports/{report_id}", summary="Save report answers (form)")
def report_save(
    report_id: str,
    request: Request,
    form: Form,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> Response:
    """Save every answer; unknown or badly typed answers come back next to their question."""
    number = _breach_id(report_id)
    action = form.pop("action", "save")

    def work() -> Any:
        report = breach.get_report(db=db, report_id=number)
        changes = svc.report_changes(breach.specs_for(report.kind), form, settings)
        update = (
            breach.update_notification
            if report.kind.startswith("ap_")
            else breach.update_nis2_report
        )
        update(db=db, clock=clock, actor=user.username, report_id=number, changes=changes)
        if action == "finalise":
            finalise = (
                breach.finalise_notification
                if report.kind.startswith("ap_")
                else breach.finalise_nis2_report
            )
            finalise(
                db=db, clock=clock, settings=settings, dpo=_account(db, user), report_id=number
            )
        return report

    result = _try(db, work)
    if isinstance(result, ValidationError):
        return _render(
            request, db=db, clock=clock, settings=settings, templates=templates, user=user,
            report_id=number, error=result, form=form,
        )  # fmt: skip
    return RedirectResponse(f"/dpo/reports/{number}", status_code=303)


@router.post("/dpo/reports/{report_id}/follow-up", summary="Follow-up notification (form)")
def report_followup(
    report_id: str,
    request: Request,
    form: Form,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> Response:
    number = _breach_id(report_id)
    result = _try(
        db,
        lambda: breach.create_followup(
            db=db, clock=clock, actor=user.username, report_id=number,
            purpose=form.get("purpose", "aanvulling"),
        ),
    )  # fmt: skip
    if isinstance(result, ValidationError):
        return _render(
            request, db=db, clock=clock, settings=settings, templates=templates, user=user,
            report_id=number, error=result,
        )  # fmt: skip
    return RedirectResponse(f"/dpo/reports/{result.id}", status_code=303)


@router.get("/dpo/reports/{report_id}.pdf", summary="Report as PDF")
def report_pdf(
    report_id: str, db: DbSession, clock: ClockDep, settings: AppSettings, user: Dpo
) -> Response:
    """The report with every section, what is missing, and its SHA-256 (exercises watermarked)."""
    number = _breach_id(report_id)
    return audited_download(
        db=db, clock=clock, user=user, object_type="breach_report", object_id=str(number),
        filename=f"melding-{number}.pdf",
        build=lambda: breach.report_pdf(
            db=db, clock=clock, settings=settings, report_id=number, lang="nl"
        ),
    )  # fmt: skip


@router.get("/dpo/reports/{report_id}.json", summary="Report as JSON")
def report_json(
    report_id: str, db: DbSession, clock: ClockDep, settings: AppSettings, user: Dpo
) -> Response:
    """The report's answers with its SHA-256; exercises are marked and never `real`."""
    number = _breach_id(report_id)
    return audited_download(
        db=db, clock=clock, user=user, object_type="breach_report", object_id=str(number),
        filename=f"melding-{number}.json",
        build=lambda: breach.report_json(db=db, clock=clock, settings=settings, report_id=number),
    )  # fmt: skip


@router.post("/dpo/letters/{batch_id}/release", summary="Release approved letters (form)")
def letters_release(
    batch_id: str, db: WriteDb, clock: ClockDep, settings: AppSettings, user: Dpo
) -> Response:
    """Queue approved letters; the `breach.send_letters` task e-mails them (or files PDFs)."""
    number = _breach_id(batch_id)
    batch = breach.get_batch(db=db, batch_id=number)
    breach.release_letter_batch(
        db=db, clock=clock, settings=settings, actor=user.username, batch_id=number
    )
    return RedirectResponse(f"/dpo/breaches/{batch.breach_id}#letters", status_code=303)


@router.get("/dpo/register.csv", summary="Art. 33(5) register as CSV")
def register_csv(db: DbSession, clock: ClockDep, settings: AppSettings, user: Dpo) -> Response:
    """Every breach, reported or not, with the decision and its reason (Art. 33(5))."""
    return audited_download(
        db=db, clock=clock, user=user, object_type="breach_register", object_id=None,
        filename="datalekregister.csv",
        build=lambda: breach.register_csv(db=db, settings=settings),
    )  # fmt: skip


@router.get("/dpo/register.pdf", summary="Art. 33(5) register as PDF")
def register_pdf(db: DbSession, clock: ClockDep, settings: AppSettings, user: Dpo) -> Response:
    """The register's key columns as a PDF for the DPO's records."""
    return audited_download(
        db=db, clock=clock, user=user, object_type="breach_register", object_id=None,
        filename="datalekregister.pdf",
        build=lambda: breach.register_pdf(db=db, clock=clock, settings=settings),
    )  # fmt: skip


# Last: `{report_id}` would otherwise swallow the `.pdf` and `.json` exports above.
@router.get("/dpo/reports/{report_id}", response_class=HTMLResponse, summary="Report (page)")
def report_page(
    report_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> HTMLResponse:
    return _render(
        request, db=db, clock=clock, settings=settings, templates=templates, user=user,
        report_id=_breach_id(report_id),
    )  # fmt: skip
