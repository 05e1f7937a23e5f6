"""The DPO area's reads, composed from the breach workflow's own service functions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.errors import NotFoundError, ValidationError
from core.privacy.service import pseudonyms_in
from core.store.base import AlertStore
from dashboard.services.dpo_words import time_left
from playbooks import service as playbook_service
from playbooks.breach.models import Breach, BreachChange, BreachReport, LetterBatch
from playbooks.breach.service import (
    CLOCK_REPORT,
    FieldSpec,
    batches_of,
    deadlines,
    get_breach,
    history,
    list_reports,
    missing,
)


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report draft with what it still lacks before it can go to the authority."""

    report: BreachReport
    missing: list[str]


@dataclass(frozen=True, slots=True)
class BreachView:
    """One register entry with its history, reports and letter batches."""

    breach: Breach
    changes: list[BreachChange]
    reports: list[ReportView]
    batches: list[LetterBatch]


def report_missing(report: BreachReport) -> list[str]:
    """Missing fields by the report's own kind (AP notification or NIS2/Cbw report)."""
    if report.kind.startswith(("ap_", "nis2_")):
        return missing(report.kind, report.content)
    return []


def breach_view(*, db: Session, breach_id: int) -> BreachView:
    """Everything the breach page shows; NotFoundError when the id is unknown."""
    breach = get_breach(db=db, breach_id=breach_id)
    reports = [ReportView(r, report_missing(r)) for r in list_reports(db=db, breach_id=breach.id)]
    return BreachView(
        breach,
        history(db=db, breach_id=breach.id),
        reports,
        batches_of(db=db, breach_id=breach.id),
    )


def jsonable(value: Any) -> Any:
    """Datetimes as ISO strings for the JSON API; everything else as stored."""
    return value.isoformat() if hasattr(value, "isoformat") else value


# --- Form parsing: HTML forms give strings; the breach services want typed values. ---

_LIST_SPLIT = re.compile(r"[\n;,]+")
BREACH_TEXT_FIELDS = ("title", "facts", "cause", "effects", "remedial_actions")
BREACH_LIST_FIELDS = ("data_categories", "subject_categories", "systems")
BREACH_INT_FIELDS = ("subjects_min", "subjects_max")
ASSESSMENT_FLAGS = (
    "malicious_intent", "special_categories_involved", "data_unintelligible",
    "risk_no_longer_likely", "disproportionate_effort",
)  # fmt: skip
ASSESSMENT_INTS = (
    "dpc_base", "dpc_adjustment", "loss_of_confidentiality", "loss_of_integrity",
    "loss_of_availability", "number_of_individuals",
)  # fmt: skip
ASSESSMENT_TEXTS = (
    "ease_of_identification", "dpc_adjustment_reason", "nature_sensitivity_volume",
    "severity_of_consequences", "special_characteristics_of_individuals",
    "special_characteristics_of_controller", "notes",
)  # fmt: skip


def split_list(text: str) -> list[str]:
    """'a, b; c' or one per line -> ['a', 'b', 'c']."""
    return [part.strip() for part in _LIST_SPLIT.split(text) if part.strip()]


def _whole(name: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationError(name, f"{text!r} is not a whole number") from None


def report_deadline(
    *, db: Session, clock: Clock, settings: Settings, report: Any, breach: Breach
) -> tuple[Any, Any] | None:
    """The legal deadline this report meets (AP 72 h, NIS2 24 h / 72 h / 1 month) with the time
    left; None for a follow-up notification, which has no clock of its own."""

    for item in deadlines(db=db, clock=clock, settings=settings, breach_id=breach.id):
        if CLOCK_REPORT.get(item.clock) == report.kind:
            return item, time_left(item.due_at, clock.now())
    return None


def breach_changes(form: Mapping[str, str]) -> dict[str, Any]:
    """The facts form as `update_breach` changes; only fields present in the form."""
    changes: dict[str, Any] = {}
    for name in BREACH_TEXT_FIELDS:
        if name in form:
            changes[name] = form[name].strip()
    for name in BREACH_LIST_FIELDS:
        if name in form:
            changes[name] = split_list(form[name])
    for name in BREACH_INT_FIELDS:
        if name in form:
            changes[name] = _whole(name, form[name]) if form[name].strip() else None
    if "breach_types_shown" in form:
        changes["breach_types"] = [
            t for t in ("confidentiality", "integrity", "availability") if form.get(f"type_{t}")
        ]
    if changes.get("title") == "":
        raise ValidationError("title", "give the breach a short title")
    return changes


def assessment_answers(form: Mapping[str, str]) -> dict[str, Any]:
    """The guided assessment form as `record_assessment` answers."""
    answers: dict[str, Any] = {name: bool(form.get(name)) for name in ASSESSMENT_FLAGS}
    for name in ASSESSMENT_INTS:
        value = form.get(name, "").strip()
        if value:
            answers[name] = _whole(name, value)
    for name in ASSESSMENT_TEXTS:
        if name in form:
            answers[name] = form[name].strip()
    return answers


def report_changes(
    specs: Sequence[FieldSpec], form: Mapping[str, str], settings: Settings
) -> dict[str, Any]:
    """A report form (`section.key` -> text) as typed answers; empty means unanswered."""
    zone = ZoneInfo(settings.timezone)
    changes: dict[str, Any] = {}
    for spec in specs:
        if spec.path not in form:
            continue
        text = form[spec.path].strip()
        value: Any = None
        if not text:
            value = None
        elif spec.kind == "bool":
            value = text == "ja"
        elif spec.kind == "int":
            value = _whole(spec.path, text)
        elif spec.kind == "list":
            value = split_list(text)
        elif spec.kind == "datetime":
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ValidationError(spec.path, f"{text!r} is not a date and time") from None
            value = (moment if moment.tzinfo else moment.replace(tzinfo=zone)).isoformat()
        else:
            value = text
        changes[spec.path] = value
    return changes


def form_value(spec: FieldSpec, value: Any, settings: Settings) -> str:
    """A stored answer as the text its form field shows."""
    if value is None:
        return ""
    if spec.kind == "bool":
        return "ja" if value else "nee"
    if spec.kind == "list":
        return "\n".join(str(v) for v in value)
    if spec.kind == "datetime":
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M")
    return str(value)


@dataclass(frozen=True, slots=True)
class LinkedIncident:
    """The incident a breach came from, and its alerts, as the DPO may see them."""

    id: int
    title: str
    status: str
    severity: str
    alerts: list[dict[str, Any]]
    pseudonyms: list[str]


def linked_incident(*, db: Session, alerts: AlertStore, breach: Breach) -> LinkedIncident | None:
    """The breach's incident with its alerts (rule, level, time, host); None when not linked.

    Personal data in alerts is shown as pseudonyms only; the caller audits the read.
    """
    if breach.origin != "incident" or not (breach.origin_ref or "").isdigit():
        return None
    try:
        incident = playbook_service.get_incident(db=db, incident_id=int(breach.origin_ref or 0))
    except NotFoundError:
        return None
    rows: list[dict[str, Any]] = []
    people: set[str] = set()
    for alert_id in playbook_service.alert_ids(db=db, incident_id=incident.id)[:50]:
        try:
            alert = alerts.get(alert_id)
        except NotFoundError:
            continue
        people.update(pseudonyms_in(alert.body))
        rows.append(
            {"id": alert.id, "rule": alert.rule_title, "level": alert.level,
             "host": alert.host_name or "–", "at": alert.created_at}
        )  # fmt: skip
    return LinkedIncident(
        incident.id, incident.title, incident.status, incident.severity, rows, sorted(people)
    )
