"""What the DPO and the partner pages show: volumes per processing activity and per partner.

Counts come from the event store's grouped counts (`counts_by`), so the pages cost a few
queries whatever the volume. "With a case or purpose" means the record carries a stated
purpose (`dijkwacht.case.purpose`, from NEN 7513 `purposeOfUse`) or a case reference.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.errors import NotFoundError
from core.events import get_field
from core.store.base import AlertQuery, AlertStore, EventQuery, EventStore
from ldv.models import Partner
from playbooks.breach.service import RegisteredActivity

ACTIVITY_FIELD = "dijkwacht.ldv.processing_activity_id"
ENTITY_FIELD = "dijkwacht.ldv.foreign_operation.entity"
MAX_GROUPS = 500
LDV_RULES = (
    "ldv_activity_not_registered",
    "ldv_activity_retired",
    "ldv_subject_missing",
    "ldv_bulk_record",
    "ldv_access_without_open_case",
    "ldv_partner_outside_agreement",
    "ldv_stream_gap",
)
# Sigma ids of the rules above (uuid5 of the rule name, see detection/rules/README.md).
LDV_RULE_IDS = tuple(str(uuid.uuid5(uuid.NAMESPACE_URL, f"dijkwacht:rule:{n}")) for n in LDV_RULES)


@dataclass(frozen=True)
class ActivityVolume:
    """One processing activity URI seen in the window, with its register entry if any."""

    uri: str
    records: int
    with_purpose: int
    entry: RegisteredActivity | None

    @property
    def purpose_share(self) -> float:
        return self.with_purpose / self.records if self.records else 0.0


def activity_volumes(
    *,
    store: EventStore,
    register: dict[str, RegisteredActivity],
    start: datetime,
    end: datetime,
) -> list[ActivityVolume]:
    """Per activity: records, and records with a purpose or case; register entries included
    even when no record arrived (so a silent activity shows as 0)."""
    window = EventQuery(start=start, end=end)
    totals = {
        value: count
        for value, count in store.counts_by(ACTIVITY_FIELD, window, limit=MAX_GROUPS)
        if isinstance(value, str)
    }
    bare = EventQuery(
        start=start,
        end=end,
        filters={"dijkwacht.case.purpose": None, "dijkwacht.case.reference": None},
    )
    without = {
        value: count
        for value, count in store.counts_by(ACTIVITY_FIELD, bare, limit=MAX_GROUPS)
        if isinstance(value, str)
    }
    rows = [
        ActivityVolume(
            uri=uri,
            records=totals.get(uri, 0),
            with_purpose=totals.get(uri, 0) - without.get(uri, 0),
            entry=register.get(uri),
        )
        for uri in sorted(set(totals) | set(register))
    ]
    rows.sort(key=lambda r: (-r.records, r.uri))
    return rows


@dataclass
class PartnerView:
    """A partner's page: volume per day, share within the agreement, rule hits."""

    partner: Partner
    days: list[tuple[str, int]] = field(default_factory=list)
    records: int = 0
    agreed: int = 0
    activities: list[tuple[str, int, bool]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agreed_share(self) -> float:
        return self.agreed / self.records if self.records else 0.0


def partner_view(
    *,
    store: EventStore,
    alerts: AlertStore,
    partner: Partner,
    end: datetime,
    days: int = 14,
) -> PartnerView:
    """Volume per day over `days` days up to `end`, agreed share, per-activity counts and the
    LDV rule alerts that name this partner."""
    view = PartnerView(partner=partner)
    entity = {ENTITY_FIELD: partner.entity_uri}
    first = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(days):
        since = first + timedelta(days=day)
        count = store.count(EventQuery(start=since, end=since + timedelta(days=1), filters=entity))
        view.days.append((since.date().isoformat(), count))
    start = first
    window = EventQuery(start=start, end=end, filters=entity)
    view.records = store.count(window)
    agreed_set = set(partner.agreed_activities or [])
    for value, count in store.counts_by(ACTIVITY_FIELD, window, limit=MAX_GROUPS):
        if isinstance(value, str):
            inside = value in agreed_set
            view.activities.append((value, count, inside))
            view.agreed += count if inside else 0
    found = alerts.search(AlertQuery(rule_ids=LDV_RULE_IDS, start=start, limit=500))
    for alert in found:
        if _names_partner(store, alert.body.get("event_ids"), partner.entity_uri):
            view.hits.append(
                {
                    "id": alert.id,
                    "at": alert.created_at,
                    "title": alert.rule_title,
                    "level": alert.level,
                    "status": alert.status,
                }
            )
    return view


def _names_partner(store: EventStore, event_ids: Any, entity: str) -> bool:
    """Whether one of the alert's first events was a call by this partner."""
    if not isinstance(event_ids, list):
        return False
    for event_id in event_ids[:5]:
        try:
            event = store.get(str(event_id)).event
        except NotFoundError:
            continue
        if get_field(event, ENTITY_FIELD) == entity:
            return True
    return False


def evidence_csv(view: PartnerView) -> str:
    """The evidence the municipality sends a partner: per activity and per day, plus hits."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    partner = view.partner
    writer.writerow(["partner", partner.name])
    writer.writerow(["entity_uri", partner.entity_uri])
    writer.writerow(["records", view.records])
    writer.writerow(["within_agreement", view.agreed])
    writer.writerow([])
    writer.writerow(["processing_activity_id", "records", "agreed"])
    for uri, count, inside in view.activities:
        writer.writerow([uri, count, "yes" if inside else "no"])
    writer.writerow([])
    writer.writerow(["day", "records"])
    writer.writerows(view.days)
    writer.writerow([])
    writer.writerow(["alert", "created_at", "rule", "level", "status"])
    for hit in view.hits:
        writer.writerow(
            [hit["id"], hit["at"].isoformat(), hit["title"], hit["level"], hit["status"]]
        )
    return out.getvalue()
