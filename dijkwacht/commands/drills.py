"""`dijkwacht drills ...`: scenarios, schedules and the controller's start/pause/resume/stop.

Service errors (unknown exercise, wrong state, series already running) end the command with
their message and exit code 1, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from core.errors import DijkwachtError
from dijkwacht.commands.common import console, settings_or_exit
from dijkwacht.commands.units import command_unit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings

app = typer.Typer(help="Exercises (drills): OEFENING / EXERCISE.", no_args_is_help=True)


@contextmanager
def _unit(*, write: bool = True) -> Iterator[tuple[Settings, Session]]:
    """The command's one unit of work: committed when the command succeeds, else rolled back."""
    with command_unit(write=write) as (settings, db):
        yield settings, db


@contextmanager
def _friendly() -> Iterator[None]:
    """A refused action is a message for the controller, not a stack trace."""
    try:
        yield
    except DijkwachtError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from None


@app.command("list")
def list_scenarios() -> None:
    """The scenario library, and the exercises so far."""
    from drills import service

    for scenario_id, loaded in sorted(service.load_library().items()):
        typer.echo(f"{scenario_id}\t{'/'.join(loaded.scenario.modes)}\t{loaded.scenario.title}")
    with _unit(write=False) as (_, db):
        for exercise in service.list_exercises(db=db):
            typer.echo(f"OEFENING {exercise.id}\t{exercise.status}\t{exercise.title}")


@app.command("check")
def check(directory: Annotated[Path, typer.Argument(help="Folder with scenario YAML")]) -> None:
    """Validate scenario files and prove each technical expectation fires its rule.

    Prints every check made; problems as file:line: field: problem, exit code 1.
    """
    from drills import service

    if not directory.is_dir():
        typer.echo(f"{directory}: not a folder; give the folder with scenario YAML", err=True)
        raise typer.Exit(1)
    report = service.check_scenarios(directory)
    for line in report.checked:
        typer.echo(f"ok  {line}")
    for issue in report.issues:
        typer.echo(str(issue), err=True)
    verdict = "all scenarios can be played and passed" if report.ok else "problems found"
    typer.echo(f"{len(report.checked)} checks, {len(report.issues)} problems: {verdict}")
    raise typer.Exit(0 if report.ok else 1)


ROLE_HELP = (
    "role:name:email, role one of burgemeester, gemeentesecretaris, ciso, fg, communicatie, "
    "it, veiligheidsregio; name = the player's account, so the exercise page knows their role"
)


def _participants(items: list[str]) -> list[dict[str, str]]:
    """`role:name:email` options as participants; a bad one ends the command with its reason."""
    from drills.schemas import ROLES

    people = []
    for item in items:
        parts = item.split(":", 2)
        if len(parts) != 3 or not all(part.strip() for part in parts):
            _fail(f"--participant {item!r}: expected role:name:email")
        role, name, email = (part.strip() for part in parts)
        if role not in ROLES:
            _fail(f"--participant {item!r}: unknown role {role!r}; allowed: {', '.join(ROLES)}")
        if "@" not in email or " " in email:
            _fail(f"--participant {item!r}: {email!r} is not an e-mail address")
        people.append({"role": role, "name": name, "email": email})
    return people


def _fail(message: str) -> NoReturn:
    from rich.markup import escape

    # The bad value exactly as typed: no markup, no emoji codes (`role:x:...` is not an emoji).
    console.print(f"[red]{escape(message)}[/red]", emoji=False)
    raise typer.Exit(code=1)


def _check_mode(scenario_id: str, mode: str) -> None:
    from drills import service

    library = service.load_library()
    if scenario_id not in library:
        _fail(f"scenario {scenario_id!r} not found; known: {', '.join(sorted(library))}")
    modes = library[scenario_id].scenario.modes
    if mode not in modes:
        _fail(f"--mode {mode!r}: scenario {scenario_id!r} supports {', '.join(modes)}")


