"""Exports: the register (CSV, PDF) and reports to authorities (JSON, PDF).

An exercise breach never produces a real-looking export: its reports carry `"exercise"` and
`"real": false` in JSON and an OEFENING / EXERCISE banner, header and watermark on every PDF
page; no option turns that off. The register leaves exercises out unless asked, and then marks
each such row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from playbooks.breach import clocks, rendering
from playbooks.breach.form_specs import form, form_of
from playbooks.breach.models import Breach, BreachReport
from playbooks.breach.register import get_breach, list_breaches
from playbooks.breach.reports import FieldSpec, get_report, missing_fields

WATERMARK = "OEFENING / EXERCISE - NIET ECHT / NOT REAL"
REPORT_TITLES = {
    "ap_initial": (
        "Melding datalek aan de Autoriteit Persoonsgegevens",
        "Data breach notification to the AP",
    ),
    "ap_followup": ("Vervolgmelding datalek aan de AP", "Follow-up notification to the AP"),
    "nis2_early_warning": ("Cbw/NIS2 vroegtijdige waarschuwing", "NIS2 early warning"),
    "nis2_notification": ("Cbw/NIS2 incidentmelding", "NIS2 incident notification"),
    "nis2_final": ("Cbw/NIS2 eindrapport", "NIS2 final report"),
}
SECTION_TITLES = {
    "melding": ("0. Over deze melding", "0. About this notification"),
    "contact": ("1. Contactgegevens", "1. Contact details"),
    "tijdlijn": ("2. Tijdlijn", "2. Timeline"),
    "datalek": ("3. Gegevens over het datalek", "3. About the breach"),
    "persoonsgegevens": ("4. Persoonsgegevens", "4. Personal data"),
    "betrokkenen": ("5. Betrokken personen", "5. People affected"),
    "maatregelen_vooraf": ("6. Maatregelen vóór het datalek", "6. Protection before the breach"),
    "gevolgen": ("7. Gevolgen", "7. Consequences"),
    "vervolg": ("8. Vervolgacties", "8. Follow-up"),
    "overig": ("9. Overig", "9. Other"),
    "entiteit": ("Entiteit en contact", "Entity and contact"),
    "incident": ("Incident", "Incident"),
    "beoordeling": ("Eerste beoordeling", "Initial assessment"),
    "eindrapport": ("Eindrapport", "Final report"),
}
REGISTER_COLUMNS = (
    "oefening", "kenmerk", "titel", "status", "herkomst", "bekend_sinds_utc", "bekend_sinds_lokaal",
    "deadline_ap_lokaal", "systemen", "soort_inbreuk", "persoonsgegevens", "bijzondere_gegevens",
    "betrokkenen", "aantal_min", "aantal_max", "aantal_records", "feiten", "gevolgen",
    "herstelmaatregelen", "ernst", "besluit", "reden_besluit", "besloten_door", "ap_gemeld_op",
    "ap_kenmerk", "betrokkenen_geinformeerd", "reden_vertraging",
)  # fmt: skip


def _specs(kind: str) -> tuple[FieldSpec, ...]:
    return form(form_of(kind))


def _cell(value: Any) -> str:
    text = "; ".join(value) if isinstance(value, list) else "" if value is None else str(value)
    # CSV injection: a spreadsheet must not run a cell that starts like a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _register_row(db: Session, breach: Breach, settings: Settings) -> list[str]:
    ap = db.scalar(
        select(BreachReport)
        .where(
            BreachReport.breach_id == breach.id,
            BreachReport.kind == "ap_initial",
            BreachReport.status != "draft",
        )
        .order_by(BreachReport.id)
    )
    outcome = (breach.assessment or {}).get("outcome") or {}
    due = clocks.due_times(breach, settings, {})["gdpr_ap"]
    values: list[Any] = [
        WATERMARK if breach.is_exercise else "",
        breach.reference, breach.title, breach.state,
        f"{breach.origin}:{breach.origin_ref}" if breach.origin_ref else breach.origin,
        clocks.iso(breach.aware_at), clocks.show(breach.aware_at, settings),
        clocks.show(due, settings), breach.systems, breach.breach_types, breach.data_categories,
        breach.special_categories, breach.subject_categories, breach.subjects_min,
        breach.subjects_max, breach.records_estimate,
        breach.facts, breach.effects, breach.remedial_actions,
        f"{outcome['band']} ({outcome['score']:g})" if outcome else "",
        breach.decision, breach.decision_reason, breach.decided_by,
        clocks.show(ap.finalised_at, settings) if ap and ap.finalised_at else "",
        ap.authority_reference if ap else "", breach.subjects_informed, breach.delay_reason,
    ]  # fmt: skip
    return [_cell(v) for v in values]


def register_csv(*, db: Session, settings: Settings, include_exercises: bool = False) -> str:
    """The register as CSV (UTF-8, one row per breach, newest first)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_COLUMNS)
    for breach in list_breaches(db=db, include_exercises=include_exercises):
        writer.writerow(_register_row(db, breach, settings))
    return out.getvalue()


