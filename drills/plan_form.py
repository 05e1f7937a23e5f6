"""Planning an exercise from the browser: parse the form, say what is wrong per field, plan it.

The form is flat (one name and e-mail per scenario role) so a page can show it without script;
`parse_plan` turns it into a `PlanRequest` or a field -> message map, and the page shows each
message next to its field with what was typed. Times are entered in Amsterdam time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import NotFoundError, ValidationError
from drills import control, planning, scenarios
from drills.models import DrillSchedule, Exercise
from drills.schemas import ROLES

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
REPEATS: dict[str, tuple[str, timedelta | None]] = {
    "none": ("eenmalig / once", None),
    "quarter": ("elk kwartaal / every quarter", planning.QUARTER),
    "year": ("elk jaar / every year", timedelta(days=365)),
}
# What each scenario role does in the exercise, shown next to its field.
ROLE_HELP: dict[str, str] = {
    "burgemeester": "leidt het beleidsteam (GBT) vanaf GRIP 3 / chairs the policy team",
    "gemeentesecretaris": "leidt de ambtelijke organisatie / runs the municipal organisation",
    "ciso": "coördineert de informatiebeveiliging / coordinates information security",
    "fg": "beoordeelt datalekken en de AP-melding / assesses breaches and the AP notice",
    "communicatie": "informeert inwoners en pers / informs residents and press",
    "it": "onderzoekt en herstelt systemen / investigates and restores systems",
    "veiligheidsregio": "contact met de veiligheidsregio / liaison with the safety region",
}


@dataclass
class PlanRequest:
    """A valid plan: what, how, when, who."""

    scenario_id: str
    mode: str
    start_now: bool
    first_at: datetime | None
    repeat: str
    time_scale: float
    participants: list[dict[str, str]] = field(default_factory=list)


def parse_plan(
    form: Mapping[str, str], *, now: datetime
) -> tuple[PlanRequest | None, dict[str, str]]:
    """The plan in `form`, or the problems per field name (in Dutch and English)."""
    errors: dict[str, str] = {}
    library = scenarios.load_library()
    scenario_id = form.get("scenario", "")
    loaded = library.get(scenario_id)
    if loaded is None:
        known = ", ".join(sorted(library))
        errors["scenario"] = f"choose a scenario ({known})"
    mode = form.get("mode", "")
    if loaded is not None and mode not in loaded.scenario.modes:
        errors["mode"] = f"this scenario supports {', '.join(loaded.scenario.modes)}"
    start_now = form.get("start_now") == "1"
    first_at = None
    if not start_now:
        first_at = _when(form, errors, now=now)
    repeat = form.get("repeat", "none")
    if repeat not in REPEATS:
        errors["repeat"] = f"choose one of: {', '.join(REPEATS)}"
    time_scale = _number(form.get("time_scale", "1"), "time_scale", errors)
    people = _participants(form, errors, roles=loaded.scenario.roles if loaded else ())
    if errors or loaded is None:
        return None, errors
    return (
        PlanRequest(scenario_id, mode, start_now, first_at, repeat, time_scale, people),
        errors,
    )


def parse_when(day_text: str, time_text: str, errors: dict[str, str]) -> datetime | None:
    """A date and a time typed in Amsterdam time; problems go into `errors` by field."""
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        errors["date"] = "date as YYYY-MM-DD"
        return None
    try:
        moment = time.fromisoformat(time_text)
    except ValueError:
        errors["time"] = "time as HH:MM"
        return None
    return datetime.combine(day, moment, tzinfo=AMSTERDAM)


def _when(form: Mapping[str, str], errors: dict[str, str], *, now: datetime) -> datetime | None:
    at = parse_when(form.get("date", ""), form.get("time", ""), errors)
    if at is None:
        return None
    if at < now - timedelta(minutes=1):
        errors["date"] = "this moment has passed"
        return None
    return at


def _number(raw: str, name: str, errors: dict[str, str]) -> float:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        errors[name] = f"a number from 0.1 to 3600, not {raw!r}"
        return 1.0
    return value


def _participants(
    form: Mapping[str, str], errors: dict[str, str], *, roles: tuple[str, ...]
) -> list[dict[str, str]]:
    people = []
    for role in roles:
        name = form.get(f"name_{role}", "").strip()
        email = form.get(f"email_{role}", "").strip()
        if not name and not email:
            continue
        if not name:
            errors[f"name_{role}"] = "name or account missing"
        if "@" not in email or " " in email or len(email) > 320:
            errors[f"email_{role}"] = f"not a valid e-mail address: {email!r}"
        people.append({"role": role, "name": name, "email": email})
    if not people and not errors:
        errors["participants"] = "add at least one participant"
    return people


def plan(
    *, db: Session, clock: Clock, request: PlanRequest, actor: str
) -> tuple[Exercise | None, DrillSchedule | None]:
    """Start now (an exercise, criteria frozen) or schedule for beat; no commit."""
    if request.start_now:
        exercise = control.create_exercise(
            db=db,
            clock=clock,
            loaded=scenarios.get_scenario(request.scenario_id),
            mode=request.mode,
            controller=actor,
            participants=request.participants,
            time_scale=request.time_scale,
            actor=actor,
        )
        return control.start(db=db, clock=clock, exercise_id=exercise.id, actor=actor), None
    if request.first_at is None:
        raise ValidationError("date", "a planned exercise needs a date and time")
    schedule = planning.create_schedule(
        db=db,
        clock=clock,
        scenario_id=request.scenario_id,
        mode=request.mode,
        first_at=request.first_at,
        controller=actor,
        participants=request.participants,
        every=REPEATS[request.repeat][1],
        time_scale=request.time_scale,
    )
    return None, schedule


def plan_values(schedule: DrillSchedule) -> dict[str, str]:
    """The plan form filled in from a planned schedule (Amsterdam time), for editing it."""
    when = (schedule.next_run_at or datetime.now(AMSTERDAM)).astimezone(AMSTERDAM)
    repeat = "none"
    for key, (_, step) in REPEATS.items():
        if step is not None and schedule.every_seconds == step.total_seconds():
            repeat = key
    values = {
        "scenario": schedule.scenario_id,
        "mode": schedule.mode,
        "date": when.date().isoformat(),
        "time": when.strftime("%H:%M"),
        "repeat": repeat,
        "time_scale": f"{schedule.time_scale:g}",
    }
    for person in schedule.participants:
        values[f"name_{person['role']}"] = str(person.get("name", ""))
        values[f"email_{person['role']}"] = str(person.get("email", ""))
    return values


def edit_plan(
    *, db: Session, clock: Clock, schedule_id: int, form: Mapping[str, str], actor: str
) -> tuple[DrillSchedule | None, dict[str, str]]:
    """Change a plan from the edit form: the schedule, or the problems per field (no change).

    The scenario stays; start-now is not offered (use "start" for that).
    """
    schedule = db.get(DrillSchedule, schedule_id)
    if schedule is None:
        raise NotFoundError(f"schedule {schedule_id} not found")
    fields = {**form, "scenario": schedule.scenario_id, "start_now": ""}
    request, errors = parse_plan(fields, now=clock.now())
    if request is None:
        return None, errors
    try:
        changed = planning.update_schedule(
            db=db, clock=clock, schedule_id=schedule_id, actor=actor, mode=request.mode,
            first_at=request.first_at, every=REPEATS[request.repeat][1],
            time_scale=request.time_scale, participants=request.participants,
        )  # fmt: skip
    except ValidationError as exc:
        return None, {exc.field: exc.problem}
    return changed, {}


def participant_role(exercise: Exercise, username: str) -> str | None:
    """The scenario role of the account `username` in this exercise, if it plays one."""
    for person in exercise.participants or []:
        if isinstance(person, dict) and person.get("name") == username:
            return str(person.get("role"))
    return None


def form_defaults(now: datetime) -> dict[str, Any]:
    """An empty form: tomorrow at 09:00 Amsterdam time, once, real time."""
    tomorrow = now.astimezone(AMSTERDAM).date() + timedelta(days=1)
    return {"date": tomorrow.isoformat(), "time": "09:00", "repeat": "none", "time_scale": "1"}


__all__ = ["REPEATS", "ROLES", "ROLE_HELP", "PlanRequest", "parse_plan", "plan"]