@app.command("schedule")
def schedule(
    scenario_id: str,
    mode: Annotated[str, typer.Option(help="tabletop or technical")] = "tabletop",
    start_in_minutes: Annotated[float, typer.Option()] = 60.0,
    every_days: Annotated[float | None, typer.Option(help="Repeat, e.g. 91 for a quarter")] = None,
    participant: Annotated[list[str], typer.Option(help=ROLE_HELP)] = [],  # noqa: B006
    controller: Annotated[str, typer.Option()] = "oefenleider",
) -> None:
    """Plan a drill; beat starts it on time and sends invitations and reminders."""
    from core.clock import SystemClock
    from drills import service

    _check_mode(scenario_id, mode)
    people = _participants(participant)
    with _unit() as (_, db), _friendly():
        row = service.create_schedule(
            db=db,
            clock=SystemClock(),
            scenario_id=scenario_id,
            mode=mode,
            first_at=datetime.now(UTC) + timedelta(minutes=start_in_minutes),
            controller=controller,
            participants=people,
            every=timedelta(days=every_days) if every_days else None,
        )
        typer.echo(f"schedule {row.id}: {row.title}, first at {row.next_run_at}")


@app.command("edit-plan")
def edit_plan(
    schedule_id: Annotated[
        int, typer.Argument(help="The plan's number (drills schedule prints it)")
    ],
    mode: Annotated[str | None, typer.Option(help="tabletop or technical")] = None,
    at: Annotated[
        str | None, typer.Option(help="New start, Amsterdam time: 'YYYY-MM-DD HH:MM'")
    ] = None,
    every_days: Annotated[float | None, typer.Option(help="Repeat every N days")] = None,
    once: Annotated[bool, typer.Option("--once", help="Stop repeating")] = False,
    time_scale: Annotated[float | None, typer.Option(help="Scenario minutes per minute")] = None,
    participant: Annotated[
        list[str], typer.Option(help=ROLE_HELP + "; replaces all participants")
    ] = [],  # noqa: B006
) -> None:
    """Change a plan before it starts (mode, start, repeat, tempo, participants); audited."""
    from core.clock import SystemClock
    from drills import service

    if once and every_days is not None:
        _fail("--once and --every-days: choose one")
    first_at = None
    if at is not None:
        errors: dict[str, str] = {}
        day, _, moment = at.strip().partition(" ")
        first_at = service.parse_when(day, moment, errors)
        if first_at is None:
            _fail(f"--at {at!r}: {'; '.join(errors.values())}")
    every: Any = service.KEEP
    if once:
        every = None
    elif every_days is not None:
        every = timedelta(days=every_days)
    people = _participants(participant) if participant else None
    with _unit() as (_, db), _friendly():
        row = service.update_schedule(
            db=db, clock=SystemClock(), schedule_id=schedule_id, actor="cli", mode=mode,
            first_at=first_at, every=every, time_scale=time_scale, participants=people,
        )  # fmt: skip
        roles = ", ".join(f"{p['role']}:{p['name']}" for p in row.participants)
        typer.echo(
            f"schedule {row.id}: {row.title}, {row.mode}, next at {row.next_run_at}, "
            f"every {row.every_seconds or 0:g} s, participants {roles}"
        )


@app.command("start")
def start(
    exercise_id: Annotated[str, typer.Argument(help="A planned exercise, or a scenario id")],
    mode: Annotated[str, typer.Option(help="For a scenario: tabletop or technical")] = "tabletop",
    participant: Annotated[list[str], typer.Option(help=ROLE_HELP)] = [],  # noqa: B006
    time_scale: Annotated[float, typer.Option(help="Scenario minutes per minute")] = 1.0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Plan and start without asking")] = False,
) -> None:
    """Start a planned exercise (freezes its criteria), or plan and start a scenario now."""
    from drills import service

    with _unit(write=False) as (_, db):
        planned = db.get(service.Exercise, exercise_id) is not None
    if planned:
        _control(exercise_id, "start")
        return
    library = service.load_library()
    if exercise_id not in library:
        with _unit(write=False) as (_, db):
            waiting = [e.id for e in service.list_exercises(db=db, status="planned")]
        _fail(
            f"{exercise_id!r} is neither a planned exercise nor a scenario; "
            f"planned: {', '.join(waiting) or 'none'}; scenarios: {', '.join(sorted(library))}"
        )
    _check_mode(exercise_id, mode)
    people = _participants(participant)
    question = f"Scenario {exercise_id!r} has no planned exercise. Plan and start it now ({mode})?"
    if not yes and not typer.confirm(question, default=False):
        _fail("nothing planned; `dijkwacht drills schedule` plans it for later")
    _plan_and_start(exercise_id, mode, people, time_scale)


