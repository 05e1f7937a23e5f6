"""Alert triage: the queue's queries, the detail read and bulk status changes, audited.

One place for the page, the JSON API and any command: each call combines the AlertStore, the
audit log and the read audit, so every caller filters, counts, audits and refuses alike. Who
acts comes in as values (an actor name, or a `core.privacy` reader with name, role and channel),
never as the dashboard's principal; whether an account may take work is the caller's check
(`check_assignee`), because accounts belong to other packages than detection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from core.audit import record
from core.clock import Clock
from core.errors import NotFoundError, ValidationError
from core.privacy.service import Reader, audit_personal_read, audit_read, pseudonyms_in
from core.store.base import (
    ALERT_LEVELS,
    ALERT_STATUSES,
    AlertQuery,
    AlertStatus,
    AlertStore,
    EventStore,
    StoredAlert,
    StoredEvent,
)
from detection.attack import get_attack_catalog
from detection.attack_data import AttackDataError

# Raises a ValidationError naming `assignee` unless the name is an account that may take work;
# returns the name as stored (`playbooks.service.check_assignee`, bound to the caller's session).
AssigneeCheck = Callable[[str], str]

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
    host_name: str | None = None,
    user_name: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    time: str = "event",
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
        host_name=host_name or None,
        user_name=user_name or None,
        start=start,
        end=end,
        time=time,  # type: ignore[arg-type]
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
    check_assignee: AssigneeCheck,
    assignee: str | None = None,
) -> int:
    """Apply one triage action to many alerts at once, and audit it (`alert.bulk_<action>`).

    `check_assignee` vets the assignee of an `assign` before anything changes.
    """
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
        clean_assignee = check_assignee(clean_assignee)  # an existing, enabled account only
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
    return changed


# --- grouping and alert detail extras -------------------------------------------------------------

GroupBy = Literal["rule", "host", "user"]
GROUP_SCAN = 5_000
MAX_DETAIL_EVENTS = 20


@dataclass(frozen=True, slots=True)
class Group:
    """One group of the queue: its key (rule id, host or user), a label and how many alerts."""

    key: str | None
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Grouping:
    """Groups over the newest `scanned` alerts matching the filters; `partial` when more exist."""

    by: GroupBy
    groups: list[Group]
    scanned: int
    partial: bool


def group_alerts(
    *, store: AlertStore, query: AlertQuery, by: GroupBy, scan: int = GROUP_SCAN
) -> Grouping:
    """Count the filtered queue by rule, host or user, largest group first.

    The store has no GROUP BY, so this reads the newest `scan` alerts of the filter (a shift's
    worth); the page says when the counts cover only those.
    """
    if by not in ("rule", "host", "user"):
        raise ValidationError("group", "must be rule, host or user")
    counts: Counter[str | None] = Counter()
    titles: dict[str | None, str] = {}
    scanned, offset, size = 0, 0, 500
    while scanned < scan:
        batch = store.search(
            AlertQuery(
                statuses=query.statuses,
                levels=query.levels,
                rule_ids=query.rule_ids,
                host_name=query.host_name,
                user_name=query.user_name,
                start=query.start,
                end=query.end,
                time=query.time,
                sort="newest",
                limit=min(size, scan - scanned),
                offset=offset,
            )
        )
        for alert in batch:
            key = {"rule": alert.rule_id, "host": alert.host_name, "user": alert.user_name}[by]
            counts[key] += 1
            if by == "rule":
                titles.setdefault(key, alert.rule_title)
        scanned += len(batch)
        offset += len(batch)
        if len(batch) < size:
            break
    partial = scanned >= scan and bool(store.search(_one_more(query, scan)))
    groups = [
        Group(key, titles.get(key) or key or "(onbekend / unknown)", count)
        for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    ]
    return Grouping(by, groups, scanned, partial)


def _one_more(query: AlertQuery, offset: int) -> AlertQuery:
    return AlertQuery(
        statuses=query.statuses,
        levels=query.levels,
        rule_ids=query.rule_ids,
        host_name=query.host_name,
        user_name=query.user_name,
        start=query.start,
        end=query.end,
        time=query.time,
        limit=1,
        offset=offset,
    )


@dataclass(frozen=True)
class MatchedEvents:
    """The events an alert names, as far as the event store still has them."""

    events: list[StoredEvent] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    more: int = 0


def matched_events(
    *, store: EventStore, alert: StoredAlert, limit: int = MAX_DETAIL_EVENTS
) -> MatchedEvents:
    """Load the alert's events (the first `limit`); ids the store no longer has are listed."""

    ids = [str(i) for i in alert.body.get("event_ids") or [] if i]
    found = MatchedEvents(more=max(0, len(ids) - limit))
    for event_id in ids[:limit]:
        try:
            found.events.append(store.get(event_id))
        except NotFoundError:
            found.missing.append(event_id)  # retention removed it, or a drill was rolled back
    return found


