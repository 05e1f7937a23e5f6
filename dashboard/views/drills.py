"""Drills in the dashboard: the live exercise view, reports and public summaries.

Players (crisis team, DPO, analysts, incident managers) see the injects released to their
scenario role as they arrive and record decisions and actions against them; the exercise
controller also sees the controller notes (phone scripts), runs the scenario clock, skips and
adds injects, marks expectations and records lessons. Planning and the calendar are in
`drills_plan`. Every page is marked OEFENING / EXERCISE. Published summaries are public.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.clock import Clock
from core.errors import ValidationError
from dashboard.deps import (
    PUBLIC,
    ClockDep,
    DbSession,
    Principal,
    Templates,
    WriteDb,
)
from dashboard.security import csp_for_inline_styles
from dashboard.views import drills_plan
from dashboard.views.drills_plan import Controller, Player
from dashboard.views.writes import begin_write
from drills import service
from drills.schemas import ROLES

router = APIRouter(tags=["drills"])
# Planning routes first: `/drills/plan` must not be taken for an exercise id.
router.include_router(drills_plan.router)
ControlAction = Literal["start", "pause", "resume", "stop", "advance"]


def _back(exercise_id: str) -> RedirectResponse:
    return RedirectResponse(f"/drills/{exercise_id}", status_code=303)


@router.get(
    "/drills/{exercise_id}/injects",
    response_class=HTMLResponse,
    summary="Injects released to a role so far (fragment for the live page)",
)
def injects_fragment(
    exercise_id: str,
    request: Request,
    db: DbSession,
    templates: Templates,
    user: Player,
    rol: str | None = None,
) -> HTMLResponse:
    exercise = service.get_exercise(db=db, exercise_id=exercise_id)
    loaded = service.get_scenario(exercise.scenario_id)
    role = rol or None
    context = {
        "injects": service.current_injects(
            db=db, exercise_id=exercise_id, loaded=loaded, role=role
        ),
    }
    return templates.TemplateResponse(request, "drills/_injects.html", context)


@router.get("/drills/{exercise_id}", response_class=HTMLResponse, summary="Exercise (page)")
def exercise_page(
    exercise_id: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Player,
    rol: str | None = None,
) -> HTMLResponse:
    context = _exercise_context(db, clock, user, exercise_id, rol)
    return templates.TemplateResponse(request, "drills/exercise.html", context)


def _exercise_context(
    db: Session,
    clock: Clock,
    user: Principal,
    exercise_id: str,
    rol: str | None,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    exercise = service.get_exercise(db=db, exercise_id=exercise_id)
    loaded = service.get_scenario(exercise.scenario_id)
    controller = user.role == Role.EXERCISE_CONTROLLER
    # The player's scenario role comes from the plan (account name); a choice overrides it.
    own_role = service.participant_role(exercise, user.username)
    role = rol if rol is not None else own_role
    role = role or None
    return {
        "exercise": exercise,
        "scenario": loaded.scenario,
        # Not `role`: the base template's context already uses that name for the account's role.
        "play_role": role,
        "own_role": own_role,
        "minute": service.scenario_minutes(exercise, clock.now()),
        "next_minute": service.next_inject_minute(db=db, exercise=exercise, loaded=loaded),
        "injects": service.current_injects(
            db=db, exercise_id=exercise_id, loaded=loaded, role=role
        ),
        "entries": service.entries(db=db, exercise_id=exercise_id),
        "expectations": service.expectations(db=db, exercise_id=exercise_id),
        "is_controller": controller,
        # Phone scripts and the whole MSEL are for the controller only.
        "msel": loaded.scenario.msel if controller else (),
        "open_injects": service.open_injects(db=db, exercise_id=exercise_id, loaded=loaded)
        if controller
        else (),
        "errors": errors or {},
        "values": values or {},
        "role_labels": ROLES,
        "lessons": service.lessons_of(db=db, exercise_id=exercise_id),
        "has_report": service.has_report(db=db, exercise_id=exercise_id),
    }


@router.post("/drills/{exercise_id}/entries", summary="Record a decision or action (form)")
def record_entry(
    exercise_id: str,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Player,
    kind: Annotated[str, Form(max_length=16)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    inject: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    errors: dict[str, str] = {}
    controller = user.role == Role.EXERCISE_CONTROLLER
    if kind == "hotwash" and not controller:
        errors["kind"] = "hot-wash notes are kept by the exercise lead"
    if not role and not controller:
        errors["role"] = "choose the role you record this for: " + ", ".join(ROLES)
    if not text.strip():
        errors["text"] = "describe the decision or action"
    if not errors:
        try:
            prefix = f"[{inject}] " if inject else ""
            service.record_entry(
                db=db,
                clock=clock,
                exercise_id=exercise_id,
                kind=kind,
                text=prefix + text,
                author=user.username,
                role=role or None,
            )
        except ValidationError as exc:
            errors[exc.field] = exc.problem
    if errors:
        values = {"kind": kind, "text": text, "role": role, "inject": inject}
        context = _exercise_context(
            db, clock, user, exercise_id, role or None, errors=errors, values=values
        )
        return templates.TemplateResponse(request, "drills/exercise.html", context, status_code=422)
    return RedirectResponse(f"/drills/{exercise_id}?rol={role}", status_code=303)


@router.post("/drills/{exercise_id}/control", summary="Start, pause, resume, stop, advance")
def control(
    exercise_id: str,
    db: DbSession,
    clock: ClockDep,
    user: Controller,
    action: Annotated[ControlAction, Form()],
) -> Response:
    actor = user.username
    begin_write(db)
    if action == "advance":
        exercise = service.get_exercise(db=db, exercise_id=exercise_id)
        loaded = service.get_scenario(exercise.scenario_id)
        upcoming = service.next_inject_minute(db=db, exercise=exercise, loaded=loaded)
        if upcoming is None:
            raise ValidationError("action", "there is no next inject")
        service.advance(
            db=db, clock=clock, exercise_id=exercise_id, actor=actor, at_minute=upcoming
        )
    else:
        functions = {
            "start": service.start,
            "pause": service.pause,
            "resume": service.resume,
            "stop": service.stop,
        }
        functions[action](db=db, clock=clock, exercise_id=exercise_id, actor=actor)
    db.commit()
    return _back(exercise_id)


@router.post("/drills/{exercise_id}/skip", summary="Skip an inject (form)")
def skip_inject(
    exercise_id: str,
    db: WriteDb,
    clock: ClockDep,
    user: Controller,
    inject: Annotated[str, Form(max_length=50)],
) -> Response:
    service.skip_inject(
        db=db, clock=clock, exercise_id=exercise_id, inject_id=inject, actor=user.username
    )
    return _back(exercise_id)


@router.post("/drills/{exercise_id}/adhoc", summary="Release an ad-hoc inject (form)")
def adhoc_inject(
    exercise_id: str,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Controller,
    to: Annotated[list[str] | None, Form(max_length=40)] = None,
    title: Annotated[str, Form(max_length=300)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    roles = to or []
    try:
        service.add_adhoc_inject(
            db=db,
            clock=clock,
            exercise_id=exercise_id,
            roles=roles,
            title=title,
            text=text,
            actor=user.username,
        )
    except ValidationError as exc:
        values = {"adhoc_title": title, "adhoc_text": text, "adhoc_to": ",".join(roles)}
        context = _exercise_context(
            db,
            clock,
            user,
            exercise_id,
            None,
            errors={f"adhoc_{exc.field}": exc.problem},
            values=values,
        )
        return templates.TemplateResponse(request, "drills/exercise.html", context, status_code=422)
    return _back(exercise_id)


@router.post(
    "/drills/{exercise_id}/expectations/{expectation_id}",
    summary="Mark an expectation met or missed (form)",
)
def mark_expectation(
    exercise_id: str,
    expectation_id: str,
    db: DbSession,
    clock: ClockDep,
    user: Controller,
    met: Annotated[bool, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    begin_write(db)
    service.mark_expectation(
        db=db,
        clock=clock,
        exercise_id=exercise_id,
        expectation_id=expectation_id,
        met=met,
        note=note,
        actor=user.username,
    )
    db.commit()
    return _back(exercise_id)


@router.post("/drills/{exercise_id}/lessons", summary="Add a lesson and its action (form)")
def add_lesson(
    exercise_id: str,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Controller,
    lesson: Annotated[str, Form(max_length=2000)] = "",
    action: Annotated[str, Form(max_length=2000)] = "",
    owner: Annotated[str, Form(max_length=200)] = "",
    due_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    errors: dict[str, str] = {}
    try:
        due = dt.date.fromisoformat(due_on)
    except ValueError:
        errors["lesson_due_on"] = "date as YYYY-MM-DD"
    if not errors:
        try:
            service.add_lesson(
                db=db,
                clock=clock,
                exercise_id=exercise_id,
                lesson=lesson,
                action=action,
                owner=owner,
                due_on=due,
            )
        except ValidationError as exc:
            errors[f"lesson_{exc.field}"] = exc.problem
    if errors:
        values = {
            "lesson": lesson,
            "lesson_action": action,
            "lesson_owner": owner,
            "lesson_due": due_on,
        }
        context = _exercise_context(
            db, clock, user, exercise_id, None, errors=errors, values=values
        )
        return templates.TemplateResponse(request, "drills/exercise.html", context, status_code=422)
    return _back(exercise_id)


@router.post("/drills/{exercise_id}/report", summary="Build the after-action report (form)")
def build_report(exercise_id: str, db: DbSession, clock: ClockDep, user: Controller) -> Response:
    begin_write(db)
    service.build_report(db=db, clock=clock, exercise_id=exercise_id, actor=user.username)
    db.commit()
    return RedirectResponse(f"/drills/{exercise_id}/report", status_code=303)


ReportLang = Literal["nl", "en"]


@router.get("/drills/{exercise_id}/report", response_class=HTMLResponse, summary="Report (page)")
def report_page(
    exercise_id: str, db: DbSession, user: Player, lang: ReportLang = "nl"
) -> HTMLResponse:
    """The latest report in Dutch or English (two full versions; each links the other)."""
    report = service.latest_report(db=db, exercise_id=exercise_id)
    return _self_contained(service.report_html(report, lang))


@router.get("/drills/{exercise_id}/report.pdf", summary="Report (PDF)")
def report_pdf(exercise_id: str, db: DbSession, user: Player, lang: ReportLang = "nl") -> Response:
    report = service.latest_report(db=db, exercise_id=exercise_id)
    name = f"{exercise_id}-{'oefening' if lang == 'nl' else 'exercise'}.pdf"
    return Response(
        service.report_pdf(report, lang),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/drills/{exercise_id}/publish", summary="Publish the public summary (form)")
def publish(exercise_id: str, db: DbSession, clock: ClockDep, user: Controller) -> Response:
    begin_write(db)
    service.publish_summary(db=db, clock=clock, exercise_id=exercise_id, actor=user.username)
    db.commit()
    return RedirectResponse(f"/oefeningen/{exercise_id}", status_code=303)


@router.get(
    "/oefeningen",
    response_class=HTMLResponse,
    dependencies=[PUBLIC],
    summary="Published exercise summaries (public page)",
)
def public_summaries(request: Request, db: DbSession, templates: Templates) -> HTMLResponse:
    context = {"reports": service.published_summaries(db=db)}
    return templates.TemplateResponse(request, "drills/public_list.html", context)


@router.get(
    "/oefeningen/{exercise_id}",
    response_class=HTMLResponse,
    dependencies=[PUBLIC],
    summary="One published exercise summary (public page)",
)
def public_summary(exercise_id: str, db: DbSession, lang: ReportLang = "nl") -> HTMLResponse:
    report = service.published_summary(db=db, exercise_id=exercise_id)
    return _self_contained(service.report_html(report, lang, public=True))


def _self_contained(html: str) -> HTMLResponse:
    """A report page carries its own stylesheet (it is also saved and printed): admit it by hash."""
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = csp_for_inline_styles(html.encode())
    return response
