"""The detection pipeline the spool consumer calls after storing a batch: match, correlate, alert.

Per batch, in order: deliver alerts a crash left in the outbox; match the batch; count hits;
feed correlation windows (event time); decide alerts (exceptions, maintenance, dedup) into the
outbox; commit windows, counters and outbox in ONE relational transaction; then store the
alerts in the AlertStore and write repeat counts. A crash before that commit replays the batch
from the spool as if it never ran; a crash after it only delays delivery to the next batch.
Alerts are fingerprinted (rule + event id, or correlation + group + window), so a batch the
spool redelivers raises nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import ValidationError
from core.events import Event, get_field
from core.store.base import AlertStore
from detection.alerts import (
    EXERCISE_FIELD,
    AttackResolver,
    Candidate,
    DedupPolicy,
    apply_repeats,
    decide,
    deliver_outbox,
    fingerprint,
    parse_dedup,
)
from detection.correlation import (
    CorrelationEngine,
    CorrelationSpec,
    Firing,
    Hit,
    compile_correlations,
    event_timestamp,
    rule_key,
    silenced_rules,
)
from detection.correlation_store import save_engine
from detection.loader import LastGood
from detection.management import disabled_rules, profile_costs, record_activity
from detection.service import CompileCache, RuleSet, has_links, load_rules

MAX_FUTURE_SKEW = timedelta(minutes=5)  # an event clock ahead of ours must not close windows


@dataclass(frozen=True)
class RuleMeta:
    """What alerts need beyond RuleInfo: the rule's custom ``dijkwacht.*`` attributes."""

    personal_data: bool = False
    dedup: DedupPolicy | None = None


@dataclass
class Detector:
    """Compiled rules plus correlations and per-rule alert settings: one loaded rule base."""

    ruleset: RuleSet
    correlations: list[CorrelationSpec]
    meta: dict[str, RuleMeta]
    silenced: frozenset[str]
    problems: list[str] = field(default_factory=list)

    def policies(self, default: DedupPolicy | None = None) -> dict[str, DedupPolicy | None]:
        ids = [r.rule_id for r in self.ruleset.rules] + [c.rule_id for c in self.correlations]
        return {rule_id: self.meta.get(rule_id, RuleMeta()).dedup or default for rule_id in ids}


def load_detector(
    *,
    paths: Sequence[Path],
    stacks: Sequence[str] = ("none",),
    placeholders: Mapping[str, Sequence[str]] | None = None,
    last_good: LastGood | None = None,
    windows: bool = False,
    cache: CompileCache | None = None,
) -> Detector:
    """Load rules (``service.load_rules``) plus correlations and the rules' custom attributes.

    The files are parsed a second time for correlations and attributes: ``load_rules`` keeps
    neither, and the cost is paid at load, not per event. With a ``cache`` and no correlation
    or filter in the files, the attributes are read from the YAML documents instead, so a
    reload does not parse every file again.
    """
    from detection.loader import parse_sources, read_sources

    ruleset = load_rules(
        paths=paths,
        stacks=stacks,
        placeholders=placeholders,
        last_good=last_good,
        windows=windows,  # Windows events through the raw-field mapping (detection.winlog)
        cache=cache,
    )
    sources, _ = last_good.read(paths) if last_good else read_sources(paths)
    specs: list[CorrelationSpec] = []
    attributes_of: list[tuple[str, Mapping[str, Any]]] = []
    problems: list[str] = []
    if cache is not None and not any(has_links(source) for source in sources):
        for source in sources:
            for doc in source.documents:
                if isinstance(doc, dict) and "detection" in doc:
                    key = str(doc["id"]) if doc.get("id") else str(doc.get("title"))
                    attributes_of.append((key, doc))
    else:
        parsed = parse_sources(sources)
        specs, correlation_problems = compile_correlations(parsed.correlations)
        problems = [str(p) for p in correlation_problems]
        for rule in [*parsed.rules, *parsed.correlations]:
            attributes_of.append((rule_key(rule), rule.custom_attributes))
    meta: dict[str, RuleMeta] = {}
    for key, attributes in attributes_of:
        dedup = None
        if "dijkwacht.dedup" in attributes:
            try:
                dedup = parse_dedup(attributes["dijkwacht.dedup"])
            except ValidationError as exc:
                problems.append(f"rule {key}: {exc}")
        personal = attributes.get("dijkwacht.personal_data", False)
        meta[key] = RuleMeta(personal_data=personal is True, dedup=dedup)
    return Detector(ruleset, specs, meta, silenced_rules(specs), problems)


def ids_of(events: Sequence[Event]) -> list[tuple[str, Event]]:
    """Pair stored events with their ``event.id`` (what the spool consumer hands over)."""
    pairs = []
    for index, event in enumerate(events):
        event_id = get_field(event, "event.id")
        if not isinstance(event_id, str) or not event_id:
            raise ValidationError(f"events[{index}].event.id", "a stored event needs its id")
        pairs.append((event_id, event))
    return pairs


@dataclass
class BatchReport:
    """What one batch produced, for logs and tests."""

    alert_ids: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    matches: int = 0
    firings: int = 0
    excepted: int = 0
    maintenance: int = 0
    duplicates: int = 0


