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
from drills import report_text, scenarios
from drills.control import PLANNED, get_exercise
from drills.models import Entry, Exercise, Expectation, LessonAction, ReleasedInject, Report

TEMPLATES = Path(__file__).resolve().parent / "templates"
METRICS = ("detect", "escalate", "decide", "communicate")


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def amsterdam(value: datetime | None) -> str:
    """A moment as the municipality reads it: Amsterdam time, to the minute."""
    if value is None:
        return "–"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def _environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    words = report_text.TEXT[lang]
    env.filters["amsterdam"] = amsterdam
    env.filters["status"] = lambda status: words.get(f"m_{status}", status)
    env.filters["role"] = lambda code: report_text.role(code, lang)
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


def _owner_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def close_action(
    *,
    db: Session,
    clock: Clock,
    action_id: int,
    actor: str,
    owner_names: tuple[str, ...] | None = None,
) -> LessonAction:
    """Mark a follow-up action done; audited.

    `owner_names` are the caller's account name and display name: only the owner may complete
    their action. None means the caller may complete any action (the exercise controller).
    """
    row = db.get(LessonAction, action_id)
    if row is None:
        raise NotFoundError(f"action {action_id} not found")
    if owner_names is not None and _owner_key(row.owner) not in {
        _owner_key(n) for n in owner_names
    }:
        raise ConflictError(f"action {action_id} belongs to {row.owner}, not to you")
    if row.status == "done":
        raise ConflictError(f"action {action_id} is already done")
    row.status = "done"
    row.closed_at = clock.now()
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="drill.action_done",
        object_type="drill_action",
        object_id=str(action_id),
        details={"exercise_id": row.exercise_id},
    )
    db.flush()
    return row


def actions_of_owner(*, db: Session, names: tuple[str, ...]) -> list[LessonAction]:
    """Open follow-up actions whose owner is one of `names` (account or display name), by due
    date; the owner is typed free text, so case and spacing do not matter."""
    wanted = {_owner_key(n) for n in names if n.strip()}
    return [a for a in open_actions(db=db) if _owner_key(a.owner) in wanted]


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
    """Every open follow-up action, soonest due first."""
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


def _context(db: Session, exercise: Exercise, *, public: bool, lang: str) -> dict[str, Any]:
    words = report_text.TEXT[lang]
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
        roles = ", ".join(report_text.role(r, lang) for r in inject.roles)
        kind = words.get(inject.kind, inject.kind)
        what = words["inject_to"].format(id=inject.inject_id, kind=kind, roles=roles)
        timeline.append({"at": inject.released_at, "what": what})
    for e in rows:
        if e.met_at is not None:
            status = words.get(f"m_{e.status}", e.status)
            how = e.evidence or e.marked_by
            what = words["expectation_line"].format(id=e.expectation_id, status=status, how=how)
            timeline.append({"at": e.met_at, "what": what})
    notes = list(
        db.scalars(select(Entry).where(Entry.exercise_id == exercise.id).order_by(Entry.at))
    )
    for note in notes:
        if note.kind in ("decision", "action"):
            kind = words[f"k_{note.kind}"]
            who = report_text.role(note.role, lang)
            timeline.append({"at": note.at, "what": f"{kind} {who}: {note.text}"})
    timeline.sort(key=lambda item: item["at"])
    actions = list(
        db.scalars(
            select(LessonAction)
            .where(LessonAction.exercise_id == exercise.id)
            .order_by(LessonAction.id)
        )
    )
    english = _english(exercise) if lang == "en" else None
    if english is not None:
        # The scenario's own English wording where it has one (title, criteria, expectations).
        scored = [{**c, "text": english.criteria.get(c["id"]) or c.get("text_en") or c["text"]}
                  for c in scored]  # fmt: skip
    return {
        "english_texts": english.expectations if english is not None else {},
        "lang": lang,
        "T": words,
        "notes": {e.id: report_text.note(e.note, lang) for e in rows},
        "public": public,
        "title": (english.title if english is not None else None) or exercise.title,
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


@dataclass(frozen=True, slots=True)
class _English:
    title: str | None
    criteria: dict[str, str]
    expectations: dict[str, str]


def _english(exercise: Exercise) -> _English | None:
    """The scenario's English texts, from the library (None when the scenario is gone)."""
    try:
        scenario = scenarios.get_scenario(exercise.scenario_id).scenario
    except (NotFoundError, scenarios.ScenarioError):
        return None
    return _English(
        scenario.title_en,
        {c.id: c.text_en for c in scenario.criteria if c.text_en},
        {e.id: e.text_en for e in scenario.expectations if e.text_en},
    )


def _render(db: Session, exercise: Exercise, lang: str) -> tuple[str, bytes, str, dict[str, Any]]:
    """One language's full version: the page (with a link to the other), the PDF, the summary."""
    from weasyprint import HTML  # noqa: PLC0415 - weasyprint: +1.19 s on start-up

    template = _environment(lang).get_template("report.html")
    other = "en" if lang == "nl" else "nl"
    link = {"other_link": f"?lang={other}", "other_lang": other}
    context = _context(db, exercise, public=False, lang=lang)
    html = template.render(**context, **link)
    pdf = HTML(string=template.render(**context, other_link=None)).write_pdf() or b""
    public_html = template.render(**_context(db, exercise, public=True, lang=lang), **link)
    return html, pdf, public_html, context


def build_report(*, db: Session, clock: Clock, exercise_id: str, actor: str) -> Report:
    """Render and store the report in Dutch and in English (HTML, PDF, public summary each);
    a new version each call."""
    exercise = get_exercise(db=db, exercise_id=exercise_id)
    if exercise.status == PLANNED:
        raise ConflictError(
            f"status: exercise {exercise_id} has not started, there is nothing to report"
        )
    html, pdf, public_html, context = _render(db, exercise, "nl")
    html_en, pdf_en, public_html_en, _ = _render(db, exercise, "en")
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
        html_en=html_en,
        pdf_en=pdf_en,
        public_html_en=public_html_en,
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


def has_report(*, db: Session, exercise_id: str) -> bool:
    """Whether a report was built for the exercise (without loading its HTML and PDFs)."""
    found = db.scalar(select(Report.id).where(Report.exercise_id == exercise_id).limit(1))
    return found is not None


def latest_report(*, db: Session, exercise_id: str) -> Report:
    report = db.scalar(
        select(Report).where(Report.exercise_id == exercise_id).order_by(Report.id.desc()).limit(1)
    )
    if report is None:
        raise NotFoundError(f"no report for exercise {exercise_id}; build one first")
    return report


def _version(report: Report, lang: str, part: str) -> Any:
    if lang not in report_text.LANGUAGES:
        raise ValidationError("lang", f"{lang!r} is not one of: nl, en")
    value = getattr(report, part if lang == "nl" else f"{part}_en")
    if value is None:
        raise NotFoundError(
            f"report {report.id} has no {lang} version; build the report again to get one"
        )
    return value


def report_html(report: Report, lang: str, *, public: bool = False) -> str:
    """The report page (or its public summary) in `lang`, nl or en.

    NotFoundError for the English version of a report built before reports had one.
    """
    return str(_version(report, lang, "public_html" if public else "html"))


def report_pdf(report: Report, lang: str) -> bytes:
    """The report's PDF in `lang`, nl or en (NotFoundError as for `report_html`)."""
    return bytes(_version(report, lang, "pdf"))


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