def register_pdf(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    include_exercises: bool = False,
    lang: str = "nl",
) -> bytes:
    """The register as a landscape-friendly PDF table of the key columns."""
    keep = (1, 2, 3, 6, 7, 10, 12, 14, 19, 20, 21, 23)
    rows = []
    has_exercise = False
    for breach in list_breaches(db=db, include_exercises=include_exercises):
        full = _register_row(db, breach, settings)
        has_exercise = has_exercise or breach.is_exercise
        row = [full[i] for i in keep]
        if breach.is_exercise:
            row[0] = f"OEFENING {row[0]}"
        rows.append(row)
    html = rendering.render(
        "register.html.j2",
        lang=lang,
        exercise="in deze lijst / in this list" if has_exercise else None,
        organisation=settings.organisation_name,
        generated=clocks.show(clock.now(), settings),
        columns=[REGISTER_COLUMNS[i] for i in keep],
        rows=rows,
    )
    return rendering.to_pdf(html)


def _show(value: Any, kind: str, lang: str, settings: Settings) -> str:
    words = rendering.I18N[lang]
    if value is None:
        return words["unanswered"]
    if kind == "bool":
        return words["yes"] if value else words["no"]
    if kind == "list":
        return ", ".join(value) if value else words["none"]
    if kind == "datetime":
        return clocks.show(datetime.fromisoformat(str(value).replace("Z", "+00:00")), settings)
    return str(value)


def specs_for(kind: str) -> tuple[FieldSpec, ...]:
    """Every question of a report kind (AP notification or NIS2/Cbw stage), in form order."""
    return _specs(kind)


def content_sha256(report: BreachReport) -> str:
    """SHA-256 of the report's answers as canonical JSON: what a finalised report is frozen as.

    Both exports carry it, so a PDF on file can be checked against the JSON and the register.
    """
    canonical = json.dumps(
        report.content, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def report_json(*, db: Session, clock: Clock, settings: Settings, report_id: int) -> dict[str, Any]:
    """A report as a JSON-ready dict; exercises are marked and never `real`."""
    report = get_report(db=db, report_id=report_id)
    breach = get_breach(db=db, breach_id=report.breach_id)
    data: dict[str, Any] = {
        "real": not breach.is_exercise,
        "breach": breach.reference,
        "kind": report.kind,
        "status": report.status,
        "parent_id": report.parent_id,
        "authority_reference": report.authority_reference,
        "aware_at": clocks.iso(breach.aware_at),
        "finalised_at": clocks.iso(report.finalised_at) if report.finalised_at else None,
        "generated_at": clocks.iso(clock.now()),
        "missing": missing_fields(_specs(report.kind), report.content),
        "content": report.content,
        "sha256": content_sha256(report),
    }
    if breach.is_exercise:
        data = {"exercise": {"exercise_id": breach.exercise_id, "watermark": WATERMARK}, **data}
    return data


def report_pdf(
    *, db: Session, clock: Clock, settings: Settings, report_id: int, lang: str = "nl"
) -> bytes:
    """A report as PDF with every section, what is missing, and the deadline in local time."""
    return rendering.to_pdf(
        report_html(db=db, clock=clock, settings=settings, report_id=report_id, lang=lang)
    )


def report_html(
    *, db: Session, clock: Clock, settings: Settings, report_id: int, lang: str = "nl"
) -> str:
    """The HTML behind `report_pdf` (also what a dashboard page can show)."""
    report = get_report(db=db, report_id=report_id)
    breach = get_breach(db=db, breach_id=report.breach_id)
    index = 0 if lang == "nl" else 1
    specs = _specs(report.kind)
    missing = set(missing_fields(specs, report.content))
    sections: list[dict[str, Any]] = []
    for spec in specs:
        if not sections or sections[-1]["key"] != spec.section:
            title = SECTION_TITLES.get(spec.section, (spec.section, spec.section))[index]
            sections.append({"key": spec.section, "title": title, "rows": []})
        value = report.content.get(spec.section, {}).get(spec.key)
        sections[-1]["rows"].append(
            {
                "label": spec.label_nl if lang == "nl" else spec.label_en,
                "value": _show(value, spec.kind, lang, settings),
                "missing": f"{spec.path} ({spec.label_nl})" in missing,
            }
        )
    parent = get_report(db=db, report_id=report.parent_id) if report.parent_id else None
    clock_name = {"nis2_final": "nis2_final_report"}.get(report.kind, report.kind)
    due = clocks.due_times(breach, settings, {}).get(
        "gdpr_ap" if report.kind.startswith("ap_") else clock_name
    )
    return rendering.render(
        "report.html.j2",
        lang=lang,
        exercise=breach.exercise_id,
        title=REPORT_TITLES[report.kind][index],
        reference=breach.reference,
        status=report.status,
        authority_reference=report.authority_reference,
        parent_reference=(parent.authority_reference or f"#{parent.id}") if parent else None,
        aware=clocks.show(breach.aware_at, settings),
        deadline=clocks.show(due, settings),
        generated=clocks.show(clock.now(), settings),
        sha256=content_sha256(report),
        missing=sorted(missing, key=[f"{s.path} ({s.label_nl})" for s in specs].index),
        sections=sections,
    )