def process_batch(
    *,
    events_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    detector: Detector,
    alert_store: AlertStore,
    correlation_state: CorrelationEngine,
    db: Session,
    clock: Clock,
    attack: AttackResolver | None = None,
    default_dedup: DedupPolicy | None = None,
    profile: bool = False,
) -> list[str]:
    """Run one stored batch through detection; return the ids of the alerts it created."""
    return run_batch(
        events_with_ids=events_with_ids,
        detector=detector,
        alert_store=alert_store,
        correlation_state=correlation_state,
        db=db,
        clock=clock,
        attack=attack,
        default_dedup=default_dedup,
        profile=profile,
    ).alert_ids


def run_batch(
    *,
    events_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    detector: Detector,
    alert_store: AlertStore,
    correlation_state: CorrelationEngine,
    db: Session,
    clock: Clock,
    attack: AttackResolver | None = None,
    default_dedup: DedupPolicy | None = None,
    profile: bool = False,
) -> BatchReport:
    """``process_batch`` with the full report (counts of suppressed, folded, fired)."""
    report = BatchReport()
    attack = attack or AttackResolver()
    report.alert_ids += deliver_outbox(db=db, alert_store=alert_store, clock=clock)
    events = [event for _, event in events_with_ids]
    ids = [event_id for event_id, _ in events_with_ids]
    now = clock.now()
    times = [_time_of(event, now) for event in events]

    started = time.perf_counter_ns()
    matches = detector.ruleset.match_batch(events)
    batch_ns = time.perf_counter_ns() - started
    costs = profile_costs(detector.ruleset, events) if profile else None
    report.matches = len(matches)

    disabled = disabled_rules(db=db)
    hits: Counter[str] = Counter()
    candidates: list[Candidate] = []
    correlation_hits: list[Hit] = []
    for match in matches:
        if match.rule_id in disabled:
            continue
        hits[match.rule_id] += 1
        event, event_id = events[match.event_index], ids[match.event_index]
        moment = times[match.event_index]
        correlation_hits.append(Hit(match.rule_id, moment.timestamp(), event, event_id))
        if match.rule_id in detector.silenced:
            continue  # generate: false — the correlation speaks for it
        meta = detector.meta.get(match.rule_id)
        candidates.append(
            Candidate(
                rule_id=match.rule_id,
                title=match.title,
                level=match.level,
                tags=match.tags,
                kind="match",
                time=moment,
                subject=event,
                fingerprint=fingerprint("match", match.rule_id, event_id),
                event_ids=[event_id],
                selections=match.selections,
                personal_data=bool(meta and meta.personal_data),
                exercise_id=_exercise(event),
                extra={"stack": match.stack},
            )
        )

    firings = correlation_state.feed(correlation_hits)
    if times:
        ceiling = (now + MAX_FUTURE_SKEW).timestamp()
        firings += correlation_state.advance(min(max(t.timestamp() for t in times), ceiling))
    exercise_by_id = {i: x for i, e in zip(ids, events, strict=True) if (x := _exercise(e))}
    for fired in firings:
        spec = fired.spec
        if spec.rule_id in disabled:
            continue
        hits[spec.rule_id] += 1
        report.firings += 1
        if spec.rule_id in detector.silenced:
            continue
        candidates.append(_from_firing(fired, detector, exercise_by_id))

    decisions = decide(
        db=db,
        clock=clock,
        candidates=candidates,
        policies=detector.policies(default_dedup),
        attack=attack,
    )
    report.excepted, report.maintenance = decisions.excepted, decisions.maintenance
    report.duplicates = decisions.duplicates
    save_engine(db=db, engine=correlation_state, clock=clock)
    record_activity(
        db=db, clock=clock, hits=hits, costs=costs, batch_ns=batch_ns, events=len(events)
    )
    db.commit()  # windows, counters, dedup groups and the outbox land together

    report.alert_ids += deliver_outbox(db=db, alert_store=alert_store, clock=clock)
    report.repeated = apply_repeats(alert_store=alert_store, repeats=decisions.repeats)
    return report


def _time_of(event: Mapping[str, Any], now: datetime) -> datetime:
    """Event time; an event without a readable time counts as arriving now."""
    seconds = event_timestamp(event)
    return now if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _exercise(event: Mapping[str, Any]) -> str | None:
    value = get_field(event, EXERCISE_FIELD)
    return str(value) if value is not None else None


def _from_firing(fired: Firing, detector: Detector, exercises: Mapping[str, str]) -> Candidate:
    spec = fired.spec
    meta = detector.meta.get(spec.rule_id)
    exercise = next((exercises[i] for i in fired.event_ids if i in exercises), None)
    return Candidate(
        rule_id=spec.rule_id,
        title=spec.title,
        level=spec.level,
        tags=spec.tags,
        kind="correlation",
        time=datetime.fromtimestamp(fired.last_time, UTC),
        subject=fired.group,
        fingerprint=fired.fingerprint,
        event_ids=list(fired.event_ids),
        group=dict(fired.group),
        personal_data=bool(meta and meta.personal_data),
        exercise_id=exercise,
        extra={
            "correlation": {
                "type": spec.kind,
                "timespan_s": spec.timespan,
                "condition": {spec.op: spec.count},
                "value": fired.value,
                "rules": list(fired.rule_ids),
                "window_start": _iso(fired.window_start),
                "window_end": _iso(fired.window_end),
            }
        },
    )


def _iso(seconds: float) -> str:
    from core.clock import utc_iso

    return utc_iso(datetime.fromtimestamp(seconds, UTC))
