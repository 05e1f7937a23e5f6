"""Store advisories, match them to the inventory, open incidents, accept risks; the overview.

An advisory is kept once per publisher and tracking id: a newer revision replaces the stored
one and its matches are worked out again (accepted risks stay with their item). A match on an
advisory of high or critical severity opens ONE incident for the advisory (remembered on the
advisory, so a re-import or a second file never opens another) listing the advisory, the
affected items and their owners. Due dates follow the severity (`DUE_DAYS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from advisories.csaf import SEVERITY_ORDER, ParsedAdvisory, parse
from advisories.matching import Hit, ItemIndex, index_items, match
from advisories.models import Advisory, AdvisoryMatch, InventoryItem
from core import audit
from core.clock import Clock
from core.errors import NotFoundError, ValidationError
from playbooks import service as playbooks

DUE_DAYS = {"critical": 7, "high": 14, "medium": 30, "low": 90, "none": 90}
INCIDENT_SEVERITIES = ("high", "critical")


@dataclass
class StoreResult:
    """What storing one advisory did."""

    advisory_id: int
    tracking_id: str
    new: bool
    matched: int
    affected: int
    incident_id: int | None = None
    incident_opened: bool = False
    unchanged: bool = False
    items: list[str] = field(default_factory=list)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def store_advisory(
    *,
    db: Session,
    clock: Clock,
    parsed: ParsedAdvisory,
    source: str,
    actor: str,
    index: ItemIndex | None = None,
) -> StoreResult:
    """Keep the advisory (or its newer revision), match it and open an incident if it must."""
    now = clock.now()
    row = db.scalar(
        select(Advisory).where(
            Advisory.publisher == parsed.publisher, Advisory.tracking_id == parsed.tracking_id
        )
    )
    new = row is None
    if row is not None and (row.version, row.released_at) == (
        parsed.version[:50],
        _aware(parsed.released_at),
    ):
        return _unchanged(db, row)  # a scheduled refresh reads the same files again
    if row is None:
        row = Advisory(publisher=parsed.publisher[:300], tracking_id=parsed.tracking_id[:300])
        db.add(row)
    row.title = parsed.title[:500]
    row.severity = parsed.severity
    row.severity_text = parsed.severity_text
    row.cves = parsed.cves
    row.version = parsed.version[:50]
    row.released_at = _aware(parsed.released_at)
    row.source = source[:1000]
    row.document = parsed.document
    row.imported_at = now
    db.flush()
    hits = rematch(db=db, clock=clock, advisory=row, parsed=parsed, index=index)
    affected = [h for h in hits if h.product.product_id in parsed.affected]
    result = StoreResult(row.id, row.tracking_id, new, len(hits), len(affected))
    result.items = sorted({f"{h.item.vendor} {h.item.product} {h.item.version}" for h in affected})
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="advisory.imported",
        object_type="advisory",
        object_id=str(row.id),
        details={"tracking_id": row.tracking_id, "version": row.version, "source": source,
                 "severity": row.severity, "affected_items": len(affected)},
    )  # fmt: skip
    if affected and row.severity in INCIDENT_SEVERITIES:
        result.incident_opened = row.incident_id is None
        result.incident_id = _incident(db=db, clock=clock, advisory=row, hits=affected, actor=actor)
    else:
        result.incident_id = row.incident_id
    return result


def _unchanged(db: Session, row: Advisory) -> StoreResult:
    """What a stored advisory's matches are, for an import that brought nothing new."""
    matches = list(db.scalars(select(AdvisoryMatch).where(AdvisoryMatch.advisory_id == row.id)))
    affected = [m for m in matches if m.status == "affected"]
    result = StoreResult(row.id, row.tracking_id, False, len(matches), len(affected))
    result.incident_id = row.incident_id
    result.unchanged = True
    items = [db.get(InventoryItem, m.item_id) for m in affected]
    result.items = sorted(f"{i.vendor} {i.product} {i.version}" for i in items if i is not None)
    return result


def inventory_index(*, db: Session) -> ItemIndex:
    """The whole inventory, indexed for matching (build once, match many advisories)."""
    return index_items(list(db.scalars(select(InventoryItem))))


def rematch(
    *,
    db: Session,
    clock: Clock,
    advisory: Advisory,
    parsed: ParsedAdvisory,
    index: ItemIndex | None = None,
) -> list[Hit]:
    """Work out the advisory's matches against the whole inventory again; returns them."""
    now = clock.now()
    products = [
        parsed.products[pid] for pid in {*parsed.affected, *parsed.fixed} if pid in parsed.products
    ]
    hits = match(products, index or inventory_index(db=db))
    existing = {
        m.item_id: m
        for m in db.scalars(select(AdvisoryMatch).where(AdvisoryMatch.advisory_id == advisory.id))
    }
    kept: set[int] = set()
    for hit in sorted(hits, key=lambda h: h.product.product_id not in parsed.affected):
        if hit.item.id in kept:
            continue  # affected wins over fixed for the same item
        kept.add(hit.item.id)
        status = "affected" if hit.product.product_id in parsed.affected else "fixed"
        cves = (parsed.affected if status == "affected" else parsed.fixed).get(
            hit.product.product_id, []
        )
        row = existing.get(hit.item.id)
        if row is None:
            row = AdvisoryMatch(
                advisory_id=advisory.id,
                item_id=hit.item.id,
                matched_at=now,
                due_at=now + timedelta(days=DUE_DAYS[advisory.severity]),
            )
            db.add(row)
        row.product_id = hit.product.product_id[:300]
        row.status = status
        row.matched_by = hit.matched_by
        row.cves = list(cves)
    for item_id, row in existing.items():
        if item_id not in kept:
            db.delete(row)  # the newer revision no longer names this item
    db.flush()
    return hits


