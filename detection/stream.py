"""The detection pipeline the spool consumer calls after storing a batch: match, correlate, alert.

Per batch, in order: deliver alerts a crash left in the outbox; match the batch (outside any
transaction: it is pure CPU work); count hits;
feed correlation windows (event time); decide alerts (exceptions, maintenance, dedup) into the
outbox; commit windows, counters and outbox in ONE relational transaction; then store the
alerts in the AlertStore and write repeat counts. A crash before that commit replays the batch
from the spool as if it never ran; a crash after it only delays delivery to the next batch.
Alerts are fingerprinted (rule + event id, or correlation + group + window), so a batch the
spool redelivers raises nothing twice.

`run_batch` is the pipeline's boundary: it opens each of those transactions as a write unit
(`core.store.unit_of_work`, BEGIN IMMEDIATE on SQLite, so the busy timeout applies); the steps
inside (`detect_batch`, `deliver_outbox`, ...) never commit. A write lock that stays taken past
the busy timeout raises `OperationalError` ("database is locked", `is_locked_error` true) with
the batch's transaction rolled back: the caller keeps the batch spooled and retries it, after
reloading the correlation windows (their in-memory state ran ahead of the rolled-back write).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, utc_iso
from core.errors import ValidationError
from core.events import Event, get_field
from core.store.base import AlertStore
from core.store.unit_of_work import is_locked_error, unit_of_work
from detection.alerts import (
    EXERCISE_FIELD,
    AttackResolver,
    Candidate,
    DedupPolicy,
    apply_repeats,
    decide,
    deliver_outbox,
    fingerprint,
    outbox_pending,
    parse_dedup,
)
from detection.compile_cache import CompileCache
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
from detection.loader import LastGood, parse_sources, read_sources
from detection.management import disabled_rules, profile_costs, record_activity
from detection.models import DedupGroup
from detection.rulesets import Match, RuleSet, load_rules

log = logging.getLogger(__name__)

MAX_FUTURE_SKEW = timedelta(minutes=5)  # an event clock ahead of ours must not close windows
SCHEDULED_SKIP = "scheduled mode: runs as a scheduled search over Elasticsearch"


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
    scheduled: frozenset[str] = frozenset()  # rule ids in scheduled mode: no alerts from here

    def policies(self, default: DedupPolicy | None = None) -> dict[str, DedupPolicy | None]:
        ids = [r.rule_id for r in self.ruleset.rules] + [c.rule_id for c in self.correlations]
        return {rule_id: self.meta.get(rule_id, RuleMeta()).dedup or default for rule_id in ids}


def load_detector(
    *,
    paths: Sequence[Path],
    stacks: Sequence[str] = ("none",),
    placeholders: Mapping[str, Sequence[str]] | None = None,
    last_good: LastGood | None = None,
    mode_of: Callable[[str], str] | None = None,
    windows: bool = False,
    cache: CompileCache | None = None,
) -> Detector:
    """Load rules (``service.load_rules``) plus correlations and the rules' custom attributes.

    Rules and correlations whose ``mode_of`` is "scheduled" run as Elasticsearch searches
    (``detection.scheduled_run``), so this matcher skips them: they are listed in the load report
    and raise nothing here. A scheduled rule that a streaming correlation needs is still matched,
    for that correlation only. With a ``cache`` the rules are loaded file by file first; when no
    file holds a correlation or filter, each rule's ``dijkwacht.*`` attributes come with the
    loaded parts, so neither a reload nor a restart (disk cache) parses unchanged files. Else
    the files are parsed again for correlations and attributes (paid at load, not per event).
    """
    specs: list[CorrelationSpec] = []
    attributes_of: list[tuple[str, Mapping[str, Any]]] = []
    problems: list[str] = []
    loaded: RuleSet | None = None
    if cache is not None:
        # File by file through the cache: a restart parses no unchanged file. The attributes
        # come with the parts; no file links rules, so there are no correlations.
        loaded = load_rules(
            paths=paths,
            stacks=stacks,
            placeholders=placeholders,
            last_good=last_good,
            windows=windows,
            cache=cache,
        )
    if loaded is not None and loaded.attributes is not None:
        attributes_of = list(loaded.attributes)
    else:
        sources, _ = last_good.read(paths) if last_good else read_sources(paths)
        parsed = parse_sources(sources)
        specs, correlation_problems = compile_correlations(parsed.correlations)
        problems = [str(p) for p in correlation_problems]
        for rule in [*parsed.rules, *parsed.correlations]:
            attributes_of.append((rule_key(rule), rule.custom_attributes))
    silenced = silenced_rules(specs)  # a scheduled correlation still silences its rules here
    scheduled: set[str] = set()
    if mode_of is not None:
        scheduled = {key for key, _ in attributes_of if mode_of(key) == "scheduled"}
        specs = [spec for spec in specs if spec.rule_id not in scheduled]
    needed = {rule_id for spec in specs for rule_id in spec.rules}
    skip = {rule_id: SCHEDULED_SKIP for rule_id in scheduled - needed}
    if loaded is not None:
        ruleset = loaded.skipping(skip) if skip else loaded
    else:
        ruleset = load_rules(
            paths=paths,
            stacks=stacks,
            placeholders=placeholders,
            last_good=last_good,
            windows=windows,  # Windows events through the raw-field mapping (detection.winlog)
            skip=skip,
        )
    meta, meta_problems = meta_of(attributes_of)
    return Detector(ruleset, specs, meta, silenced, problems + meta_problems, frozenset(scheduled))


def rule_meta(rules: Sequence[Any]) -> tuple[dict[str, RuleMeta], list[str]]:
    """Each parsed rule's custom ``dijkwacht.*`` attributes (shared with scheduled runs)."""
    return meta_of([(rule_key(rule), rule.custom_attributes) for rule in rules])