def _plan_and_start(
    scenario_id: str, mode: str, people: list[dict[str, str]], time_scale: float
) -> None:
    from core.clock import SystemClock
    from drills import service

    request = service.PlanRequest(
        scenario_id=scenario_id,
        mode=mode,
        start_now=True,
        first_at=None,
        repeat="none",
        time_scale=time_scale,
        participants=people,
    )
    with _unit() as (_, db), _friendly():
        exercise, _ = service.plan_exercise(
            db=db, clock=SystemClock(), request=request, actor="cli"
        )
        assert exercise is not None
        typer.echo(
            f"OEFENING {exercise.id} {exercise.status}; criteria sha256 {exercise.criteria_sha256}"
        )


@app.command("pause")
def pause(exercise_id: str) -> None:
    """Pause a running exercise (the scenario clock stops)."""
    _control(exercise_id, "pause")


@app.command("resume")
def resume(exercise_id: str) -> None:
    """Resume a paused exercise."""
    _control(exercise_id, "resume")


@app.command("stop")
def stop(exercise_id: str) -> None:
    """End an exercise; its series may run again."""
    _control(exercise_id, "stop")


def _control(exercise_id: str, action: str) -> None:
    from core.clock import SystemClock
    from drills import service

    functions = {
        "start": service.start,
        "pause": service.pause,
        "resume": service.resume,
        "stop": service.stop,
    }
    with _unit() as (_, db), _friendly():
        exercise = functions[action](
            db=db, clock=SystemClock(), exercise_id=exercise_id, actor="cli"
        )
        sha = f"; criteria sha256 {exercise.criteria_sha256}" if action == "start" else ""
        typer.echo(f"OEFENING {exercise.id} {exercise.status}{sha}")


@app.command("status")
def status(exercise_id: str) -> None:
    """Scenario minute, expectations and their status."""
    from drills import service

    with _unit(write=False) as (_, db), _friendly():
        exercise = service.get_exercise(db=db, exercise_id=exercise_id)
        minute = service.scenario_minutes(exercise, datetime.now(UTC))
        typer.echo(f"OEFENING / EXERCISE {exercise.id}: {exercise.status}, minute {minute:.1f}")
        for row in service.expectations(db=db, exercise_id=exercise_id):
            typer.echo(f"  {row.expectation_id}\t{row.role}\t{row.status}\t{row.text}")


class ReportLang(StrEnum):
    nl = "nl"
    en = "en"


@app.command("report")
def report(
    exercise_id: str,
    out: Annotated[Path, typer.Option()] = Path("."),
    lang: Annotated[
        ReportLang, typer.Option(help="nl: the Dutch version; en: the English version")
    ] = ReportLang.nl,
) -> None:
    """Build the after-action report (both languages are stored); writes HTML and PDF in one."""
    from core.clock import SystemClock
    from drills import service

    with _unit() as (_, db), _friendly():
        built = service.build_report(
            db=db, clock=SystemClock(), exercise_id=exercise_id, actor="cli"
        )
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{exercise_id}-{'oefening' if lang is ReportLang.nl else 'exercise'}"
        html = service.report_html(built, lang.value)
        (out / f"{stem}.html").write_text(html, encoding="utf-8")
        (out / f"{stem}.pdf").write_bytes(service.report_pdf(built, lang.value))
        typer.echo(f"report {built.id} ({lang.value}) written to {out / stem}.html and .pdf")


@app.command("rollback")
def rollback(exercise_id: str) -> None:
    """Remove everything the exercise created (events, alerts, incidents, breaches...)."""
    from core.clock import SystemClock
    from core.store.factory import open_alert_store, open_event_store
    from drills import service

    settings = settings_or_exit()
    events, alerts = open_event_store(settings), open_alert_store(settings)
    try:
        # One unit of work: the relational clean-up commits whole or not at all.
        with _unit() as (_, db), _friendly():
            removed = service.rollback(
                db=db,
                clock=SystemClock(),
                exercise_id=exercise_id,
                events=events,
                alerts=alerts,
                actor="cli",
            )
    finally:
        events.close()
        alerts.close()
    for name, count in sorted(removed.items()):
        typer.echo(f"{name}\t{count}")
