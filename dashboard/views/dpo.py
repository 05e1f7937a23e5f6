"""DPO area: breach register and history, clocks by deadline, report drafts, letters.

Breach pages can name residents (facts, letters), so every read is audited; letter previews
carry names and addresses and need a stated purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.clock import Clock
from core.config import Settings
from core.errors import NotFoundError, ValidationError
from core.privacy.service import audit_read, pseudonyms_in, require_purpose
from dashboard.deps import (
    AppSettings,
    ClockDep,
    DbSession,
    Principal,
    PseudonymiserDep,
    RequireRole,
    Templates,
    WriteDb,
)
from dashboard.security import Forbidden
from dashboard.services.dpo import breach_view, jsonable
from dashboard.services.dpo_words import STATES, time_left
from dashboard.views.writes import begin_write
from playbooks.breach.service import (
    all_deadlines,
    approve_letter_batch,
    awaiting,
    breach_for_incident,
    get_batch,
    identification_status,
    identify_recipient,
    list_breaches,
    list_requests,
    preview_letters,
    recipients,
)

router = APIRouter(tags=["dpo"])
Dpo = Annotated[Principal, Depends(RequireRole(Role.DPO))]
CLOCK_ROLES = (Role.DPO, Role.INCIDENT_MANAGER, Role.CRISIS_TEAM)
ClockReader = Annotated[Principal, Depends(RequireRole(*CLOCK_ROLES))]


class BreachOut(BaseModel):
    """A register entry as listed; `exercise` marks OEFENING/EXERCISE entries."""

    id: int
    reference: str
    title: str
    state: str
    aware_at: str
    exercise: bool


class DeadlineOut(BaseModel):
    """One clock of one breach; `status` overdue is what the DPO must act on first."""

    breach_id: int
    reference: str
    exercise: bool
    clock: str
    label: str
    due_at: str
    status: str


class BreachDetailOut(BaseModel):
    """A breach with its change history, report drafts (with missing fields) and letters."""

    breach: BreachOut
    fields: dict[str, Any]
    history: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    letter_batches: list[dict[str, Any]]


def _breach_out(breach: Any) -> BreachOut:
    return BreachOut(
        id=breach.id,
        reference=breach.reference,
        title=breach.title,
        state=breach.state,
        aware_at=breach.aware_at.isoformat(),
        exercise=breach.exercise_id is not None,
    )


def _deadlines(db: DbSession, clock: ClockDep, settings: AppSettings) -> list[DeadlineOut]:
    return [
        DeadlineOut(
            breach_id=d.breach_id,
            reference=d.reference,
            exercise=d.exercise,
            clock=d.clock,
            label=d.label,
            due_at=d.due_at.isoformat(),
            status=d.status,
        )
        for d in all_deadlines(db=db, clock=clock, settings=settings)
    ]


@router.get("/dpo/breaches", response_class=HTMLResponse, summary="Breach register (page)")
def breaches_page(request: Request, db: DbSession, templates: Templates, user: Dpo) -> HTMLResponse:
    items = [_breach_out(b) for b in list_breaches(db=db)]
    return templates.TemplateResponse(request, "dpo_breaches.html", {"breaches": items})


@router.get("/api/breaches", response_model=list[BreachOut], summary="Breach register")
def breaches_api(db: DbSession, user: Dpo) -> list[BreachOut]:
    """Every register entry, newest awareness first; titles only, no personal data."""
    return [_breach_out(b) for b in list_breaches(db=db)]


def _detail(db: DbSession, clock: ClockDep, user: Principal, breach_id: int) -> BreachDetailOut:
    view = breach_view(db=db, breach_id=breach_id)
    b = view.breach
    fields = {
        name: jsonable(getattr(b, name))
        for name in (
            "facts", "cause", "effects", "remedial_actions", "systems", "breach_types",
            "data_categories", "subject_categories", "subjects_min", "subjects_max",
            "decision", "decision_reason", "nis2_applies", "origin", "origin_ref",
        )
    }  # fmt: skip
    subjects = pseudonyms_in(fields)
    audit_read(
        db=db,
        clock=clock,
        principal=user,
        object_type="breach",
        object_id=str(b.id),
        purpose=None,
        subjects=subjects,
    )
    return BreachDetailOut(
        breach=_breach_out(b),
        fields=fields,
        history=[
            {
                "at": c.at.isoformat(),
                "actor": c.actor,
                "action": c.action,
                "field": c.field,
                "before": c.before,
                "after": c.after,
                "note": c.note,
            }
            for c in view.changes
        ],
        reports=[
            {
                "id": r.report.id,
                "kind": r.report.kind,
                "status": r.report.status,
                "missing": r.missing,
            }
            for r in view.reports
        ],
        letter_batches=[
            {"id": x.id, "status": x.status, "approved_by": x.approved_by} for x in view.batches
        ],
    )


_MEDIA = {".csv": "text/csv; charset=utf-8", ".pdf": "application/pdf"}


def audited_download(
    *,
    db: Session,
    clock: Clock,
    user: Principal,
    object_type: str,
    object_id: str | None,
    filename: str,
    build: Callable[[], Any],
) -> Response:
    """The DPO's exports, one way: audit the read, build the file, send it as an attachment.

    The media type follows the file name: `.csv`, `.pdf`, or `.json` (then `build` returns a
    JSON-able value).
    """
    audit_read(
        db=db, clock=clock, principal=user, object_type=object_type, object_id=object_id,
        purpose=None,
    )  # fmt: skip
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if filename.endswith(".json"):
        return JSONResponse(build(), headers=headers)
    return Response(build(), media_type=_MEDIA[filename[filename.rindex(".") :]], headers=headers)


def require_linked_incident(*, db: DbSession, user: Principal, incident_id: str) -> None:
    """Least privilege: the DPO reads an incident only when a breach is linked to it."""
    if user.role != Role.DPO:
        return
    linked = incident_id.isdigit() and len(incident_id) <= 12
    if not linked or breach_for_incident(db=db, incident_id=int(incident_id)) is None:
        raise Forbidden("the DPO reads only incidents linked to a breach")


def _breach_id(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise NotFoundError(f"breach {value!r} does not exist")
    return int(value)


@router.get("/api/breaches/{breach_id}", response_model=BreachDetailOut, summary="Breach")
def breach_api(breach_id: str, db: DbSession, clock: ClockDep, user: Dpo) -> BreachDetailOut:
    """A register entry with its history, drafts (missing fields) and letter batches; audited."""
    return _detail(db, clock, user, _breach_id(breach_id))


@router.get("/dpo/clocks", response_class=HTMLResponse, summary="Breach clocks (page)")
def clocks_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: ClockReader,
) -> HTMLResponse:
    items = _deadlines(db, clock, settings)
    # Overdue first (red), then soonest; each with the time left in hours and minutes.
    items.sort(key=lambda d: (d.status != "overdue", d.due_at))
    now = clock.now()
    left = [time_left(datetime.fromisoformat(d.due_at), now) for d in items]
    requests = [
        (r, time_left(r.due_at, now)) for r in list_requests(db=db, open_only=True)
    ] if user.role == Role.DPO else []  # fmt: skip
    overdue = sum(1 for d in items if d.status == "overdue")
    overdue += sum(1 for _, t in requests if t.tone == "red")
    states = {b.id: STATES.get(b.state, b.state) for b in list_breaches(db=db)}
    return templates.TemplateResponse(
        request,
        "dpo_clocks.html",
        {"deadlines": list(zip(items, left, strict=True)), "overdue": overdue,
         "requests": requests, "states": states},
    )  # fmt: skip


@router.get("/api/breach-clocks", response_model=list[DeadlineOut], summary="Breach clocks")
def clocks_api(
    db: DbSession, clock: ClockDep, settings: AppSettings, user: ClockReader
) -> list[DeadlineOut]:
    """Open and overdue deadlines of every breach, soonest first."""
    return _deadlines(db, clock, settings)


async def _text_form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str) and k != "csrf_token"}


@router.get(
    "/dpo/letters/{batch_id}", response_class=HTMLResponse, summary="Letters preview (page)"
)
def letters_page(
    batch_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
    purpose: str | None = None,
) -> HTMLResponse:
    return render_letters(
        request, db=db, clock=clock, settings=settings, templates=templates, user=user,
        batch_id=_breach_id(batch_id), purpose=purpose,
    )  # fmt: skip


def render_letters(
    request: Request,
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    templates: Any,
    user: Principal,
    batch_id: int,
    purpose: str | None,
    error: ValidationError | None = None,
    form: dict[str, str] | None = None,
    recipient_id: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The letters of a batch, and the residents still to identify with their forms."""
    batch = get_batch(db=db, batch_id=batch_id)
    people = recipients(db=db, batch_id=batch_id)
    # Names and addresses: always ask why, whether or not the letters carry pseudonyms.
    clean = require_purpose(purpose, [r.identifier for r in people])
    letters = preview_letters(db=db, clock=clock, settings=settings, batch_id=batch_id)
    audit_read(
        db=db,
        clock=clock,
        principal=user,
        object_type="breach_letters",
        object_id=str(batch_id),
        purpose=clean,
        subjects=[r.pseudonym for r in people if r.pseudonym],
    )
    context = {
        "batch": batch,
        "letters": letters,
        "purpose": clean,
        "waiting": awaiting(people),
        "status": identification_status(db=db, clock=clock, batch_id=batch_id),
        "error": error,
        "form": form or {},
        "recipient_id": recipient_id,
    }
    return templates.TemplateResponse(request, "dpo_letters.html", context, status_code=status_code)