def meta_of(
    attributes_of: Sequence[tuple[str, Mapping[str, Any]]],
) -> tuple[dict[str, RuleMeta], list[str]]:
    """Per-rule alert settings from each rule's custom attributes, with located problems."""
    problems: list[str] = []
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
    return meta, problems


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
    sessions: sessionmaker[Session],
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
        sessions=sessions,
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
    sessions: sessionmaker[Session],
    clock: Clock,
    attack: AttackResolver | None = None,
    default_dedup: DedupPolicy | None = None,
    profile: bool = False,
) -> BatchReport:
    """``process_batch`` with the full report (counts of suppressed, folded, fired).

    Write units: leftover outbox delivery (only when a read finds some), the batch (windows,
    counters, dedup groups and the outbox land together), delivery of the batch's alerts. A
    failure of the last only delays delivery to the next batch (the outbox is committed), so
    it is logged, not raised.
    """
    report = BatchReport()
    with unit_of_work(sessions, write=False) as db:
        leftover = outbox_pending(db=db)
    if leftover:  # only after a crash or a deferred delivery: no write lock otherwise
        with unit_of_work(sessions) as db:
            report.alert_ids += deliver_outbox(db=db, alert_store=alert_store, clock=clock)
    # Matching is pure CPU work on the batch: done before the write unit, not under its lock.
    matched = match_stored(
        events_with_ids=events_with_ids, detector=detector, clock=clock, profile=profile
    )
    with unit_of_work(sessions) as db:
        repeats = detect_batch(
            db=db,
            report=report,
            matched=matched,
            detector=detector,
            correlation_state=correlation_state,
            clock=clock,
            attack=attack,
            default_dedup=default_dedup,
        )
    try:
        with unit_of_work(sessions) as db:
            report.alert_ids += deliver_outbox(db=db, alert_store=alert_store, clock=clock)
            # Re-read in this unit: delivery just gave same-batch groups their alert id.
            groups = [g for key in repeats if (g := db.get(DedupGroup, key)) is not None]
    except OperationalError as exc:
        if not is_locked_error(exc):
            raise
        # Counts are absolute: the next repeat of these groups writes the right number.
        log.warning("detection: alert delivery deferred to the next batch: database busy")
        return report
    report.repeated = apply_repeats(alert_store=alert_store, repeats=groups)
    return report


