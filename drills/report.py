"""After action: the report (HTML + PDF), lessons as tracked actions, a public summary.

The report compares the criteria frozen at the start with what happened, with the time to
detect, escalate, decide and communicate (scenario minutes from the start). The public
summary leaves out names, addresses, notes, evidence and the timeline, so it can go on the
public pages; it is still marked OEFENING / EXERCISE.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from drills import criteria as criteria_mod
from drills.control import PLANNED, get_exercise
from drills.models import Entry, Exercise, Expectation, LessonAction, ReleasedInject, Report

TEMPLATES = Path(__file__).resolve().parent / "templates"
METRICS = ("detect", "escalate", "decide", "communicate")


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
STATUS_LABELS = {
    "met": "gehaald / met",
    "missed": "niet gehaald / missed",
    "unscored": "niet beoordeeld / not evaluated",
    "pending": "open / pending",
}


def amsterdam(value: datetime | None) -> str:
    """A moment as the municipality reads it: Amsterdam time, to the minute."""
    if value is None:
        return "–"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["amsterdam"] = amsterdam
    env.filters["status"] = lambda status: STATUS_LABELS.get(status, status)
    return env


def add_lesson(
    *,
    db: Session,
    clock: Clock,
    exercise_id: str,
    lesson: str,
    action: str,
    owner: str,
    due_on: date,
) -> LessonAction:
    """A lesson learned becomes an action with an owner and a due date."""
    for name, value in (("lesson", lesson), ("action", action), ("owner", owner)):
        if not value.strip():
            raise ValidationError(name, "must not be empty")
    get_exercise(db=db, exercise_id=exercise_id)
    row = LessonAction(
        exercise_id=exercise_id,
        lesson=lesson.strip(),
        action=action.strip(),
        owner=owner.strip(),
        due_on=due_on,
        status="open",
        created_at=clock.now(),
    )
    db.add(row)
    db.flush()
    return row


def close_action(*, db: Session, clock: Clock, action_id: int) -> LessonAction:
    row = db.get(LessonAction, action_id)
    if row is None:
        raise NotFoundError(f"action {action_id} not found")
    row.status = "done"
    row.closed_at = clock.now()
    db.flush()
    return row


def lessons_of(*, db: Session, exercise_id: str) -> list[LessonAction]:
    """The lessons and follow-up actions of one exercise, in the order they were added."""
    return list(
        db.scalars(
            select(LessonAction)
            .where(LessonAction.exercise_id == exercise_id)
            .order_by(LessonAction.id)
        )
    )


def open_actions(*, db: Session) -> list[LessonAction]:
    return list(
        db.scalars(
            select(LessonAction).where(LessonAction.status == "open").order_by(LessonAction.due_on)
        )
    )


def metrics(rows: list[Expectation]) -> dict[str, float | None]:
    """Fastest met expectation per metric, in scenario minutes (None: not achieved)."""
    out: dict[str, float | None] = {}
    for metric in METRICS:
        times = [
            e.minutes_taken
            for e in rows
            if e.metric == metric and e.status == "met" and e.minutes_taken is not None
        ]
        out[metric] = min(times) if times else None
    return out


def _context(db: Session, exercise: Exercise, *, public: bool) -> dict[str, Any]:
    rows = list(
        db.scalars(
            select(Expectation)
            .where(Expectation.exercise_id == exercise.id)
            .order_by(Expectation.id)
        )
    )
    measured = metrics(rows)
    scored = []
    for criterion in exercise.criteria:
        result = measured.get(criterion["metric"])
        same = [e.status for e in rows if e.metric == criterion["metric"]]
        scored.append(
            {
                **criterion,
                "result": result,
                "passed": result is not None and result <= criterion["limit_minutes"],
                # Stopped while every window for this metric was still open: no verdict.
                "unscored": result is None and bool(same) and set(same) == {"unscored"},
            }
        )
    timeline: list[dict[str, Any]] = []
    for inject in db.scalars(
        select(ReleasedInject).where(ReleasedInject.exercise_id == exercise.id)
    ):
        timeline.append(
            {
                "at": inject.released_at,
                "what": f"inject {inject.inject_id} ({inject.kind}) naar {', '.join(inject.roles)}",
            }
        )
    for e in rows:
        if e.met_at is not None:
            timeline.append(
                {
                    "at": e.met_at,
                    "what": f"verwachting {e.expectation_id}: {e.status} "
                    f"({e.evidence or e.marked_by})",
                }
            )
    notes = list(
        db.scalars(select(Entry).where(Entry.exercise_id == exercise.id).order_by(Entry.at))
    )
    for note in notes:
        if note.kind in ("decision", "action"):
            timeline.append({"at": note.at, "what": f"{note.kind} {note.role or ''}: {note.text}"})
    timeline.sort(key=lambda item: item["at"])
    actions = list(
        db.scalars(
            select(LessonAction)
            .where(LessonAction.exercise_id == exercise.id)
            .order_by(LessonAction.id)
        )
    )
    return {
        "public": public,
        "title": exercise.title,
        "scenario_id": exercise.scenario_id,
        "mode": exercise.mode,
        "exercise_id": exercise.id,
        "started_at": exercise.started_at,
        "stopped_at": exercise.stopped_at,
        "period": f"{exercise.started_at:%m-%Y}" if exercise.started_at else "",
        "frozen_at": exercise.criteria_frozen_at,
        "criteria_sha256": exercise.criteria_sha256,
        "criteria_intact": criteria_mod.verify(exercise),
        "criteria": scored,
        "metrics": measured,
        "expectations": rows,
        "timeline": timeline,
        "hotwash": [n for n in notes if n.kind == "hotwash"],
        "decisions": [n for n in notes if n.kind in ("decision", "action")],
        "actions": actions,
    }


def build_report(*, db: Session, clock: Clock, exercise_id: str, actor: str) -> Report:
    """Render and store the report (HTML, PDF, public summary); a new version each call."""
    from weasyprint import HTML

    exercise = get_exercise(db=db, exercise_id=exercise_id)
    if exercise.status == PLANNED:
        raise ConflictError(
            f"status: exercise {exercise_id} has not started, there is nothing to report"
        )
    template = _environment().get_template("report.html")
    context = _context(db, exercise, public=False)
    html = template.render(**context)
    public_html = template.render(**_context(db, exercise, public=True))
    pdf = HTML(string=html).write_pdf() or b""
    summary = {
        "criteria": [
            {k: c[k] for k in ("id", "metric", "limit_minutes", "result", "passed")}
            for c in context["criteria"]
        ],
        "metrics": context["metrics"],
        "criteria_intact": context["criteria_intact"],
    }
    report = Report(
        exercise_id=exercise_id,
        created_at=clock.now(),
        html=html,
        pdf=pdf,
        summary=summary,
        public_html=public_html,
    )
    db.add(report)
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.report_built",
        object_type="drill",
        object_id=exercise_id,
        details=summary,
    )
    db.flush()
    return report


def latest_report(*, db: Session, exercise_id: str) -> Report:
    report = db.scalar(
        select(Report).where(Report.exercise_id == exercise_id).order_by(Report.id.desc()).limit(1)
    )
    if report is None:
        raise NotFoundError(f"no report for exercise {exercise_id}; build one first")
    return report


def publish_summary(*, db: Session, clock: Clock, exercise_id: str, actor: str) -> Report:
    """Make the latest report's public summary visible on the public pages."""
    report = latest_report(db=db, exercise_id=exercise_id)
    report.published_at = clock.now()
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.summary_published",
        object_type="drill",
        object_id=exercise_id,
    )
    db.flush()
    return report