def _incident(
    *, db: Session, clock: Clock, advisory: Advisory, hits: Sequence[Hit], actor: str
) -> int:
    items = sorted(
        {(h.item.id, h.item.vendor, h.item.product, h.item.version, h.item.owner,
          h.item.exposure) for h in hits}
    )  # fmt: skip
    lines = [
        f"Advisory {advisory.tracking_id} ({advisory.publisher}, version {advisory.version}), "
        f"severity {advisory.severity}: {advisory.title}",
        f"CVE: {', '.join(advisory.cves) or '-'}",
        "Affected inventory items (owner, exposure):",
        *[f"- #{i} {v} {p} {ver}: owner {o}, {e}" for i, v, p, ver, o, e in items],
    ]
    if advisory.incident_id is None:
        incident = playbooks.create_incident(
            db=db,
            clock=clock,
            title=f"Advisory {advisory.tracking_id}: {advisory.title}"[:300],
            severity=advisory.severity,
            actor=actor,
        )
        advisory.incident_id = incident.id
        db.flush()
    playbooks.add_comment(
        db=db, clock=clock, incident_id=advisory.incident_id, body="\n".join(lines), actor=actor
    )
    return advisory.incident_id


def refresh(
    *, db: Session, clock: Clock, advisory: Advisory, actor: str, index: ItemIndex | None = None
) -> int | None:
    """Match a stored advisory again (after an inventory change); opens its incident if the
    inventory now holds an affected item and none was opened yet. Returns the incident id."""
    parsed = parse(advisory.document)
    hits = rematch(db=db, clock=clock, advisory=advisory, parsed=parsed, index=index)
    affected = [h for h in hits if h.product.product_id in parsed.affected]
    if affected and advisory.severity in INCIDENT_SEVERITIES and advisory.incident_id is None:
        return _incident(db=db, clock=clock, advisory=advisory, hits=affected, actor=actor)
    return advisory.incident_id


def list_advisories(*, db: Session) -> list[Advisory]:
    """Every advisory, newest release first."""
    return list(db.scalars(select(Advisory).order_by(Advisory.released_at.desc())))


@dataclass(frozen=True, slots=True)
class OpenAdvisory:
    """One row of the overview: an item, an advisory that hits it, and where that stands."""

    match_id: int
    item: InventoryItem
    advisory: Advisory
    status: str
    cves: list[str]
    due_at: datetime
    overdue: bool
    accepted_by: str | None
    accepted_reason: str | None
    accepted_until: datetime | None
    accepted: bool


def overview(
    *, db: Session, clock: Clock, item_id: int | None = None, include_closed: bool = False
) -> list[OpenAdvisory]:
    """Advisories per item: affected matches, with accepted risks and due dates.

    Without `include_closed`, only what is still open: affected and not accepted (an accepted
    risk whose `until` passed is open again).
    """
    now = clock.now()
    query = (
        select(AdvisoryMatch, InventoryItem, Advisory)
        .join(InventoryItem, AdvisoryMatch.item_id == InventoryItem.id)
        .join(Advisory, AdvisoryMatch.advisory_id == Advisory.id)
        .order_by(InventoryItem.vendor, InventoryItem.product, AdvisoryMatch.due_at)
    )
    if item_id is not None:
        query = query.where(AdvisoryMatch.item_id == item_id)
    rows: list[OpenAdvisory] = []
    for found, item, advisory in db.execute(query).all():
        accepted = found.accepted_until is not None and found.accepted_until > now
        is_open = found.status == "affected" and not accepted
        if not include_closed and not is_open:
            continue
        rows.append(
            OpenAdvisory(
                match_id=found.id,
                item=item,
                advisory=advisory,
                status=found.status,
                cves=list(found.cves),
                due_at=found.due_at,
                overdue=is_open and found.due_at < now,
                accepted_by=found.accepted_by,
                accepted_reason=found.accepted_reason,
                accepted_until=found.accepted_until,
                accepted=accepted,
            )
        )
    return rows


def accept_risk(
    *,
    db: Session,
    clock: Clock,
    advisory_id: int,
    item_id: int,
    reason: str,
    until: datetime,
    actor: str,
) -> AdvisoryMatch:
    """Accept the risk of one advisory on one item until a moment; audited with the reason."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("reason", "must not be empty")
    if len(reason) > 2000:
        raise ValidationError("reason", "longer than 2000 characters")
    if until.tzinfo is None:
        raise ValidationError("until", "give a time zone")
    if until <= clock.now():
        raise ValidationError("until", "must be in the future")
    found = db.scalar(
        select(AdvisoryMatch).where(
            AdvisoryMatch.advisory_id == advisory_id, AdvisoryMatch.item_id == item_id
        )
    )
    if found is None:
        raise NotFoundError(f"advisory {advisory_id} does not match inventory item {item_id}")
    found.accepted_by = actor[:200]
    found.accepted_reason = reason
    found.accepted_until = until
    db.flush()
    audit.record(
        db=db,
        clock=clock,
        actor=actor,
        action="advisory.risk_accepted",
        object_type="advisory",
        object_id=str(advisory_id),
        details={"item_id": item_id, "reason": reason, "until": until.isoformat()},
    )
    return found


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 0