@dataclass(frozen=True)
class MatchedBatch:
    """A batch run through the compiled rules, before any transaction is opened.

    Matching reads only the events and the compiled rules, so it runs outside the write unit:
    under load it was the longest part of the batch's transaction, and every other writer of
    the main database (logins, audited reads) waited on it (bench/load.py).
    """

    events: list[Mapping[str, Any]]
    ids: list[str]
    times: list[datetime]
    now: datetime
    matches: list[Match]
    batch_ns: int
    costs: dict[str, int] | None


def match_stored(
    *,
    events_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    detector: Detector,
    clock: Clock,
    profile: bool = False,
) -> MatchedBatch:
    """Match one stored batch against the rule set; touches no database."""
    events = [event for _, event in events_with_ids]
    ids = [event_id for event_id, _ in events_with_ids]
    now = clock.now()
    times = [_time_of(event, now) for event in events]
    started = time.perf_counter_ns()
    matches = detector.ruleset.match_batch(events)
    batch_ns = time.perf_counter_ns() - started
    costs = profile_costs(detector.ruleset, events) if profile else None
    return MatchedBatch(events, ids, times, now, list(matches), batch_ns, costs)


def detect_batch(
    *,
    db: Session,
    report: BatchReport,
    matched: MatchedBatch,
    detector: Detector,
    correlation_state: CorrelationEngine,
    clock: Clock,
    attack: AttackResolver | None = None,
    default_dedup: DedupPolicy | None = None,
) -> list[tuple[str, str]]:
    """Correlate and decide one matched batch in the caller's write unit; never commits.

    Fills `report`; returns the keys of the dedup groups whose alerts need their repeat count
    written once the unit has committed and the outbox is delivered.
    """
    attack = attack or AttackResolver()
    events, ids, times, now = matched.events, matched.ids, matched.times, matched.now
    matches, batch_ns, costs = matched.matches, matched.batch_ns, matched.costs
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
        if match.rule_id in detector.silenced or match.rule_id in detector.scheduled:
            continue  # generate: false (the correlation speaks), or a scheduled search alerts
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
                exercise_id=exercise_of(event),
                extra={"stack": match.stack},
            )
        )

    firings = correlation_state.feed(correlation_hits)
    if times:
        ceiling = (now + MAX_FUTURE_SKEW).timestamp()
        firings += correlation_state.advance(min(max(t.timestamp() for t in times), ceiling))
    exercise_by_id = {i: x for i, e in zip(ids, events, strict=True) if (x := exercise_of(e))}
    for fired in firings:
        spec = fired.spec
        if spec.rule_id in disabled:
            continue
        hits[spec.rule_id] += 1
        report.firings += 1
        if spec.rule_id in detector.silenced:
            continue
        candidates.append(from_firing(fired, detector.meta, exercise_by_id))

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
    return list(dict.fromkeys((g.rule_id, g.key_hash) for g in decisions.repeats))


def _time_of(event: Mapping[str, Any], now: datetime) -> datetime:
    """Event time; an event without a readable time counts as arriving now."""
    seconds = event_timestamp(event)
    return now if seconds is None else datetime.fromtimestamp(seconds, UTC)


def exercise_of(event: Mapping[str, Any]) -> str | None:
    """The drill an event belongs to (``dijkwacht.exercise_id``), if any."""
    value = get_field(event, EXERCISE_FIELD)
    return str(value) if value is not None else None


def from_firing(
    fired: Firing, metas: Mapping[str, RuleMeta], exercises: Mapping[str, str]
) -> Candidate:
    """The alert candidate of a correlation that fired (shared with scheduled runs)."""
    spec = fired.spec
    meta = metas.get(spec.rule_id)
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
    return utc_iso(datetime.fromtimestamp(seconds, UTC))
