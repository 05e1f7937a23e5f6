"""The advisories domain's public API: the inventory, CSAF advisories, matches, accepted risks.

The dashboard and the CLI import only this module. Reading files or a provider over the
network (`read_documents`) happens before the caller opens its write unit; storing
(`import_documents`, `import_inventory`) happens inside it. Services never commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from advisories import csaf
from advisories.feed import Document, read_documents
from advisories.inventory import (
    EXPOSURES,
    ImportReport,
    list_items,
    read_csv,
    read_cyclonedx,
    store_items,
)
from advisories.register import (
    StoreResult,
    accept_risk,
    inventory_index,
    list_advisories,
    overview,
    refresh,
)
from advisories.register import store_advisory as _store_advisory
from collectors import service as collectors
from core.clock import Clock
from core.content import Issue

__all__ = [
    "accept_risk",
    "import_documents",
    "import_inventory",
    "list_advisories",
    "list_items",
    "overview",
    "parse_upload",
    "read_documents",
]


@dataclass
class AdvisoryImport:
    """What an advisory import did: one result per stored document, and every problem."""

    results: list[StoreResult] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return len(self.results)

    @property
    def incidents_opened(self) -> list[int]:
        return [r.incident_id for r in self.results if r.incident_opened and r.incident_id]


def import_documents(
    *, db: Session, clock: Clock, documents: Sequence[Document], actor: str
) -> AdvisoryImport:
    """Validate each document as CSAF 2.0, store the valid ones, match and open incidents.

    An invalid document is skipped with its problems; the others still load.
    """
    report = AdvisoryImport()
    index = inventory_index(db=db) if documents else None
    for document in documents:
        problems = csaf.validate(document.doc, source=document.source)
        if problems:
            report.issues += problems
            continue
        try:
            parsed = csaf.parse(document.doc)
        except (KeyError, TypeError, ValueError) as exc:  # valid, yet not readable by us
            where = (
                "/document/tracking/current_release_date" if isinstance(exc, ValueError) else "/"
            )
            report.issues.append(Issue(document.source, None, where, f"cannot read: {exc}"))
            continue
        report.results.append(
            _store_advisory(
                db=db, clock=clock, parsed=parsed, source=document.source, actor=actor, index=index
            )
        )
    return report


def import_inventory(
    *,
    db: Session,
    clock: Clock,
    text: str,
    source: str,
    actor: str,
    kind: str = "csv",
    owner: str | None = None,
    exposure: str = "internal",
    silence_minutes: int = 15,
) -> ImportReport:
    """Import a CSV file's or a CycloneDX SBOM's items, then match every stored advisory again.

    `kind` is `csv` or `cyclonedx`; a CycloneDX import needs the `owner` (and `exposure`) of the
    whole SBOM. Rows with problems are reported and skipped; the good ones are stored. An
    item's `log_source` that is not yet expected is added to the expected log sources with
    `silence_minutes` (a source already on the list keeps its limits).
    """
    if kind == "csv":
        items, issues = read_csv(text, source=source)
    elif kind == "cyclonedx":
        if not owner:
            return ImportReport(issues=[Issue(source, None, "owner", "give the SBOM's owner")])
        if exposure not in EXPOSURES:
            issue = Issue(source, None, "exposure", "must be internet or internal")
            return ImportReport(issues=[issue])
        items, issues = read_cyclonedx(text, source=source, owner=owner, exposure=exposure)
    else:
        return ImportReport(issues=[Issue(source, None, "kind", "must be csv or cyclonedx")])
    report = store_items(db=db, clock=clock, items=items, origin=source, actor=actor)
    report.issues = issues + report.issues
    listed = {row.name for row in collectors.list_expected(db=db)}
    for name in report.log_sources:
        if name not in listed:
            collectors.expect_source(
                db=db, clock=clock, name=name, max_silence_minutes=silence_minutes,
                actor=actor, origin="inventory", note=f"from inventory {source}",
            )  # fmt: skip
    index = inventory_index(db=db)
    for advisory in list_advisories(db=db):
        refresh(db=db, clock=clock, advisory=advisory, actor=actor, index=index)
    return report


def parse_upload(text: str, *, source: str) -> tuple[list[Document], list[Issue]]:
    """One uploaded document (a page's file field) as read_documents would give it."""
    try:
        return [Document(source, json.loads(text))], []
    except json.JSONDecodeError as exc:
        return [], [Issue(source, exc.lineno, "(document)", f"not JSON: {exc.msg}")]
