"""The DPO's breach journey as pages: open, facts, assess, decide, draft, finalise, letters, close.

Views parse the form, call one breach service and redirect back to the breach page; a
refused input re-renders the page with the error next to its field and the typed text kept.
Each write runs in a savepoint of the view's write unit, so a refusal leaves nothing behind.
The same steps answer JSON under `/api/breaches` (same fields; a refusal is HTTP 400 naming
the field, and the unit rolls back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi import Body as Body_
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.errors import NotFoundError, ValidationError
from core.privacy.service import audit_read
from dashboard.deps import (
    AlertStoreDep,
    AppSettings,
    ClockDep,
    DbSession,
    EventStoreDep,
    Templates,
    WriteDb,
)
from dashboard.security import Principal
from dashboard.services import dpo as svc
from dashboard.services import dpo_words as words
from dashboard.views.dpo import Dpo, _breach_id
from playbooks.breach import service as breach

router = APIRouter(tags=["dpo"])
T = TypeVar("T")


async def _form(request: Request) -> dict[str, str]:
    """The posted form as plain strings (files are not accepted here)."""
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str) and k != "csrf_token"}


Form = Annotated[dict[str, str], Depends(_form)]


def _account(db: Session, user: Principal) -> User:
    account = db.get(User, user.user_id)
    if account is None:
        raise NotFoundError("your account no longer exists")
    return account


def _try(db: Session, work: Callable[[], T]) -> T | ValidationError:
    """Run `work` in a savepoint; a ValidationError undoes it and is returned, not raised."""
    try:
        with db.begin_nested():
            return work()
    except ValidationError as problem:
        return problem


def render_breach(
    request: Request,
    *,
    db: Session,
    alerts: Any,
    events: Any,
    clock: Any,
    settings: Any,
    templates: Any,
    user: Principal,
    breach_id: int,
    error: ValidationError | None = None,
    form: dict[str, str] | None = None,
    section: str = "",
) -> HTMLResponse:
    """The breach page: every step of the journey, with the error of the last one if any."""
    view = svc.breach_view(db=db, breach_id=breach_id)
    b = view.breach
    incident = svc.linked_incident(db=db, alerts=alerts, breach=b)
    subjects = breach.affected_subjects(db=db, alerts=alerts, events=events, breach_id=b.id)
    audit_read(
        db=db, clock=clock, principal=user, object_type="breach", object_id=str(b.id),
        purpose=None, subjects=sorted({*subjects, *(incident.pseudonyms if incident else [])}),
    )  # fmt: skip
    now = clock.now()
    deadlines = [
        (d, words.time_left(d.due_at, now))
        for d in breach.deadlines(db=db, clock=clock, settings=settings, breach_id=b.id)
        if d.status in ("open", "overdue")
    ]
    context = {
        "b": b,
        "view": view,
        "incident": incident,
        "history": [
            words.sentence(c, settings, templates.env.filters["translate"]) for c in view.changes
        ],
        "outcome": (b.assessment or {}).get("outcome"),
        "answers": (b.assessment or {}).get("answers", {}),
        "deadlines": deadlines,
        "words": words,
        "show": lambda m: words.show_time(m, settings),
        "error": error,
        "form": form or {},
        "section": section,
        "nis2_kinds": breach.NIS2_KINDS,
        "subjects": subjects,
        "delivery": {
            x.id: _counts(r.delivery_status for r in breach.recipients(db=db, batch_id=x.id))
            for x in view.batches
        },
    }
    status = 422 if error is not None else 200
    return templates.TemplateResponse(request, "dpo_breach.html", context, status_code=status)


def _counts(states: Iterable[str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in states:
        counts[state or "wacht / waiting"] = counts.get(state or "wacht / waiting", 0) + 1
    return counts


def _back(breach_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/dpo/breaches/{breach_id}{anchor}", status_code=303)


@router.get("/dpo/breaches/new", response_class=HTMLResponse, summary="Open a breach (form)")
def new_breach_page(request: Request, templates: Templates, user: Dpo) -> HTMLResponse:
    return templates.TemplateResponse(request, "dpo_breach_new.html", {"form": {}, "error": None})


def _open(
    db: Session, alerts: Any, clock: Any, settings: Any, user: Principal, form: dict[str, str]
) -> Any:
    """Open by hand, for an incident number (its alerts then show) or for one alert."""
    incident = form.get("incident_id", "").strip()
    alert = form.get("alert_id", "").strip()
    if alert:
        try:
            return breach.open_from_alert(
                db=db, clock=clock, settings=settings, actor=user.username, alerts=alerts,
                alert_id=alert,
            )  # fmt: skip
        except NotFoundError:
            raise ValidationError("alert_id", f"alert {alert!r} does not exist") from None
    if incident:
        if not incident.isdigit():
            raise ValidationError("incident_id", f"{incident!r} is not an incident number")
        return breach.open_for_incident(
            db=db, clock=clock, settings=settings, actor=user.username,
            incident_id=int(incident), title=form.get("title", ""),
        )  # fmt: skip
    return breach.open_breach(
        db=db, clock=clock, settings=settings, actor=user.username,
        title=form.get("title", "").strip(), fields=svc.breach_changes(
            {k: v for k, v in form.items() if k in ("facts",)}
        ),
    )  # fmt: skip


@router.post("/dpo/breaches", summary="Open a breach (form)")
def open_breach(
    request: Request,
    form: Form,
    db: WriteDb,
    alerts: AlertStoreDep,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> Response:
    """By hand, for an incident number (its alerts then show) or for one alert."""
    result = _try(db, lambda: _open(db, alerts, clock, settings, user, form))
    if isinstance(result, ValidationError):
        return templates.TemplateResponse(
            request, "dpo_breach_new.html", {"form": form, "error": result}, status_code=422
        )
    return _back(result.id)


@router.get("/dpo/breaches/{breach_id}", response_class=HTMLResponse, summary="Breach (page)")
def breach_page(
    breach_id: str,
    request: Request,
    db: DbSession,
    alerts: AlertStoreDep,
    events: EventStoreDep,
    clock: ClockDep,
    settings: AppSettings,
    templates: Templates,
    user: Dpo,
) -> HTMLResponse:
    return render_breach(
        request, db=db, alerts=alerts, events=events, clock=clock, settings=settings,
        templates=templates, user=user, breach_id=_breach_id(breach_id),
    )  # fmt: skip


def _step(
    section: str,
    action: Callable[[Session, Any, Any, Principal, int, dict[str, str]], Any],
) -> Callable[..., Response]:
    """A POST view for one step of the breach page: run `action`, or show its error in place."""

    def view(
        breach_id: str,
        request: Request,
        form: Form,
        db: WriteDb,
        alerts: AlertStoreDep,
        events: EventStoreDep,
        clock: ClockDep,
        settings: AppSettings,
        templates: Templates,
        user: Dpo,
    ) -> Response:
        number = _breach_id(breach_id)
        result = _try(db, lambda: action(db, clock, settings, user, number, form))
        if isinstance(result, ValidationError):
            return render_breach(
                request, db=db, alerts=alerts, events=events, clock=clock, settings=settings,
                templates=templates, user=user, breach_id=number, error=result, form=form,
                section=section,
            )  # fmt: skip
        if isinstance(result, str):
            return RedirectResponse(result, status_code=303)
        return _back(number, f"#{section}")

    return view


def _facts(db: Session, clock: Any, settings: Any, user: Principal, bid: int, form: dict) -> None:
    breach.update_breach(
        db=db, clock=clock, settings=settings, actor=user.username, breach_id=bid,
        changes=svc.breach_changes(form), note=form.get("note", ""),
    )  # fmt: skip


def _assess(db: Session, clock: Any, settings: Any, user: Principal, bid: int, form: dict) -> None:
    current = breach.get_breach(db=db, breach_id=bid)
    if current.state != "assessing":
        breach.start_assessment(
            db=db, clock=clock, actor=user.username, breach_id=bid,
            note=form.get("reassess_reason", ""),
        )  # fmt: skip
    breach.record_assessment(
        db=db, clock=clock, actor=user.username, breach_id=bid,
        answers=svc.assessment_answers(form),
    )  # fmt: skip


def _decide(db: Session, clock: Any, settings: Any, user: Principal, bid: int, form: dict) -> None:
    if form.get("decision") == "not_a_breach":
        breach.mark_not_a_breach(
            db=db, clock=clock, actor=user.username, breach_id=bid, reason=form.get("reason", "")
        )
        return
    breach.decide(
        db=db, clock=clock, dpo=_account(db, user), breach_id=bid,
        decision=form.get("decision", ""), reason=form.get("reason", ""),
    )  # fmt: skip


def _draft(db: Session, clock: Any, settings: Any, user: Principal, bid: int, form: dict) -> str:
    kind = form.get("kind", "ap_initial")
    if kind == "ap_initial":
        report = breach.draft_notification(
            db=db, clock=clock, settings=settings, actor=user.username, breach_id=bid
        )
    else:
        report = breach.draft_nis2_report(
            db=db, clock=clock, settings=settings, actor=user.username, breach_id=bid, kind=kind
        )
    return f"/dpo/reports/{report.id}"


def _letters(db: Session, clock: Any, settings: Any, user: Principal, bid: int, form: dict) -> str:
    """From the affected residents (identified through re-identification) or a CSV list."""
    texts = {
        lang: {key: form.get(f"{lang}_{key}", "") for key in breach.LETTER_TEXT_KEYS}
        for lang in ("nl", "en")
    }
    if form.get("source", "csv") == "subjects":
        chosen = [k.removeprefix("subject_") for k in form if k.startswith("subject_")]
        batch = breach.create_batch_for_subjects(
            db=db, clock=clock, actor=user.username, actor_role=user.role, breach_id=bid,
            subjects=chosen, texts=texts,
        )  # fmt: skip
        return f"/dpo/letters/{batch.id}?purpose=Brieven+controleren+%2F+review+letters#waiting"
    batch = breach.create_letter_batch(
        db=db, clock=clock, actor=user.username, breach_id=bid,
        recipients_csv=form.get("recipients", ""), texts=texts,
    )  # fmt: skip
    return f"/dpo/letters/{batch.id}?purpose=Brieven+controleren+%2F+review+letters"


def _close(db: Session, clock: Any, settings: Any, user: Principal, bid: int, form: dict) -> None:
    remedial = form.get("remedial_actions", "").strip()
    if remedial:
        breach.update_breach(
            db=db, clock=clock, settings=settings, actor=user.username, breach_id=bid,
            changes={"remedial_actions": remedial},
        )  # fmt: skip
    lessons = form.get("lessons", "").strip()
    if not lessons:
        raise ValidationError("lessons", "write down the lessons learned before closing")
    breach.close_breach(
        db=db, clock=clock, actor=user.username, breach_id=bid, note=f"Lessen / lessons: {lessons}"
    )


for _path, _section, _action, _summary in (
    ("facts", "facts", _facts, "Change the facts of a breach (form)"),
    ("assessment", "assessment", _assess, "Record the risk assessment (form)"),
    ("decision", "decision", _decide, "Decide on notification (form)"),
    ("reports", "reports", _draft, "Draft an AP or NIS2/Cbw report (form)"),
    ("letters", "letters", _letters, "Create a letter batch (form)"),
    ("close", "close", _close, "Close a breach with lessons learned (form)"),
):
    router.add_api_route(
        f"/dpo/breaches/{{breach_id}}/{_path}",
        _step(_section, _action),
        methods=["POST"],
        summary=_summary,
        name=f"breach_{_path}",
    )


# --- the same steps as a JSON API ----------------------------------------------------------


def _as_text(value: object) -> str:
    """A JSON value as the page's form would carry it (lists comma-separated, booleans 1/'')."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _api_out(db: Session, breach_id: int, follow: object) -> dict[str, Any]:
    b = breach.get_breach(db=db, breach_id=breach_id)
    return {
        "breach": {"id": b.id, "reference": b.reference, "title": b.title, "state": b.state,
                   "decision": b.decision, "exercise": b.exercise_id is not None},
        "next": follow if isinstance(follow, str) else None,
    }  # fmt: skip


