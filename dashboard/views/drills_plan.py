"""Drill planning in the dashboard: the exercise calendar, the plan form, moving and cancelling.

The calendar shows planned, running and past exercises, the annual cycle per scenario and the
open follow-up actions; the exercise controller plans from the scenario library (start now or
at a time, repeat, participants by role, criteria shown before they are frozen), moves and
cancels plans. Every page is marked OEFENING / EXERCISE.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.clock import Clock
from core.errors import NotFoundError, ValidationError
from dashboard.deps import ClockDep, DbSession, Principal, RequireRole, Templates, WriteDb
from drills import service
from drills.schemas import ROLES

router = APIRouter(tags=["drills"])
PLAYER_ROLES = (
    Role.EXERCISE_CONTROLLER,
    Role.CRISIS_TEAM,
    Role.DPO,
    Role.INCIDENT_MANAGER,
    Role.ANALYST,
)
Player = Annotated[Principal, Depends(RequireRole(*PLAYER_ROLES))]
Controller = Annotated[Principal, Depends(RequireRole(Role.EXERCISE_CONTROLLER))]
# Anyone can own a follow-up action from an exercise evaluation (the owner's home lists it).
Anyone = Annotated[Principal, Depends(RequireRole(*Role))]


@router.get("/drills", response_class=HTMLResponse, summary="Drill calendar (page)")
def calendar(
    request: Request, db: DbSession, clock: ClockDep, templates: Templates, user: Player
) -> HTMLResponse:
    return _calendar(request, db, clock, templates, user)


def _calendar(
    request: Request,
    db: Session,
    clock: Clock,
    templates: Templates,
    user: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    exercises = service.list_exercises(db=db)
    context = {
        "cycle": service.annual_cycle(db=db, now=clock.now()),
        "schedules": service.list_schedules(db=db),
        "running": [e for e in exercises if e.status in ("running", "paused", "planned")],
        "past": [e for e in exercises if e.status not in ("running", "paused", "planned")],
        "actions": service.open_actions(db=db),
        "is_controller": user.role == Role.EXERCISE_CONTROLLER,
        "errors": errors or {},
        "values": values or {},
    }
    return templates.TemplateResponse(
        request, "drills/calendar.html", context, status_code=status_code
    )


@router.post("/drills/actions/{action_id}/done", summary="Complete a follow-up action (form)")
def action_done(
    action_id: int,
    db: WriteDb,
    clock: ClockDep,
    user: Anyone,
    back: Annotated[str, Form(max_length=10)] = "home",
) -> Response:
    """The owner completes their action from the home page; the controller may complete any."""
    controller = user.role == Role.EXERCISE_CONTROLLER
    row = service.close_action(
        db=db, clock=clock, action_id=action_id, actor=user.username,
        owner_names=None if controller else (user.username, user.display_name),
    )  # fmt: skip
    target = f"/drills/{row.exercise_id}#lessons" if back == "exercise" else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/drills/schedules/{schedule_id}/cancel", summary="Cancel a plan (form)")
def cancel_schedule(schedule_id: int, db: WriteDb, clock: ClockDep, user: Controller) -> Response:
    service.cancel_schedule(db=db, clock=clock, schedule_id=schedule_id, actor=user.username)
    return RedirectResponse("/drills", status_code=303)


@router.post(
    "/drills/schedules/{schedule_id}/move",
    response_class=HTMLResponse,
    summary="Move a plan to another date and time (form)",
)
def move_schedule(
    schedule_id: int,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Controller,
    date: Annotated[str, Form(max_length=20)] = "",
    time: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    errors: dict[str, str] = {}
    moment = service.parse_when(date, time, errors)
    if moment is not None:
        try:
            service.move_schedule(
                db=db, clock=clock, schedule_id=schedule_id, first_at=moment, actor=user.username
            )
        except ValidationError as exc:
            errors[exc.field] = exc.problem
    if errors:
        keyed = {f"{schedule_id}_{k}": v for k, v in errors.items()}
        values = {f"{schedule_id}_date": date, f"{schedule_id}_time": time}
        return _calendar(
            request, db, clock, templates, user, errors=keyed, values=values, status_code=422
        )
    return RedirectResponse("/drills", status_code=303)


@router.get("/drills/plan", response_class=HTMLResponse, summary="Plan an exercise (page)")
def plan_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    templates: Templates,
    user: Controller,
    scenario: str | None = None,
) -> HTMLResponse:
    values = {**service.form_defaults(clock.now()), "scenario": scenario or ""}
    return _plan_form(request, templates, values, {}, status_code=200)


async def _form_fields(request: Request) -> dict[str, str]:
    """The posted form as text fields (the plan form has one pair of fields per role)."""
    return {key: str(value) for key, value in (await request.form()).items()}


@router.post("/drills/plan", response_class=HTMLResponse, summary="Plan an exercise (form)")
def plan_submit(
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Controller,
    form: Annotated[dict[str, str], Depends(_form_fields)],
) -> Response:
    plan, errors = service.parse_plan(form, now=clock.now())
    if plan is None:
        return _plan_form(request, templates, form, errors, status_code=422)
    exercise, _ = service.plan_exercise(db=db, clock=clock, request=plan, actor=user.username)
    if exercise is not None:
        return RedirectResponse(f"/drills/{exercise.id}", status_code=303)
    return RedirectResponse("/drills", status_code=303)


@router.get(
    "/drills/schedules/{schedule_id}/edit",
    response_class=HTMLResponse,
    summary="Change a planned exercise (page)",
)
def edit_page(
    schedule_id: int, request: Request, db: DbSession, templates: Templates, user: Controller
) -> HTMLResponse:
    schedule = _planned(db, schedule_id)
    values = service.plan_values(schedule)
    return _plan_form(request, templates, values, {}, status_code=200, schedule_id=schedule.id)


@router.post(
    "/drills/schedules/{schedule_id}/edit",
    response_class=HTMLResponse,
    summary="Change a planned exercise (form)",
)
def edit_submit(
    schedule_id: int,
    request: Request,
    db: WriteDb,
    clock: ClockDep,
    templates: Templates,
    user: Controller,
    form: Annotated[dict[str, str], Depends(_form_fields)],
) -> Response:
    """Mode, start, repeat, tempo and participants before the start; errors next to fields."""
    schedule = _planned(db, schedule_id)
    changed, errors = service.edit_plan(
        db=db, clock=clock, schedule_id=schedule.id, form=form, actor=user.username
    )
    if changed is None:
        values = {**form, "scenario": schedule.scenario_id}
        return _plan_form(
            request, templates, values, errors, status_code=422, schedule_id=schedule.id
        )
    return RedirectResponse("/drills", status_code=303)


def _planned(db: Session, schedule_id: int) -> Any:
    """A schedule that has not started and is not cancelled, or NotFoundError."""
    for schedule in service.list_schedules(db=db):
        if schedule.id == schedule_id and schedule.active and schedule.next_run_at is not None:
            return schedule
    raise NotFoundError(f"schedule {schedule_id} not found, cancelled or already started")


def _plan_form(
    request: Request,
    templates: Templates,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status_code: int,
    schedule_id: int | None = None,
) -> HTMLResponse:
    library = service.load_library()
    context = {
        "schedule_id": schedule_id,
        "library": sorted(library.items()),
        "loaded": library.get(values.get("scenario", "")),
        "values": values,
        "errors": errors,
        "repeats": service.REPEATS,
        "roles": ROLES,
        "role_help": service.ROLE_HELP,
    }
    return templates.TemplateResponse(request, "drills/plan.html", context, status_code=status_code)
