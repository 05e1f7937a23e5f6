"""The shift views' extras on the alert queue and detail: which columns the queue shows, rule
names in the filter, the per-level histogram of a time range, the fields that made an alert
match, related alerts. The queue and triage themselves are `detection.service`'s."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from core.store.base import ALERT_LEVELS, AlertQuery, AlertStore, StoredAlert
from dashboard.services.timerange import Histogram, TimeRange, time_slices
from detection.service import QueueFilter, build_query

_RULE_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", re.IGNORECASE)


def shows_accounts(filters: QueueFilter) -> bool:
    """Whether the queue page shows account names: only when filtering or grouping by them.

    Account names (`user_name`: an employee's login, or on a resident-facing system a
    resident's) are personal data; the page's default list leaves them out (data
    minimisation), so a shift's worth of queue refreshes is not an audited read each.
    """
    return filters.user_name is not None or filters.group == "user"


def resolve_rules(values: Sequence[str], titles: Callable[[], dict[str, str]]) -> list[str]:
    """Rule ids for the queue's rule filter, which takes ids and (parts of) rule titles.

    A value shaped like a rule id (UUID) is taken as it is; any other value is looked up in
    `titles` (id -> title, loaded only then), case-insensitively, as a part of the title. A
    name no rule has stays as typed, so the queue shows 0 alerts for it rather than all.
    """
    ids: list[str] = []
    known: dict[str, str] | None = None
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if _RULE_ID.match(value):
            ids.append(value)
            continue
        known = titles() if known is None else known
        if value in known:
            ids.append(value)
            continue
        wanted = value.lower()
        found = [rule_id for rule_id, title in known.items() if wanted in title.lower()]
        ids.extend(found or [value])
    return list(dict.fromkeys(ids))


def queue_histogram(
    *, store: AlertStore, filters: QueueFilter, span: TimeRange, now: datetime
) -> Histogram | None:
    """New alerts over the range per level, with the queue's status, rule and host filters,
    counted by the store in one pass (it was 24 slices x 4 levels = 96 counts a render)."""
    slices = time_slices(span=span, now=now)
    if slices is None:
        return None
    starts, step = slices
    base = build_query(
        statuses=filters.statuses,
        rule_ids=filters.rule_ids,
        host_name=filters.host_name,
        user_name=filters.user_name,
    )
    query = AlertQuery(
        statuses=base.statuses,
        rule_ids=base.rule_ids,
        host_name=base.host_name,
        user_name=base.user_name,
        time="event",
        limit=1,
    )
    counts = store.count_slices(query, start=starts[0], step=step, buckets=len(starts))
    levels = [lv for lv in reversed(ALERT_LEVELS) if not filters.levels or lv in filters.levels]
    return Histogram(starts, step, {level: counts[level] for level in levels})


def match_rows(body: dict[str, Any], explanations: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(selection, field, value) that made the alert match, once each, in first-seen order.

    From the rule's explanation of the matched events; for a correlation (no explanation) the
    alert's group-by values, which are what its events had in common.
    """
    rows: dict[tuple[str, str, str], None] = {}
    for why in explanations:
        for selection, fields in (getattr(why, "values", None) or {}).items():
            for name, value in fields.items():
                rows.setdefault((str(selection), str(name), str(value)), None)
    if not rows:
        for name, value in (body.get("group_by") or {}).items():
            rows.setdefault(("group_by", str(name), str(value)), None)
    return list(rows)


def related_alerts(*, store: AlertStore, alert: StoredAlert, limit: int = 10) -> list[StoredAlert]:
    """Other alerts of the same rule or host, newest first (the analyst's first pivot)."""
    found: dict[str, StoredAlert] = {}
    queries = [AlertQuery(rule_ids=(alert.rule_id,), limit=limit + 1)]
    if alert.host_name:
        queries.append(AlertQuery(host_name=alert.host_name, limit=limit + 1))
    for query in queries:
        for other in store.search(query):
            if other.id != alert.id:
                found.setdefault(other.id, other)
    return sorted(found.values(), key=lambda a: a.created_at, reverse=True)[:limit]