def attack_context(body: dict[str, Any]) -> dict[str, Any]:
    """Tactics and techniques (names, links) of the alert's tags via the ATT&CK catalog.

    Falls back to the context stored on the alert when the catalog cannot load here.
    """

    tags = [str(tag) for tag in body.get("tags") or [] if isinstance(tag, str)]
    if not any(tag.lower().startswith("attack.") for tag in tags):
        return {"tactics": [], "techniques": [], "unknown": []}
    try:
        context = get_attack_catalog().resolve_tags(tags)
    except AttackDataError:
        stored = body.get("attack")
        return stored if isinstance(stored, dict) else {"tactics": [], "techniques": []}
    return {
        "tactics": [{"shortname": s, "name": n} for s, n in context.all_tactics],
        "techniques": [
            {
                "id": t.id,
                "name": t.name,
                "url": t.url,
                "tactics": [name for _s, name in t.tactics],
            }
            for t in context.techniques
        ],
        "unknown": list(context.unknown),
    }


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """The queue's filters as the page and the API take them (validated by `build_query`)."""

    statuses: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)
    host_name: str | None = None
    user_name: str | None = None
    group: GroupBy | None = None
    sort: str = "newest"
    page: int = 1
    start: datetime | None = None
    end: datetime | None = None


def read_queue(
    *,
    store: AlertStore,
    db: Session,
    clock: Clock,
    reader: Reader,
    filters: QueueFilter,
    accounts: bool = True,
) -> tuple[QueuePage, Grouping | None]:
    """One page of the filtered queue (and its grouping), audited when it shows personal data.

    `accounts` says whether the caller shows the alerts' account names (the API always does;
    the queue page only when filtering or grouping by them).
    The read is an audited `alert_list` read when it does, or when any field shown (rule, host,
    assignee, group labels) carries a resident pseudonym, which the entry then names for the
    resident's access report. Otherwise the list holds no personal data and writes nothing.
    """
    query = build_query(
        statuses=filters.statuses,
        levels=filters.levels,
        rule_ids=filters.rule_ids,
        sort=filters.sort,
        page=filters.page,
        host_name=filters.host_name,
        user_name=filters.user_name,
        start=filters.start,
        end=filters.end,
    )
    result = queue_page(store=store, query=query)
    grouping = group_alerts(store=store, query=query, by=filters.group) if filters.group else None
    shown: list[str | None] = [f for a in result.alerts for f in _shown_fields(a, accounts)]
    if grouping is not None:
        shown += [g.key for g in grouping.groups] + [g.label for g in grouping.groups]
    subjects = pseudonyms_in("\n".join(f for f in shown if f))
    if accounts or subjects:
        audit_read(
            db=db,
            clock=clock,
            principal=reader,
            object_type="alert_list",
            object_id=None,
            purpose=None,
            subjects=subjects,
            details={"ids": [a.id for a in result.alerts], "group": filters.group},
        )
    return result, grouping


def _shown_fields(alert: StoredAlert, accounts: bool) -> tuple[str | None, ...]:
    """The alert's fields a queue row displays (its body never is)."""
    fields = (alert.rule_id, alert.rule_title, alert.host_name, alert.assignee)
    return (*fields, alert.user_name) if accounts else fields


def read_alert(
    *,
    store: AlertStore,
    events: EventStore,
    db: Session,
    clock: Clock,
    reader: Reader,
    alert_id: str,
    purpose: str | None,
) -> tuple[StoredAlert, MatchedEvents]:
    """Fetch the alert and its events, demand a purpose when either names a resident, audit.

    One audit entry covers the alert and the events shown with it (their ids in the details).
    """
    alert = store.get(alert_id)
    matched = matched_events(store=events, alert=alert)
    subjects = sorted(
        set(pseudonyms_in(alert.body)) | set(pseudonyms_in([e.event for e in matched.events]))
    )
    audit_personal_read(
        db=db,
        clock=clock,
        principal=reader,
        object_type="alert",
        object_id=alert.id,
        purpose=purpose,
        subjects=subjects,
        details={"event_ids": [e.id for e in matched.events]},
    )
    return alert, matched