@router.post(
    "/dpo/letters/{batch_id}/recipients/{recipient_id}/identify",
    summary="Identify an affected resident for a letter (form)",
)
def letters_identify(
    batch_id: str,
    recipient_id: str,
    request: Request,
    form: Annotated[dict[str, str], Depends(_text_form)],
    db: WriteDb,
    clock: ClockDep,
    settings: AppSettings,
    pseudonymiser: PseudonymiserDep,
    templates: Templates,
    user: Dpo,
) -> Response:
    """Verify the BSN looked up in the BRP against the pseudonym; keep name and address.

    A wrong BSN is shown next to the field and still counts as an attempt (committed, since
    attempts are capped); the BSN is never echoed back, stored or logged.
    """
    number, person = _breach_id(batch_id), _breach_id(recipient_id)
    purpose = form.get("purpose") or "Brieven controleren / review letters"
    try:
        outcome = identify_recipient(
            db=db, clock=clock, actor=user.username, batch_id=number, recipient_id=person,
            candidate_bsn=form.get("bsn", ""), pseudonymiser=pseudonymiser,
            details=form,
        )  # fmt: skip
        problem = None if outcome.matched else ValidationError(
            "bsn", "this BSN is not the resident behind the pseudonym; check the BRP"
        )  # fmt: skip
    except ValidationError as exc:
        problem = exc
    if problem is not None:
        kept = {k: v for k, v in form.items() if k != "bsn"}
        return render_letters(
            request, db=db, clock=clock, settings=settings, templates=templates, user=user,
            batch_id=number, purpose=purpose, error=problem, form=kept, recipient_id=person,
            status_code=422,
        )  # fmt: skip
    return RedirectResponse(
        f"/dpo/letters/{number}?purpose={quote(purpose)}#waiting", status_code=303
    )


@router.post("/dpo/letters/{batch_id}/approve", summary="Approve letters (form)")
def letters_approve(batch_id: str, db: DbSession, clock: ClockDep, user: Dpo) -> Response:
    begin_write(db)
    account = db.get(User, user.user_id)
    if account is None:
        raise NotFoundError("your account no longer exists")
    batch = approve_letter_batch(db=db, clock=clock, dpo=account, batch_id=_breach_id(batch_id))
    db.commit()
    return RedirectResponse(f"/dpo/breaches/{batch.breach_id}", status_code=303)
