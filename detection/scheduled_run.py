"""Scheduled detection: one run of every rule and correlation in scheduled mode.

The `detection.scheduled_search` beat task calls `run_scheduled` inside one unit of work. A run
searches each scheduled rule's events by ingest time (`detection.scheduled`) across every
collector's events in Elasticsearch, feeds the hits of the rules that scheduled correlations
reference into a correlation engine of their own, and decides alerts through the same
exceptions, maintenance windows, dedup and outbox as the streaming path, with the same
fingerprints (`match` + rule + event id; correlation + group + window), so one event never
alerts twice whichever path saw it. Checkpoints (per rule, in `detection_runtime`), correlation
windows and the outbox commit together: a run that dies commits nothing and the next run
searches the same window again; a committed run is never searched twice beyond the look-back,
whose repeats the fingerprints absorb.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock, utc_iso
from detection.alerts import AttackResolver, Candidate, DedupPolicy, decide, fingerprint
from detection.correlation import (
    CorrelationSpec,
    Hit,
    compile_correlations,
    event_timestamp,
    rule_key,
    silenced_rules,
)
from detection.correlation_store import load_engine, save_engine
from detection.loader import parse_sources, read_sources
from detection.management import disabled_rules, record_activity
from detection.models import AlertOutbox, RuntimeValue
from detection.scheduled import ScheduledRule, ScheduledSearch, Unconvertible, convert_rules
from detection.stream import MAX_FUTURE_SKEW, RuleMeta, exercise_of, from_firing, rule_meta

WATERMARK = "scheduled.correlation.watermark"
CHECKPOINT = "scheduled.checkpoint."


@dataclass
class ScheduledPlan:
    """What scheduled mode runs: Lucene queries, which rules alert, which correlations."""

    rules: list[ScheduledRule]
    alerting: frozenset[str]  # rule ids whose matches raise alerts (not only feed correlations)
    correlations: list[CorrelationSpec]
    meta: dict[str, RuleMeta]
    failed: list[Unconvertible] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def correlation_ids(self) -> frozenset[str]:
        return frozenset(spec.rule_id for spec in self.correlations)

    def policies(self, default: DedupPolicy | None) -> dict[str, DedupPolicy | None]:
        ids = [*self.alerting, *self.correlation_ids]
        return {rule_id: self.meta.get(rule_id, RuleMeta()).dedup or default for rule_id in ids}


@dataclass
class ScheduledReport:
    """What one run did, for the task's result and tests."""

    searched: int = 0
    hits: int = 0
    candidates: int = 0
    firings: int = 0
    new: int = 0
    duplicates: int = 0
    capped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "searched": self.searched,
            "hits": self.hits,
            "candidates": self.candidates,
            "firings": self.firings,
            "new": self.new,
            "duplicates": self.duplicates,
            "capped": self.capped,
        }


def plan_scheduled(
    *, paths: Sequence[Path], stacks: Sequence[str], mode_of: Callable[[str], str]
) -> ScheduledPlan:
    """The scheduled part of the rule base: rules and correlations whose mode is "scheduled",
    plus (as queries only) the rules those correlations count."""
    sources, _ = read_sources(list(paths))
    parsed = parse_sources(sources)
    specs, correlation_problems = compile_correlations(parsed.correlations)
    scheduled_specs = [spec for spec in specs if mode_of(spec.rule_id) == "scheduled"]
    rule_ids = {rule_key(rule) for rule in parsed.rules}
    silenced = silenced_rules(specs)
    alerting = {r for r in rule_ids if mode_of(r) == "scheduled" and r not in silenced}
    counted = {r for spec in scheduled_specs for r in spec.rules if r in rule_ids}
    rules, failed = convert_rules(paths=paths, stacks=stacks, only=alerting | counted)
    meta, problems = rule_meta([*parsed.rules, *parsed.correlations])
    problems = [str(p) for p in correlation_problems] + problems
    return ScheduledPlan(rules, frozenset(alerting), scheduled_specs, meta, failed, problems)


