"""The DPO's register of residents' requests (access, rectification, erasure) and their clocks.

The BSN is asked, checked (11-test) and turned into the resident's pseudonym; only the
pseudonym is kept. An invalid BSN comes back next to its field with the rest of the form kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.privacy.service import audit_read, pseudonym_of
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    PseudonymiserDep,
    Templates,
    WriteDb,
)
from dashboard.security import Principal
from dashboard.services import dpo_words as words
from dashboard.views.dpo import Dpo, _breach_id, audited_download
from dashboard.views.dpo_work import Form, _try
from playbooks.breach import service as register

router = APIRouter(tags=["dpo"])


def _render(
    request: Request,
    *,
    db: Session,
    clock: Any,
    settings: Any,
    templates: Any,
    user: Principal,
    error: ValidationError | None = None,
    form: dict[str, str] | None = None,
    target: str = "new",
) -> HTMLResponse:
    rows = register.list_requests(db=db)
    audit_read(
        db=db, clock=clock, principal=user, object_type="resident_requests", object_id=None,
        purpose=None, subjects=[r.pseudonym for r in rows],
    )  # fmt: skip
    now = clock.now()
    context = {
        "rows": [(r, words.time_left(r.due_at, now) if r.is_open else None) for r in rows],
        "kinds": register.REQUEST_KINDS,
        "show": lambda m: words.show_time(m, settings),
        "error": error,
        "form": form or {},
        "target": target,
    }
    status = 422 if error is not None else 200
    return templates.TemplateResponse(request, "dpo_requests.html", context, status_code=status)


@router.get("/dpo/requests", response_class=HTMLResponse, summary="Residents' requests (page)")
def requests_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> HTMLResponse:
    return _render(request, db=db, clock=clock, settings=settings, templates=templates, user=user)


@router.post("/dpo/requests", summary="Record a resident's request (form)")
def record_request(
    request: Request,
    form: Form,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    pseudonymiser: PseudonymiserDep,
    templates: Templates,
    user: Dpo,
) -> Response:
    """The BSN is checked and pseudonymised here; it is not stored and not shown again."""
    result = _try(
        db,
        lambda: register.record_request(
            db=db, clock=clock, settings=settings, actor=user.username,
            kind=form.get("kind", ""), requester=form.get("requester", ""),
            pseudonym=pseudonym_of(pseudonymiser, form.get("bsn", "")),
        ),
    )  # fmt: skip
    if isinstance(result, ValidationError):
        kept = {k: v for k, v in form.items() if k != "bsn"} | {"bsn": form.get("bsn", "")}
        return _render(
            request, db=db, clock=clock, settings=settings, templates=templates, user=user,
            error=result, form=kept,
        )  # fmt: skip
    return RedirectResponse("/dpo/requests", status_code=303)


def _act(
    request: Request,
    request_id: str,
    form: dict[str, str],
    db: Session,
    clock: Any,
    settings: Any,
    templates: Any,
    user: Principal,
    work: Any,
) -> Response:
    number = _breach_id(request_id)
    result = _try(db, lambda: work(number))
    if isinstance(result, ValidationError):
        return _render(
            request, db=db, clock=clock, settings=settings, templates=templates, user=user,
            error=result, form=form, target=str(number),
        )  # fmt: skip
    return RedirectResponse("/dpo/requests", status_code=303)


@router.post("/dpo/requests/{request_id}/extend", summary="Extend a request by 2 months (form)")
def extend_request(
    request_id: str,
    request: Request,
    form: Form,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> Response:
    def work(number: int) -> Any:
        return register.extend_request(
            db=db, settings=settings, request_id=number, reason=form.get("reason", "")
        )

    return _act(request, request_id, form, db, clock, settings, templates, user, work)


@router.post("/dpo/requests/{request_id}/answer", summary="Record the answer sent (form)")
def answer_request(
    request_id: str,
    request: Request,
    form: Form,
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> Response:
    def work(number: int) -> Any:
        return register.answer_request(
            db=db, clock=clock, request_id=number, answer=form.get("answer", "")
        )

    return _act(request, request_id, form, db, clock, settings, templates, user, work)


@router.get("/dpo/requests.csv", summary="Residents' requests register as CSV")
def requests_csv(db: DbSession, clock: ClockDep, settings: AppSettings, user: Dpo) -> Response:
    """Every request with its deadline, extension and answer (no BSN, no pseudonym)."""
    return audited_download(
        db=db, clock=clock, user=user, object_type="resident_requests", object_id=None,
        filename="verzoekenregister.csv",
        build=lambda: register.requests_csv(db=db, settings=settings),
    )  # fmt: skip


@router.get("/dpo/requests.pdf", summary="Residents' requests register as PDF")
def requests_pdf(db: DbSession, clock: ClockDep, settings: AppSettings, user: Dpo) -> Response:
    """The register as a PDF table for the DPO's records (no BSN, no pseudonym)."""
    return audited_download(
        db=db, clock=clock, user=user, object_type="resident_requests", object_id=None,
        filename="verzoekenregister.pdf",
        build=lambda: register.requests_pdf(db=db, clock=clock, settings=settings),
    )  # fmt: skip