def published_summaries(*, db: Session) -> list[Report]:
    return list(
        db.scalars(
            select(Report)
            .where(Report.published_at.is_not(None))
            .order_by(Report.published_at.desc())
        )
    )


def published_summary(*, db: Session, exercise_id: str) -> Report:
    """The public summary of one exercise, only once it is published (else NotFoundError)."""
    report = db.scalar(
        select(Report)
        .where(Report.exercise_id == exercise_id, Report.published_at.is_not(None))
        .order_by(Report.published_at.desc())
        .limit(1)
    )
    if report is None:
        raise NotFoundError(f"no published summary for exercise {exercise_id}")
    return report


@dataclass(frozen=True, slots=True)
class ExerciseRecord:
    """An exercise that was played, for evidence that continuity is tested (BIO2 5.30)."""

    exercise_id: str
    scenario_id: str
    title: str
    mode: str
    status: str
    started_at: datetime
    stopped_at: datetime | None
    report_id: int | None
    report_sha256: str | None


def played_exercises(*, db: Session, since: datetime) -> list[ExerciseRecord]:
    """Exercises started since `since` that were played to the end (stopped, or stopped and
    rolled back: a rollback removes the artefacts, not the fact that it was played), newest
    first, each with its latest report."""
    rows = db.scalars(
        select(Exercise)
        .where(Exercise.started_at.is_not(None), Exercise.started_at >= since)
        .where(Exercise.status.in_(("stopped", "rolled_back")))
        .order_by(Exercise.started_at.desc())
    )
    records = []
    for exercise in rows:
        report = db.scalar(
            select(Report)
            .where(Report.exercise_id == exercise.id)
            .order_by(Report.id.desc())
            .limit(1)
        )
        assert exercise.started_at is not None
        records.append(
            ExerciseRecord(
                exercise_id=exercise.id,
                scenario_id=exercise.scenario_id,
                title=exercise.title,
                mode=exercise.mode,
                status=exercise.status,
                started_at=exercise.started_at,
                stopped_at=exercise.stopped_at,
                report_id=None if report is None else report.id,
                report_sha256=None if report is None else hashlib.sha256(report.pdf).hexdigest(),
            )
        )
    return records
