"""What every report to an authority shares: field specs, drafts, edits, finalising, withdrawal.

A report's `content` is `{section: {field: value}}`; `None` means "not answered yet" and is
what makes a draft incomplete. An empty list is an answer ("none"). Finalising checks every
required field and lists the missing ones in one message, refuses exercise breaches, and
refuses a late report without a reason for the delay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.clock import Clock
from core.config import Settings
from core.errors import ConflictError, NotFoundError, ValidationError
from playbooks.breach import clocks
from playbooks.breach.models import Breach, BreachReport
from playbooks.breach.register import get_breach, log_change

Content = dict[str, dict[str, Any]]


class ExerciseRefused(ConflictError):
    """An exercise breach never reaches an authority or a resident as if it were real."""

    def __init__(self, what: str, exercise_id: str) -> None:
        super().__init__(
            f"exercise: {what} refused: this is an EXERCISE breach (OEFENING, {exercise_id}); "
            "exercise breaches are never finalised, sent or exported as real"
        )
        self.exercise_id = exercise_id


def refuse_exercise(breach: Breach, what: str) -> None:
    """Raise ExerciseRefused when `breach` comes from a drill."""
    if breach.exercise_id is not None:
        raise ExerciseRefused(what, breach.exercise_id)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One question of a form (loaded from `forms/*.yml` by form_specs.py).

    `required_when` (`("section.key", value)`) makes the field required only while that
    earlier answer equals `value` (a bool compares by identity: 0 is not False); it overrides
    `required`.
    """

    section: str
    key: str
    label_nl: str
    label_en: str
    kind: str = "text"  # text | bool | list | int | datetime | choice
    required: bool = True
    choices: tuple[str, ...] = ()
    required_when: tuple[str, str | bool] | None = None

    @property
    def path(self) -> str:
        return f"{self.section}.{self.key}"

    def is_required(self, content: Content) -> bool:
        if self.required_when is not None:
            path, expected = self.required_when
            value = answer(content, path)
            return value is expected if isinstance(expected, bool) else value == expected
        return self.required


def answer(content: Content, path: str) -> Any:
    """The value at `section.key`, or None."""
    section, key = path.split(".", 1)
    return content.get(section, {}).get(key)


def _unanswered(value: Any, kind: str) -> bool:
    if value is None:
        return True
    return kind in ("text", "choice", "datetime") and isinstance(value, str) and not value.strip()


def missing_fields(specs: tuple[FieldSpec, ...], content: Content) -> list[str]:
    """Required fields still unanswered, as `section.key (label)`, in form order."""
    return [
        f"{spec.path} ({spec.label_nl})"
        for spec in specs
        if spec.is_required(content) and _unanswered(answer(content, spec.path), spec.kind)
    ]


def empty_content(specs: tuple[FieldSpec, ...]) -> Content:
    """Every field present and unanswered."""
    content: Content = {}
    for spec in specs:
        content.setdefault(spec.section, {})[spec.key] = None
    return content


def _check_value(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    problem = None
    if spec.kind == "bool" and not isinstance(value, bool):
        problem = "must be true or false"
    elif spec.kind == "int" and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        problem = "must be a whole number, 0 or more"
    elif spec.kind == "list" and (
        not isinstance(value, list) or not all(isinstance(v, str) for v in value)
    ):
        problem = "must be a list of texts"
    elif spec.kind == "choice" and value not in spec.choices:
        problem = f"must be one of: {', '.join(spec.choices)}"
    elif spec.kind == "datetime":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                problem = "needs a time zone"
            else:
                return clocks.iso(value)
        elif not isinstance(value, str):
            problem = "must be a date and time"
        else:
            try:
                if datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is None:
                    problem = "needs a time zone"
            except ValueError:
                problem = "is not an ISO 8601 date and time"
    elif spec.kind == "text" and not isinstance(value, str):
        problem = "must be text"
    if problem:
        raise ValidationError(spec.path, problem)
    return value


def create_report(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    breach: Breach,
    kind: str,
    specs: tuple[FieldSpec, ...],
    prefill: Mapping[str, Any],
    parent_id: int | None = None,
) -> BreachReport:
    """A new draft with every field of `specs`, prefilled where the register knows the answer."""
    content = empty_content(specs)
    by_path = {spec.path: spec for spec in specs}
    for path, value in prefill.items():
        content[path.split(".")[0]][path.split(".", 1)[1]] = _check_value(by_path[path], value)
    report = BreachReport(
        breach_id=breach.id,
        kind=kind,
        parent_id=parent_id,
        status="draft",
        content=content,
        created_by=actor,
        created_at=clock.now(),
    )
    db.add(report)
    db.flush()
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="report_drafted",
        field=kind, after={"report_id": report.id, "parent_id": parent_id},
    )  # fmt: skip
    return report


def get_report(*, db: Session, report_id: int) -> BreachReport:
    """The report, or NotFoundError."""
    report = db.get(BreachReport, report_id)
    if report is None:
        raise NotFoundError(f"report {report_id} does not exist")
    return report


def list_reports(*, db: Session, breach_id: int) -> list[BreachReport]:
    """Every report of a breach, oldest first."""
    return list(
        db.scalars(
            select(BreachReport)
            .where(BreachReport.breach_id == breach_id)
            .order_by(BreachReport.id)
        )
    )


