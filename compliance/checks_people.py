"""Checks on people and privacy: 6.3 awareness material published, 5.34 the register of
processing activities."""

from __future__ import annotations

from datetime import datetime

from awareness.service import published_topics
from compliance.context import CheckContext, since
from compliance.schemas import Evidence, Measure, Outcome
from playbooks.breach.service import processing_register as register

# -- 6.3 awareness and 5.34 privacy --------------------------------------------------------


def awareness_published(ctx: CheckContext, measure: Measure) -> Outcome:
    topics = published_topics()
    evidence = tuple(
        Evidence(
            kind="awareness_topic",
            source="awareness",
            at=datetime(t.updated.year, t.updated.month, t.updated.day, tzinfo=ctx.now.tzinfo),
            summary=f"{t.topic_id}: {t.title} (updated {t.updated:%Y-%m-%d})",
            data={"topic": t.topic_id, "updated": t.updated.isoformat()},
        )
        for t in topics
    )
    if not topics:
        return Outcome(
            "not_met",
            "no awareness topic is published",
            nl="er is geen onderwerp over weerbaarheid gepubliceerd",
        )
    recent = [t for t in topics if t.updated >= since(ctx, measure).date()]
    if not recent:
        return Outcome(
            "at_risk",
            f"{len(topics)} topics published, none updated in the last {measure.every_days} days",
            evidence,
            nl=f"{len(topics)} onderwerpen gepubliceerd, geen bijgewerkt in de laatste "
            f"{measure.every_days} dagen",
        )
    return Outcome(
        "met",
        f"{len(topics)} topics published, {len(recent)} updated in the last "
        f"{measure.every_days} days",
        evidence,
        nl=f"{len(topics)} onderwerpen gepubliceerd, {len(recent)} bijgewerkt in de laatste "
        f"{measure.every_days} dagen",
    )


def processing_register(ctx: CheckContext, measure: Measure) -> Outcome:
    rows = register(db=ctx.db)
    evidence = tuple(
        Evidence(
            kind="processing_system",
            source="playbooks.breach",
            at=None,
            summary=f"{system.name}: {len(activities)} processing activities",
            data={"system": system.name, "activities": [a.name for a in activities]},
        )
        for system, activities in rows
    )
    if not rows:
        return Outcome(
            "not_met",
            "the register of processing activities is empty",
            nl="het verwerkingsregister is leeg",
        )
    count = sum(len(activities) for _, activities in rows)
    return Outcome(
        "met",
        f"{len(rows)} systems with {count} processing activities registered",
        evidence,
        nl=f"{len(rows)} systemen met {count} verwerkingen geregistreerd",
    )
