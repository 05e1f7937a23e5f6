"""Run the checks, keep each measure's status and evidence, alert when a measure turns red.

Services never commit: the boundary (command, task, view) opens the unit of work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from compliance.catalogue import CATALOGUE_DIR, check_file, load_catalogue
from compliance.checks import CHECKS, CheckContext
from compliance.models import EvidenceItem, MeasureStatus
from compliance.schemas import Catalogue, Control, Evidence, Measure, Outcome
from core import audit
from core.clock import Clock, utc_iso
from core.config import Settings
from core.content import Issue
from core.errors import NotFoundError
from core.store.base import EventStore
from detection.service import queue_platform_alert

ALERT_RULE_ID = "dijkwacht.compliance"
RED = "not_met"


def canonical_sha256(document: dict[str, Any]) -> str:
    """SHA-256 of canonical JSON (sorted keys, no spaces, UTF-8): how evidence is hashed."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def evidence_document(item: Evidence | EvidenceItem) -> dict[str, Any]:
    """The canonical form of one evidence item: what its hash and its package file cover."""
    return {
        "kind": item.kind,
        "source": item.source,
        "at": None if item.at is None else utc_iso(item.at),
        "summary": item.summary,
        "data": item.data,
    }


@dataclass(frozen=True, slots=True)
class MeasureResult:
    """One measure after a run: its new status and whether it raised an alert now."""

    measure_id: str
    status: str
    previous: str | None
    reason: str
    evidence: int
    alerted: bool


@dataclass(frozen=True, slots=True)
class CheckRun:
    """What one run of the checks concluded, measure by measure."""

    framework: str
    edition: str
    checked_at: datetime
    results: list[MeasureResult]

    @property
    def alerted(self) -> list[str]:
        return [r.measure_id for r in self.results if r.alerted]


@dataclass(slots=True)
class MeasureView:
    """A measure with its catalogue entry, control, last status and (when asked) evidence."""

    measure: Measure
    control: Control | None
    status: str
    reason: str
    reason_nl: str
    checked_at: datetime | None
    checked_by: str | None
    red_since: datetime | None
    evidence: list[EvidenceItem] = field(default_factory=list)

    def reason_in(self, lang: str) -> str:
        """The explanation in Dutch (`nl`) or English (anything else)."""
        return self.reason_nl if lang == "nl" and self.reason_nl else self.reason


def check_catalogue(path: Path | None = None, framework: str = "bio2") -> list[Issue]:
    """Issues in one catalogue file, or in every shipped edition of `framework`."""
    paths = [path] if path is not None else sorted(CATALOGUE_DIR.glob(f"{framework}-*.yml"))
    issues: list[Issue] = []
    for item in paths:
        issues += check_file(item)[1]
    return issues


def _alert(
    db: Session, clock: Clock, catalogue: Catalogue, measure: Measure, row: MeasureStatus
) -> bool:
    assert row.red_since is not None
    key = f"{catalogue.framework}|{catalogue.edition}|{measure.id}|{utc_iso(row.red_since)}"
    return queue_platform_alert(
        db=db,
        clock=clock,
        rule_id=ALERT_RULE_ID,
        title=f"{catalogue.framework.upper()} {measure.id} niet voldaan: {measure.title.nl}",
        level="medium",
        fingerprint=hashlib.sha256(key.encode("utf-8")).hexdigest(),
        body={
            "dijkwacht.compliance": {
                "framework": catalogue.framework,
                "edition": catalogue.edition,
                "measure": measure.id,
                "owner": measure.owner,
                "reason": row.reason[:1000],
                "reason_nl": row.reason_nl[:1000],
            }
        },
    )


