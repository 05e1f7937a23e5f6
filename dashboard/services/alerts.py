"""Alert queue queries and bulk triage over the AlertStore protocol, audited.

Kept here until `detection.service` offers triage; it only combines the store and the audit
log, so moving it later changes no behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from core.audit import record
from core.clock import Clock
from core.errors import ValidationError
from core.store.base import (
    ALERT_LEVELS,
    ALERT_STATUSES,
    AlertLevel,
    AlertQuery,
    AlertStatus,
    AlertStore,
    StoredAlert,
)

BulkAction = Literal["acknowledge", "assign", "suppress", "close"]
_TARGET: dict[str, AlertStatus] = {
    "acknowledge": "acknowledged",
    "assign": "assigned",
    "suppress": "suppressed",
    "close": "closed",
}
PAGE_SIZE = 50
MAX_BULK = 500
# Counts stop here: COUNT(*) over a million rows with a status filter costs ~20 ms per render
# and per live-count poll, while "10000+" tells the analyst just as much (bench/dashboard.py).
COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue plus the (capped) total for paging."""

    alerts: list[StoredAlert]
    total: int
    page: int
    pages: int
    capped: bool = False


def build_query(
    *,
    statuses: Sequence[str] = (),
    levels: Sequence[str] = (),
    rule_ids: Sequence[str] = (),
    sort: str = "newest",
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> AlertQuery:
    """Validate the queue's filters; ValidationError names the bad parameter."""
    for status in statuses:
        if status not in ALERT_STATUSES:
            raise ValidationError("status", f"unknown status {status!r}")
    for level in levels:
        if level not in ALERT_LEVELS:
            raise ValidationError("level", f"unknown level {level!r}")
    if sort not in ("newest", "oldest", "severity"):
        raise ValidationError("sort", "must be newest, oldest or severity")
    if page < 1 or page > 100_000:
        raise ValidationError("page", "must be 1-100000")
    clean_rules = tuple(rule for rule in rule_ids if rule)
    return AlertQuery(
        statuses=tuple(statuses),  # type: ignore[arg-type]
        levels=tuple(levels),  # type: ignore[arg-type]
        rule_ids=clean_rules,
        sort=sort,  # type: ignore[arg-type]
        limit=page_size,
        offset=(page - 1) * page_size,
    )


def queue_page(*, store: AlertStore, query: AlertQuery) -> QueuePage:
    """The requested page and the total for the same filters, counted up to the page's end.

    The cap moves with the page (at least COUNT_CAP), so "next" always works while rows remain
    and a deep page still counts only as far as it needs.
    """
    size = max(query.limit, 1)
    cap = max(COUNT_CAP, query.offset + 2 * size)
    total = store.count(query, cap=cap + 1)
    capped = total > cap
    total = min(total, cap)
    page = query.offset // size + 1
    pages = max(1, -(-total // size))
    return QueuePage(store.search(query), total, page, pages, capped)


def open_count(*, store: AlertStore) -> dict[str, int]:
    """Alerts needing attention, by status, for the live counter; each capped at COUNT_CAP.

    `capped_at` tells the client where counting stopped (show "10000+").
    """
    counts = {
        status: store.count(AlertQuery(statuses=(status,), limit=1), cap=COUNT_CAP)
        for status in ("new", "acknowledged", "assigned")
    }
    counts["capped_at"] = COUNT_CAP
    return counts


def bulk_update(
    *,
    store: AlertStore,
    db: Session,
    clock: Clock,
    actor: str,
    ids: Sequence[str],
    action: str,
    assignee: str | None = None,
) -> int:
    """Apply one triage action to many alerts at once, and audit it (`alert.bulk_<action>`)."""
    if action not in _TARGET:
        raise ValidationError("action", "must be acknowledge, assign, suppress or close")
    unique = list(dict.fromkeys(i for i in ids if i))
    if not unique:
        raise ValidationError("ids", "select at least one alert")
    if len(unique) > MAX_BULK:
        raise ValidationError("ids", f"at most {MAX_BULK} alerts at once")
    clean_assignee = (assignee or "").strip() or None
    if action == "assign":
        if clean_assignee is None:
            raise ValidationError("assignee", "required to assign")
        if len(clean_assignee) > 200:
            raise ValidationError("assignee", "at most 200 characters")
    else:
        clean_assignee = None
    changed = store.update_status(unique, status=_TARGET[action], assignee=clean_assignee)
    record(
        db=db,
        clock=clock,
        actor=actor,
        action=f"alert.bulk_{action}",
        object_type="alert",
        object_id=unique[0] if len(unique) == 1 else None,
        details={"ids": unique[:MAX_BULK], "assignee": clean_assignee},
    )
    db.commit()
    return changed


def level_rank(level: AlertLevel) -> int:
    """Severity rank for display ordering."""
    return ALERT_LEVELS.index(level)