def run_scheduled(
    *,
    db: Session,
    plan: ScheduledPlan,
    search: ScheduledSearch,
    clock: Clock,
    lookback: timedelta,
    max_alerts: int,
    attack: AttackResolver | None = None,
    default_dedup: DedupPolicy | None = None,
) -> ScheduledReport:
    """One run of every scheduled rule and correlation; alerts land in the outbox (`db`)."""
    report = ScheduledReport()
    now = clock.now()
    end = now - search.settle
    disabled = disabled_rules(db=db)
    engine = load_engine(
        db=db,
        specs=plan.correlations,
        owned=plan.correlation_ids.__contains__,
        watermark_name=WATERMARK,
    )
    counts: Counter[str] = Counter()
    candidates: list[Candidate] = []
    correlation_hits: list[Hit] = []
    exercises: dict[str, str] = {}
    taken: set[str] = set()  # fingerprints raised in this run (a rule under two stacks)

    def fresh(rule_id: str) -> Callable[[str], bool]:
        def check(event_id: str) -> bool:
            mark = fingerprint("match", rule_id, event_id)
            return mark not in taken and not _in_outbox(db, mark)

        return check

    for rule in plan.rules:
        if rule.rule_id in disabled:
            continue
        done = _checkpoint(db, rule)
        start = (end if done is None else done) - lookback
        alerting = rule.rule_id in plan.alerting
        hits, reached = search.hits(
            rule,
            start=start,
            end=max(end, start),
            counted=fresh(rule.rule_id) if alerting else None,
            limit=max_alerts if alerting else None,
        )
        report.searched += 1
        report.hits += len(hits)
        if reached < end:
            report.capped.append(rule.rule_id)
            reached += lookback  # next start is exactly the last event taken; no gap
        _save_checkpoint(db, rule, reached, now)
        for hit in hits:
            event_id, source = str(hit["_id"]), hit["_source"]
            moment = _time_of(source, now)
            counts[rule.rule_id] += 1
            correlation_hits.append(Hit(rule.rule_id, moment.timestamp(), source, event_id))
            if (exercise := exercise_of(source)) is not None:
                exercises[event_id] = exercise
            if alerting and fresh(rule.rule_id)(event_id):
                candidates.append(_candidate(rule, event_id, source, moment, plan.meta))
                taken.add(candidates[-1].fingerprint)

    correlation_hits.sort(key=lambda hit: hit.time)
    firings = engine.feed(correlation_hits)
    if correlation_hits:
        ceiling = (now + MAX_FUTURE_SKEW).timestamp()
        firings += engine.advance(min(correlation_hits[-1].time, ceiling))
    for fired in firings:
        if fired.spec.rule_id in disabled:
            continue
        counts[fired.spec.rule_id] += 1
        report.firings += 1
        candidates.append(from_firing(fired, plan.meta, exercises))
    report.candidates = len(candidates)
    decisions = decide(
        db=db,
        clock=clock,
        candidates=candidates,
        policies=plan.policies(default_dedup),
        attack=attack or AttackResolver(),
    )
    report.new, report.duplicates = decisions.new, decisions.duplicates
    save_engine(db=db, engine=engine, clock=clock, watermark_name=WATERMARK)
    record_activity(db=db, clock=clock, hits=counts)
    db.flush()
    return report


def _in_outbox(db: Session, mark: str) -> bool:
    return db.scalar(select(AlertOutbox.id).where(AlertOutbox.fingerprint == mark)) is not None


def _checkpoint(db: Session, rule: ScheduledRule) -> datetime | None:
    """Ingest time up to which this rule has been searched (None: never ran)."""
    row = db.get(RuntimeValue, CHECKPOINT + rule.key)
    return None if row is None else datetime.fromisoformat(row.value["checkpoint"])


def _save_checkpoint(db: Session, rule: ScheduledRule, moment: datetime, now: datetime) -> None:
    value = {"checkpoint": utc_iso(moment), "rule_id": rule.rule_id, "stack": rule.stack}
    row = db.get(RuntimeValue, CHECKPOINT + rule.key)
    if row is None:
        db.add(RuntimeValue(name=CHECKPOINT + rule.key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


def _time_of(source: dict[str, Any], now: datetime) -> datetime:
    seconds = event_timestamp(source)
    return now if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _candidate(
    rule: ScheduledRule,
    event_id: str,
    source: dict[str, Any],
    moment: datetime,
    metas: dict[str, RuleMeta],
) -> Candidate:
    """A match alert shaped like the streaming path's (same fingerprint, same body fields)."""
    meta = metas.get(rule.rule_id)
    return Candidate(
        rule_id=rule.rule_id,
        title=rule.title,
        level=rule.level,
        tags=rule.tags,
        kind="match",
        time=moment,
        subject=source,
        fingerprint=fingerprint("match", rule.rule_id, event_id),
        event_ids=[event_id],
        personal_data=bool(meta and meta.personal_data),
        exercise_id=exercise_of(source),
        extra={"stack": rule.stack, "mode": "scheduled"},
    )
