"""From indicator hits to alerts in the existing alert store, once per (indicator value, event).

A sighting row (unique per indicator value and event id) is the memory that makes a streaming
match and a later retro-hunt over the same event raise one alert, not two; the outbox
fingerprint (`intel`, value, event id) additionally folds a batch the spool redelivers. Alerts
carry the indicator context as ECS `threat.enrichments` (indicator type, provider, confidence,
TLP, first/last seen; matched field and value) plus `dijkwacht.intel` (the sources, the current
score and the related indicators of the same MISP event or STIX bundle); ATT&CK ids become
`attack.tXXXX` tags, resolved into the alert's ATT&CK context like a rule's tags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock, utc_iso
from core.events import get_field
from core.store.base import AlertStore
from detection import service as detection
from intel.matcher import Hit, IndicatorContext
from intel.models import Indicator, Sighting

RULE_ID = "intel-indicator-match"
EXERCISE_FIELD = "dijkwacht.exercise.id"
MAX_RELATED = 20


def _level(contexts: Sequence[IndicatorContext]) -> str:
    best = max(ctx.score for ctx in contexts)
    return "high" if best >= 75 else "medium" if best >= 40 else "low"


def _event_time(event: Mapping[str, Any], now: datetime) -> datetime:
    raw = get_field(event, "@timestamp")
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return now
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return now


def _related(db: Session, contexts: Sequence[IndicatorContext]) -> list[dict[str, str]]:
    groups = {ctx.group_key for ctx in contexts if ctx.group_key}
    if not groups:
        return []
    own = {ctx.id for ctx in contexts}
    rows = db.execute(
        select(Indicator.id, Indicator.type, Indicator.value, Indicator.source)
        .where(Indicator.group_key.in_(groups), Indicator.id.not_in(own))
        .order_by(Indicator.id)
        .limit(MAX_RELATED)
    ).all()
    return [{"type": t, "value": v, "source": s} for _, t, v, s in rows]


def alert_hits(
    *,
    db: Session,
    clock: Clock,
    hits: Sequence[Hit],
    events_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    how: str,
) -> int:
    """Queue one alert per new (indicator value, event) in the caller's unit; returns how many
    were queued (seen before, excepted or in maintenance: not counted)."""
    if not hits:
        return 0
    now = clock.now()
    fresh: dict[tuple[str, str], Hit] = {}
    for hit in hits:
        if any(now >= ctx.active_until for ctx in hit.contexts if ctx.active_until):
            live = tuple(c for c in hit.contexts if not c.active_until or now < c.active_until)
            if not live:
                continue  # expired or decayed since the matcher was built
            hit = Hit(hit.event_index, hit.field, hit.atomic, hit.key, live)
        fresh.setdefault((hit.key, events_with_ids[hit.event_index][0]), hit)
    if not fresh:
        return 0
    event_ids = list({event_id for _, event_id in fresh})
    seen = {
        (key, event_id)
        for key, event_id in db.execute(
            select(Sighting.indicator_key, Sighting.event_id).where(
                Sighting.event_id.in_(event_ids)
            )
        )
    }
    candidates = []
    for (key, event_id), hit in fresh.items():
        if (key, event_id) in seen:
            continue
        db.add(Sighting(indicator_key=key, event_id=event_id, seen_at=now, how=how))
        event = events_with_ids[hit.event_index][1]
        candidates.append(_candidate(db, hit, key, event_id, event, now, how))
    db.flush()  # a concurrent hunt with the same sighting fails this unit (unique key)
    return detection.raise_alerts(db=db, clock=clock, candidates=candidates)


def _candidate(
    db: Session,
    hit: Hit,
    key: str,
    event_id: str,
    event: Mapping[str, Any],
    now: datetime,
    how: str,
) -> Any:
    contexts = hit.contexts
    techniques = sorted({t for ctx in contexts for t in ctx.techniques})
    kind, _, value = key.partition(":")
    exercise = get_field(event, EXERCISE_FIELD)
    enrichments = [
        {
            "indicator": {
                "type": ctx.type,
                "provider": ctx.source,
                "confidence": str(ctx.confidence),
                "marking": {"tlp": ctx.tlp.upper()},
                "first_seen": utc_iso(ctx.first_seen),
                "last_seen": utc_iso(ctx.last_seen),
                "name": ctx.value,
            },
            "matched": {
                "atomic": hit.atomic,
                "field": hit.field,
                "type": "indicator_match_rule",
                "id": str(ctx.id),
                "occurred": utc_iso(now),
            },
        }
        for ctx in contexts
    ]
    return detection.alert_candidate(
        rule_id=RULE_ID,
        title=f"Threat-intel indicator seen: {kind} {value}"[:300],
        level=_level(contexts),
        tags=tuple(f"attack.{t.lower()}" for t in techniques),
        kind="match",
        time=_event_time(event, now),
        subject=event,
        fingerprint=detection.alert_fingerprint("intel", key, event_id),
        event_ids=[event_id],
        exercise_id=str(exercise) if exercise is not None else None,
        extra={
            "threat": {"enrichments": enrichments},
            "dijkwacht.intel": {
                "indicator": key,
                "sources": sorted({ctx.source for ctx in contexts}),
                "score": max(ctx.score for ctx in contexts),
                "tlp": _strictest(ctx.tlp for ctx in contexts),
                "techniques": techniques,
                "related": _related(db, contexts),
                "found_by": how,
            },
        },
    )


TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")


def _strictest(levels: Any) -> str:
    return max(levels, key=TLP_ORDER.index)


def deliver(*, db: Session, alert_store: AlertStore, clock: Clock) -> list[str]:
    """Store queued alerts (a later unit than the one that queued them)."""
    return detection.deliver_alerts(db=db, alert_store=alert_store, clock=clock)