Body = Annotated[dict[str, Any], Body_(default_factory=dict)]


@router.post("/api/breaches", summary="Open a breach (JSON)")
def open_breach_api(
    body: Body,
    db: WriteDb,
    alerts: AlertStoreDep,
    clock: ClockDep,
    settings: AppSettings,
    user: Dpo,
) -> dict[str, Any]:
    """By hand (`title`, `facts`), for an incident (`incident_id`) or an alert (`alert_id`).

    Fields are those of the page's form; a refusal is HTTP 400 naming the field.
    """
    form = {key: _as_text(value) for key, value in body.items()}
    opened = _open(db, alerts, clock, settings, user, form)
    return _api_out(db, opened.id, None)


def _api_step(action: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    def view(
        breach_id: str, body: Body, db: WriteDb, clock: ClockDep, settings: AppSettings, user: Dpo
    ) -> dict[str, Any]:
        number = _breach_id(breach_id)
        form = {key: _as_text(value) for key, value in body.items()}
        follow = action(db, clock, settings, user, number, form)
        return _api_out(db, number, follow)

    return view


for _path, _action, _summary in (
    ("facts", _facts, "Change the facts of a breach (JSON)"),
    ("assessment", _assess, "Record the risk assessment (JSON)"),
    ("decision", _decide, "Decide on notification (JSON)"),
    ("reports", _draft, "Draft an AP or NIS2/Cbw report (JSON; `next` is its page)"),
    ("letters", _letters, "Create a letter batch (JSON; `next` is its page)"),
    ("close", _close, "Close a breach with lessons learned (JSON)"),
):
    router.add_api_route(
        f"/api/breaches/{{breach_id}}/{_path}",
        _api_step(_action),
        methods=["POST"],
        summary=_summary,
        name=f"breach_api_{_path}",
    )