def update_content(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    report_id: int,
    specs: tuple[FieldSpec, ...],
    changes: Mapping[str, Any],
) -> BreachReport:
    """Answer or change fields (`{"section.key": value}`) of a draft; each change is history."""
    by_path = {spec.path: spec for spec in specs}
    checked = {}
    for path, value in changes.items():
        if path not in by_path:
            raise ValidationError(path, "not a field of this report")
        checked[path] = _check_value(by_path[path], value)
    report = get_report(db=db, report_id=report_id)
    if report.status != "draft":
        raise ValidationError(
            "status", f"report {report_id} is {report.status}; only drafts change"
        )
    breach = get_breach(db=db, breach_id=report.breach_id)
    content = {section: dict(values) for section, values in report.content.items()}
    for path, value in checked.items():
        section, key = path.split(".", 1)
        before = content.setdefault(section, {}).get(key)
        if before == value:
            continue
        content[section][key] = value
        log_change(
            db=db, clock=clock, breach=breach, actor=actor, action="report_edited",
            field=f"{report.kind}:{path}", before=before, after=value,
        )  # fmt: skip
    report.content = content
    db.flush()
    return report


def require_dpo(user: User) -> None:
    """Finalising, withdrawing and approving are the DPO's (FG's) acts."""
    if user.role != Role.DPO or not user.active:
        raise ValidationError("dpo", "only an active DPO (FG) may do this")


def finalise(
    *,
    db: Session,
    clock: Clock,
    dpo: User,
    report: BreachReport,
    breach: Breach,
    specs: tuple[FieldSpec, ...],
    late: bool,
    delay_reason_path: str | None,
) -> None:
    """Checks shared by every report; marks it final in the caller's transaction."""
    require_dpo(dpo)
    refuse_exercise(breach, f"finalising {report.kind}")
    if report.status != "draft":
        raise ValidationError("status", f"report {report.id} is {report.status}, not a draft")
    missing = missing_fields(specs, report.content)
    if late and delay_reason_path is not None:
        reason = answer(report.content, delay_reason_path)
        if not (isinstance(reason, str) and reason.strip()):
            missing.append(f"{delay_reason_path} (reden van de vertraging: de melding is te laat)")
    if missing:
        raise ValidationError(
            "report", f"cannot finalise {report.kind}; missing: {'; '.join(missing)}"
        )
    report.status = "final"
    report.finalised_by = dpo.username
    report.finalised_at = clock.now()
    log_change(
        db=db, clock=clock, breach=breach, actor=dpo.username, action="report_finalised",
        field=report.kind, after={"report_id": report.id, "late": late},
    )  # fmt: skip


def open_report(*, db: Session, report_id: int) -> tuple[BreachReport, Breach]:
    """Take the write lock, then the report and its breach (the start of every change to one)."""
    report = get_report(db=db, report_id=report_id)
    return report, get_breach(db=db, breach_id=report.breach_id)


def finalise_draft(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    dpo: User,
    report: BreachReport,
    breach: Breach,
    specs: tuple[FieldSpec, ...],
    clock_name: str | None,
    delay_reason_path: str,
    then: Callable[[], None] | None = None,
) -> bool:
    """`finalise` against the deadline `clock_name` (None: no deadline), then `then`, in the
    caller's transaction; rolls it back on any refusal. Returns whether the report was late."""
    late = clock_name is not None and clocks.is_late(
        db=db, clock=clock, settings=settings, breach=breach, clock_name=clock_name
    )
    finalise(
        db=db, clock=clock, dpo=dpo, report=report, breach=breach, specs=specs,
        late=late, delay_reason_path=delay_reason_path,
    )  # fmt: skip
    if then is not None:
        then()
    return late


def withdraw(*, db: Session, clock: Clock, dpo: User, report_id: int, reason: str) -> BreachReport:
    """Record that a final report was withdrawn at the authority (e.g. no breach after all)."""
    require_dpo(dpo)
    if not reason.strip():
        raise ValidationError("reason", "say why the report is withdrawn")
    report, breach = open_report(db=db, report_id=report_id)
    if report.status != "final":
        raise ValidationError("status", "only a final report can be withdrawn; delete drafts")
    report.status = "withdrawn"
    report.withdrawn_reason = reason
    log_change(
        db=db, clock=clock, breach=breach, actor=dpo.username, action="report_withdrawn",
        field=report.kind, before="final", after="withdrawn", note=reason,
    )  # fmt: skip
    db.flush()
    return report


def set_authority_reference(
    *, db: Session, clock: Clock, actor: str, report_id: int, reference: str
) -> BreachReport:
    """Store the number the authority gave the report (the AP's meldingsnummer)."""
    reference = reference.strip()
    if not reference or len(reference) > 100:
        raise ValidationError("reference", "must be 1-100 characters")
    report, breach = open_report(db=db, report_id=report_id)
    refuse_exercise(breach, "storing an authority reference")
    if report.status == "draft":
        raise ValidationError("status", "finalise the report before storing its reference")
    before = report.authority_reference
    report.authority_reference = reference
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="report_reference",
        field=report.kind, before=before, after=reference,
    )  # fmt: skip
    db.flush()
    return report
