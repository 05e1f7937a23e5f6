"""The software inventory: import from CSV or a CycloneDX SBOM, list, and items as log sources.

Each row or component becomes one item, keyed by its purl, else its CPE, else
`vendor:product:version`, so importing the same file again updates instead of duplicating.
Problems are located (`file:row: field: problem` or `components[3].purl`) and never stop the
rest of the file from loading.

CSV columns (header row, UTF-8, comma): vendor, product, version, owner, exposure (internet or
internal) are required; cpe, purl and log_source are optional.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from advisories.identifiers import parse_cpe, parse_purl
from advisories.models import InventoryItem
from core import audit
from core.clock import Clock
from core.content import Issue
from core.errors import ValidationError

EXPOSURES = ("internet", "internal")
CSV_REQUIRED = ("vendor", "product", "version", "owner", "exposure")
CSV_OPTIONAL = ("cpe", "purl", "log_source")
# The column sizes of inventory_items: longer values are refused, naming the field.
MAX_LENGTH = {"vendor": 200, "product": 200, "version": 100, "owner": 200, "cpe": 500,
              "purl": 500, "log_source": 64, "exposure": 20}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ItemIn:
    """An item as read from a file, checked, before it is stored."""

    vendor: str
    product: str
    version: str
    owner: str
    exposure: str
    cpe: str | None = None
    purl: str | None = None
    log_source: str | None = None

    @property
    def ref(self) -> str:
        return self.purl or self.cpe or f"{self.vendor}:{self.product}:{self.version}".lower()


@dataclass
class ImportReport:
    """What an import did: counts, and every problem with where it is."""

    added: int = 0
    updated: int = 0
    issues: list[Issue] = field(default_factory=list)
    log_sources: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for issue in self.issues if issue.is_error)


def _text(value: Any, name: str, *, required: bool) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise ValidationError(name, "is required")
        return None
    limit = MAX_LENGTH.get(name, 200)
    if len(text) > limit:
        raise ValidationError(name, f"longer than {limit} characters")
    return text


def check_item(values: Mapping[str, Any], *, default_owner: str | None = None) -> ItemIn:
    """One item from a mapping of column names; the first problem is a ValidationError."""
    owner = _text(values.get("owner"), "owner", required=default_owner is None) or default_owner
    exposure = (_text(values.get("exposure"), "exposure", required=True) or "").lower()
    if exposure not in EXPOSURES:
        raise ValidationError("exposure", f"must be internet or internal, got {exposure!r}")
    cpe = _text(values.get("cpe"), "cpe", required=False)
    purl = _text(values.get("purl"), "purl", required=False)
    if cpe is not None:
        parse_cpe(cpe)
    if purl is not None:
        parse_purl(purl)
    log_source = _text(values.get("log_source"), "log_source", required=False)
    return ItemIn(
        vendor=_text(values.get("vendor"), "vendor", required=True) or "",
        product=_text(values.get("product"), "product", required=True) or "",
        version=_text(values.get("version"), "version", required=True) or "",
        owner=owner or "",
        exposure=exposure,
        cpe=cpe,
        purl=purl,
        log_source=log_source,
    )


def read_csv(text: str, *, source: str) -> tuple[list[ItemIn], list[Issue]]:
    """Items from CSV text (see the module docstring); one Issue per bad row, with its line."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        return [], [Issue(source, 1, "header", f"missing column(s): {', '.join(missing)}")]
    unknown = [n for n in header if n not in CSV_REQUIRED + CSV_OPTIONAL]
    issues = [
        Issue(source, 1, "header", f"unknown column {n!r} ignored", "warning") for n in unknown
    ]
    items: list[ItemIn] = []
    for row in reader:
        values = {(k or "").strip().lower(): v for k, v in row.items()}
        try:
            items.append(check_item(values))
        except ValidationError as exc:
            issues.append(Issue(source, reader.line_num, exc.field, exc.problem))
    return items, issues


def read_cyclonedx(
    text: str, *, source: str, owner: str, exposure: str
) -> tuple[list[ItemIn], list[Issue]]:
    """Items from a CycloneDX JSON SBOM, one per component (nested ones too).

    Each component is read with cyclonedx-python-lib's own deserialiser, one at a time, so a
    bad component is reported as `components[i]...` and the others still load. The SBOM has no
    owner or exposure: the caller gives them for the whole file.
    """
    from cyclonedx.model.component import Component  # noqa: PLC0415 - cyclonedx: +98 ms on start-up

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [Issue(source, exc.lineno, "(document)", f"not JSON: {exc.msg}")]
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        return [], [Issue(source, None, "bomFormat", "must be CycloneDX")]
    if "components" in doc and not isinstance(doc["components"], list):
        return [], [Issue(source, None, "components", "must be a list")]
    items: list[ItemIn] = []
    issues: list[Issue] = []
    for path, raw in _components(doc.get("components") or [], "components"):
        try:
            component = Component.from_json(raw)  # type: ignore[attr-defined]
        except Exception as exc:  # py-serializable raises whatever the field's type raises
            issues.append(Issue(source, None, path, f"not a CycloneDX component: {exc}"))
            continue
        vendor = component.group or (component.supplier.name if component.supplier else None)
        purl = str(component.purl) if component.purl is not None else None
        values = {
            "vendor": vendor or (component.purl.namespace if component.purl else None) or "-",
            "product": component.name,
            "version": component.version,
            "cpe": component.cpe,
            "purl": purl,
            "owner": owner,
            "exposure": exposure,
        }
        try:
            items.append(check_item(values))
        except ValidationError as exc:
            issues.append(Issue(source, None, f"{path}.{exc.field}", exc.problem))
    return items, issues


def _components(raw: Iterable[Any], path: str) -> Iterable[tuple[str, Any]]:
    for index, component in enumerate(raw):
        here = f"{path}[{index}]"
        yield here, component
        nested = component.get("components") if isinstance(component, dict) else None
        if isinstance(nested, list):
            yield from _components(nested, f"{here}.components")


def store_items(
    *, db: Session, clock: Clock, items: Iterable[ItemIn], origin: str, actor: str
) -> ImportReport:
    """Add or update items by their ref; audited once per import with the counts."""
    report = ImportReport()
    now = clock.now()
    for item in items:
        row = db.scalar(select(InventoryItem).where(InventoryItem.ref == item.ref))
        if row is None:
            row = InventoryItem(ref=item.ref, created_at=now)
            db.add(row)
            report.added += 1
        else:
            report.updated += 1
        row.vendor, row.product, row.version = item.vendor, item.product, item.version
        row.cpe, row.purl, row.owner, row.exposure = item.cpe, item.purl, item.owner, item.exposure
        row.log_source = item.log_source
        row.origin = origin[:300]
        row.updated_at = now
        if item.log_source and item.log_source not in report.log_sources:
            report.log_sources.append(item.log_source)
    db.flush()
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="inventory.imported",
        object_type="inventory",
        details={"origin": origin, "added": report.added, "updated": report.updated},
    )
    return report


def list_items(*, db: Session) -> list[InventoryItem]:
    """Every item, by vendor, product and version."""
    order = (InventoryItem.vendor, InventoryItem.product, InventoryItem.version)
    return list(db.scalars(select(InventoryItem).order_by(*order)))
