"""The compliance report (HTML, PDF, CSV; Dutch and English) and the signed evidence package.

Per measure the report says what was checked (the catalogue's evidence description), when and
by what (the check and who ran it), the result (status and reason), which ENSIA parts it helps
answer, and the evidence items with their hashes. Labels are per language (the report-label
approach of the resident access report); the reasons the checks write are English in both.

The evidence package is a ZIP signed by the platform key (`core.signed_zip`): the report in
both languages as PDF, the CSV, the catalogue file the checks used and one JSON file per
evidence item whose SHA-256 is the item's hash on the page.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from compliance.catalogue import CATALOGUE_DIR
from compliance.models import EvidenceItem
from compliance.schemas import Catalogue
from compliance.status import MeasureView, canonical_json, evidence_document, measure_views
from core import audit
from core.clock import Clock, utc_iso
from core.config import Settings
from core.errors import ValidationError
from core.signed_zip import SignedZip, build_signed_zip, verify_signed_zip

Lang = Literal["nl", "en"]
FORMATS = ("html", "pdf", "csv")
TEMPLATES = Path(__file__).resolve().parent / "templates"

LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Verantwoording informatiebeveiliging",
        "year": "Verslagjaar",
        "generated": "Opgesteld op",
        "by": "door",
        "intro": "Per maatregel: wat het platform controleerde, wanneer en waarmee, de uitkomst, "
        "en bij welke ENSIA-vragen het bewijs helpt. Bewijsstukken hebben een SHA-256 over hun "
        "canonieke JSON; het bewijspakket bevat ze met een ondertekend manifest.",
        "measure": "Maatregel",
        "control": "Beheersmaatregel",
        "owner": "Eigenaar",
        "checked": "Wat is gecontroleerd",
        "when": "Wanneer",
        "how": "Waarmee",
        "result": "Uitkomst",
        "reason": "Toelichting",
        "ensia": "ENSIA",
        "evidence": "Bewijs",
        "source": "Bron",
        "summary": "Omschrijving",
        "none": "Geen bewijs vastgelegd in dit jaar.",
        "never": "nog niet gecontroleerd",
        "every": "Controle elke {days} dagen",
        "status.met": "voldaan",
        "status.at_risk": "risico",
        "status.not_met": "niet voldaan",
        "status.not_evidenced": "geen bewijs",
        "summary_counts": "Samenvatting",
    },
    "en": {
        "title": "Information security accountability",
        "year": "Reporting year",
        "generated": "Generated on",
        "by": "by",
        "intro": "Per measure: what the platform checked, when and by what, the result, and "
        "which ENSIA questions the evidence helps answer. Evidence items carry a SHA-256 over "
        "their canonical JSON; the evidence package holds them with a signed manifest.",
        "measure": "Measure",
        "control": "Control",
        "owner": "Owner",
        "checked": "What was checked",
        "when": "When",
        "how": "By what",
        "result": "Result",
        "reason": "Explanation",
        "ensia": "ENSIA",
        "evidence": "Evidence",
        "source": "Source",
        "summary": "Description",
        "none": "No evidence recorded in this year.",
        "never": "not checked yet",
        "every": "Checked every {days} days",
        "status.met": "met",
        "status.at_risk": "at risk",
        "status.not_met": "not met",
        "status.not_evidenced": "not evidenced",
        "summary_counts": "Summary",
    },
}
CSV_COLUMNS = (
    "framework", "edition", "measure", "control", "title", "owner", "status", "reason",
    "checked_at", "checked_by", "check", "ensia", "evidence_items", "evidence_sha256",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Report:
    """One rendered report and its media type."""

    content: bytes
    media_type: str
    filename: str


def _lang(lang: str) -> Lang:
    if lang not in LABELS:
        raise ValidationError("lang", f"must be nl or en, got {lang!r:.20}")
    return "nl" if lang == "nl" else "en"


def _in_year(item: EvidenceItem, year: int) -> bool:
    return item.at is None or item.at.year == year


def _views(db: Session, framework: str, year: int) -> tuple[Catalogue, list[MeasureView]]:
    if not 2000 <= year <= 2100:
        raise ValidationError("year", f"must be a year between 2000 and 2100, got {year}")
    catalogue, views = measure_views(db=db, framework=framework, evidence=True)
    for view in views:
        view.evidence = [item for item in view.evidence if _in_year(item, year)]
    return catalogue, views


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )


def report_html(
    *, catalogue: Catalogue, views: list[MeasureView], year: int, lang: str, now: datetime,
    actor: str,
) -> str:  # fmt: skip
    """The report as an HTML document (autoescaped; no external resources)."""
    language = _lang(lang)
    labels = LABELS[language]
    counts = {status: sum(1 for v in views if v.status == status) for status in (
        "met", "at_risk", "not_met", "not_evidenced")}  # fmt: skip
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            catalogue=catalogue,
            views=views,
            year=year,
            lang=language,
            t=labels,
            counts=counts,
            generated=utc_iso(now),
            actor=actor,
        )
    )


def report_csv(*, catalogue: Catalogue, views: list[MeasureView], lang: str) -> str:
    """One row per measure (UTF-8, comma-separated), for spreadsheets and ENSIA answers."""
    language = _lang(lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for view in views:
        measure = view.measure
        writer.writerow([
            catalogue.framework, catalogue.edition, measure.id, measure.control,
            getattr(measure.title, language), measure.owner, view.status, view.reason_in(language),
            "" if view.checked_at is None else utc_iso(view.checked_at), view.checked_by or "",
            measure.check, "; ".join(measure.ensia), len(view.evidence),
            " ".join(item.sha256 for item in view.evidence),
        ])  # fmt: skip
    return buffer.getvalue()


def _pdf(html: str) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 - weasyprint: +1.19 s on start-up

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"external resource refused: {url[:80]}")

    pdf = HTML(string=html, url_fetcher=no_fetch).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def build_report(
    *, db: Session, clock: Clock, framework: str, year: int, fmt: str, lang: str, actor: str
) -> Report:
    """The report of `framework` for `year` as html, pdf or csv, in nl or en."""
    if fmt not in FORMATS:
        raise ValidationError("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r:.20}")
    catalogue, views = _views(db, framework, year)
    stem = f"{catalogue.framework}-{catalogue.edition}-{year}-{_lang(lang)}"
    if fmt == "csv":
        text = report_csv(catalogue=catalogue, views=views, lang=lang)
        return Report(text.encode("utf-8"), "text/csv; charset=utf-8", f"{stem}.csv")
    html = report_html(
        catalogue=catalogue, views=views, year=year, lang=lang, now=clock.now(), actor=actor
    )
    if fmt == "html":
        return Report(html.encode("utf-8"), "text/html; charset=utf-8", f"{stem}.html")
    return Report(_pdf(html), "application/pdf", f"{stem}.pdf")


def evidence_package(
    *, db: Session, clock: Clock, settings: Settings, framework: str, year: int, actor: str
) -> SignedZip:
    """The signed ZIP for the auditor. Only reads: the boundary records who took it (the page's
    audited read, or `record_package_export` in the command)."""
    catalogue, views = _views(db, framework, year)
    now = clock.now()
    stem = f"{catalogue.framework}-{catalogue.edition}-{year}"
    members: dict[str, bytes] = {}
    for lang in ("nl", "en"):
        html = report_html(
            catalogue=catalogue, views=views, year=year, lang=lang, now=now, actor=actor
        )
        members[f"{stem}-{lang}.pdf"] = _pdf(html)
    members[f"{stem}.csv"] = report_csv(catalogue=catalogue, views=views, lang="nl").encode()
    catalogue_file = f"{catalogue.framework}-{catalogue.edition}.yml"
    members[f"catalogue/{catalogue_file}"] = (CATALOGUE_DIR / catalogue_file).read_bytes()
    for view in views:
        for item in view.evidence:
            name = f"evidence/{view.measure.id}/{item.id:06d}-{item.kind}.json"
            members[name] = canonical_json(evidence_document(item))
    return build_signed_zip(settings=settings, members=members)


def record_package_export(
    *, db: Session, clock: Clock, actor: str, framework: str, year: int, package: SignedZip
) -> None:
    """Put an export of the evidence package on the record (in the caller's write unit)."""
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="compliance.package_exported",
        object_type="compliance_package",
        object_id=f"{framework}:{year}",
        details={"files": len(package.manifest), "manifest_sha256": package.manifest_sha256},
    )


def verify_package(data: bytes, *, public_key: str) -> list[str]:
    """Problems in an evidence package (empty: every file matches the signed manifest)."""
    return verify_signed_zip(data, public_key=public_key)