def _outcome(ctx: CheckContext, measure: Measure) -> Outcome:
    try:
        return CHECKS[measure.check](ctx, measure)
    except NotFoundError as exc:
        # A source that is not there (no rule folder, no library) is missing evidence.
        return Outcome("not_evidenced", f"the evidence could not be read: {exc}")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What the checks concluded, before it is stored: one outcome per measure."""

    catalogue: Catalogue
    outcomes: dict[str, Outcome]


def evaluate_measures(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    framework: str = "bio2",
    edition: str | None = None,
    event_store: EventStore | None = None,
    rule_paths: Sequence[Path] = (),
) -> Evaluation:
    """Run every check of the catalogue; reads only, so a boundary runs it in a read unit.

    Checks can take seconds (loading the rule pack, sampling events); doing them outside the
    write unit keeps the database's one write lock (SQLite) free for the platform meanwhile.
    """
    catalogue = load_catalogue(framework, edition)
    ctx = CheckContext(
        db=db, settings=settings, clock=clock, event_store=event_store, rule_paths=rule_paths
    )
    return Evaluation(catalogue, {m.id: _outcome(ctx, m) for m in catalogue.measures})


def run_checks(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    actor: str,
    framework: str = "bio2",
    edition: str | None = None,
    event_store: EventStore | None = None,
    rule_paths: Sequence[Path] = (),
) -> CheckRun:
    """`evaluate_measures` then `record_outcomes` in one (write) unit: for callers that hold
    one already; the command and the task use the two steps in units of their own."""
    evaluation = evaluate_measures(
        db=db, clock=clock, settings=settings, framework=framework, edition=edition,
        event_store=event_store, rule_paths=rule_paths,
    )  # fmt: skip
    return record_outcomes(db=db, clock=clock, actor=actor, evaluation=evaluation)


def record_outcomes(*, db: Session, clock: Clock, actor: str, evaluation: Evaluation) -> CheckRun:
    """Store each measure's status and evidence, alert on red; in the caller's write unit.

    A measure that turns `not_met` raises one alert to its owner (through detection's
    outbox; deliver it after the commit with `deliver_outbox`); while it stays red no new
    alert is raised, and once it leaves red the next red spell alerts again. Status changes
    are written to the audit log.
    """
    catalogue = evaluation.catalogue
    now = clock.now()
    results = []
    for measure in catalogue.measures:
        outcome = evaluation.outcomes[measure.id]
        row = db.scalar(
            select(MeasureStatus).where(
                MeasureStatus.framework == catalogue.framework,
                MeasureStatus.edition == catalogue.edition,
                MeasureStatus.measure_id == measure.id,
            )
        )
        previous = None if row is None else row.status
        if row is None:
            row = MeasureStatus(
                framework=catalogue.framework,
                edition=catalogue.edition,
                measure_id=measure.id,
                changed_at=now,
            )
            db.add(row)
        row.status = outcome.status
        row.reason = outcome.reason
        row.reason_nl = outcome.nl or outcome.reason
        row.checked_at = now
        row.checked_by = actor
        if previous != outcome.status:
            row.changed_at = now
            audit.record(
                db=db,
                clock=clock,
                actor=actor,
                action="compliance.status_changed",
                object_type="compliance_measure",
                object_id=f"{catalogue.framework}:{measure.id}",
                details={"from": previous, "to": outcome.status, "reason": outcome.reason[:500]},
            )
        alerted = False
        if outcome.status == RED:
            if previous != RED or row.red_since is None:
                row.red_since = now
                row.alerted_at = None
            if row.alerted_at is None:
                alerted = _alert(db, clock, catalogue, measure, row)
                row.alerted_at = now
        else:
            row.red_since = None
            row.alerted_at = None
        db.flush()
        db.execute(delete(EvidenceItem).where(EvidenceItem.status_id == row.id))
        for item in outcome.evidence:
            db.add(
                EvidenceItem(
                    status_id=row.id,
                    kind=item.kind,
                    source=item.source,
                    at=item.at,
                    summary=item.summary,
                    data=json.loads(canonical_json(item.data)),
                    sha256=canonical_sha256(evidence_document(item)),
                    collected_at=now,
                )
            )
        results.append(
            MeasureResult(
                measure_id=measure.id,
                status=outcome.status,
                previous=previous,
                reason=outcome.reason,
                evidence=len(outcome.evidence),
                alerted=alerted,
            )
        )
    db.flush()
    return CheckRun(catalogue.framework, catalogue.edition, now, results)


def _views(
    db: Session, catalogue: Catalogue, *, with_evidence: bool, only: str | None = None
) -> list[MeasureView]:
    rows = {
        row.measure_id: row
        for row in db.scalars(
            select(MeasureStatus).where(
                MeasureStatus.framework == catalogue.framework,
                MeasureStatus.edition == catalogue.edition,
            )
        )
    }
    views = []
    for measure in catalogue.measures:
        if only is not None and measure.id != only:
            continue
        row = rows.get(measure.id)
        view = MeasureView(
            measure=measure,
            control=catalogue.control(measure.control),
            status="not_evidenced" if row is None else row.status,
            reason="not checked yet" if row is None else row.reason,
            reason_nl="nog niet gecontroleerd" if row is None else row.reason_nl,
            checked_at=None if row is None else row.checked_at,
            checked_by=None if row is None else row.checked_by,
            red_since=None if row is None else row.red_since,
        )
        if with_evidence and row is not None:
            view.evidence = list(
                db.scalars(
                    select(EvidenceItem)
                    .where(EvidenceItem.status_id == row.id)
                    .order_by(EvidenceItem.id)
                )
            )
        views.append(view)
    return views


def measure_views(
    *, db: Session, framework: str = "bio2", edition: str | None = None, evidence: bool = False
) -> tuple[Catalogue, list[MeasureView]]:
    """Every measure of the catalogue with its last status (and evidence when asked)."""
    catalogue = load_catalogue(framework, edition)
    return catalogue, _views(db, catalogue, with_evidence=evidence)


def measure_view(
    *, db: Session, framework: str, measure_id: str, edition: str | None = None
) -> tuple[Catalogue, MeasureView]:
    """One measure with its status and evidence; NotFoundError for an unknown id."""
    catalogue = load_catalogue(framework, edition)
    if catalogue.measure(measure_id) is None:
        raise NotFoundError(f"measure {measure_id!r} is not in {framework} {catalogue.edition}")
    return catalogue, _views(db, catalogue, with_evidence=True, only=measure_id)[0]


def last_checked(*, db: Session, framework: str = "bio2") -> datetime | None:
    """When any measure of `framework` was last checked, or None when never."""
    return db.scalar(
        select(func.max(MeasureStatus.checked_at)).where(MeasureStatus.framework == framework)
    )
