"""Rule management: enable/disable, hit counters and cost, hot reload, "why did it match", Lucene.

Cost: the engine evaluates rules through its index and exposes no per-rule hook, so the stream
records the wall time of each batch's matching as a whole (``engine.cost`` in detection_runtime)
and, when asked (``profile_costs``), times every compiled rule's own predicate over the batch
with the engine's event views. A profiled cost is an upper bound: it ignores the index, which
skips most rules for most events; it is what to look at when ranking rules by expense.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sigma.backends.elasticsearch import LuceneBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.plugins import InstalledSigmaPlugins
from sigma.rule import SigmaDetection
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import record
from core.clock import Clock
from core.config import Settings
from core.errors import ValidationError
from detection.correlation import rule_key
from detection.loader import Snapshot, parse_sources, read_sources, snapshot
from detection.models import RuleState, RuntimeValue
from detection.pipelines import apply_stack, resolve_stack
from detection.rulesets import list_rules, load_rules
from detection.view import low_view, raw_view

ENGINE_COST = "engine.cost"
log = logging.getLogger(__name__)


# --- enable / disable and counters ---------------------------------------------------------------


def _state(db: Session, rule_id: str, now: datetime) -> RuleState:
    row = db.get(RuleState, rule_id)
    if row is None:
        row = RuleState(rule_id=rule_id, enabled=True, hits=0, cost_ns=0, updated_at=now)
        db.add(row)
    return row


def set_enabled(*, db: Session, clock: Clock, actor: str, rule_id: str, enabled: bool) -> None:
    """Switch a rule (or correlation) on or off; persisted and audited. Caller commits."""
    if not rule_id.strip():
        raise ValidationError("rule_id", "must not be empty")
    row = _state(db, rule_id, clock.now())
    row.enabled = enabled
    row.updated_at = clock.now()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="detection.rule.enable" if enabled else "detection.rule.disable",
        object_type="detection_rule",
        object_id=rule_id,
    )


def disabled_rules(*, db: Session) -> frozenset[str]:
    """Ids of rules switched off (read once per batch)."""
    return frozenset(db.scalars(select(RuleState.rule_id).where(RuleState.enabled.is_(False))))


def rule_states(*, db: Session) -> dict[str, RuleState]:
    return {row.rule_id: row for row in db.scalars(select(RuleState))}


def record_activity(
    *,
    db: Session,
    clock: Clock,
    hits: Mapping[str, int],
    costs: Mapping[str, int] | None = None,
    batch_ns: int = 0,
    events: int = 0,
) -> None:
    """Add a batch's hits (and profiled per-rule cost) to the counters, in the caller's txn."""
    now = clock.now()
    for rule_id in set(hits) | set(costs or {}):
        row = _state(db, rule_id, now)
        count = hits.get(rule_id, 0)
        row.hits = (row.hits or 0) + count
        row.cost_ns = (row.cost_ns or 0) + (costs or {}).get(rule_id, 0)
        if count:
            row.last_hit_at = now
        row.updated_at = now
    if batch_ns or events:
        mark = db.get(RuntimeValue, ENGINE_COST)
        old = dict(mark.value) if mark is not None else {}
        value = {
            "batches": int(old.get("batches", 0)) + 1,
            "events": int(old.get("events", 0)) + events,
            "ns": int(old.get("ns", 0)) + batch_ns,
        }
        if mark is None:
            db.add(RuntimeValue(name=ENGINE_COST, value=value, updated_at=now))
        else:
            mark.value = value
            mark.updated_at = now


def profile_costs(ruleset: Any, events: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Nanoseconds each compiled rule's predicate takes over ``events`` (index bypassed)."""
    views = [(low_view(raw), raw) for raw in (raw_view(e) for e in events)]
    costs: Counter[str] = Counter()
    for compiled in ruleset.engine.compiled:
        pred = compiled.predicate  # the generated function the engine runs
        start = time.perf_counter_ns()
        for low, raw in views:
            pred(low, raw)
        costs[compiled.rule_id] += time.perf_counter_ns() - start
    return dict(costs)


# --- hot reload ----------------------------------------------------------------------------------


@dataclass
class RuleWatcher:
    """Reloads the rules when a file under ``paths`` is added, removed or changed.

    A reload re-reads and re-parses every rule under every stack (correlations may reference
    rules in other files, and pySigma pipelines mutate rules), then swaps the result in; the
    caller keeps using the old set until ``poll`` returns a new one, so matching never stops.
    """

    paths: Sequence[Path]
    load: Callable[[], Any]
    current: Any = None
    seen: Snapshot = field(default_factory=dict)
    reloads: int = 0
    error: str | None = None

    def start(self) -> Any:
        self.seen = snapshot(self.paths)
        self.current = self.load()
        return self.current

    def changed(self) -> list[str]:
        now = snapshot(self.paths)
        keys = set(now) | set(self.seen)
        return sorted(k for k in keys if now.get(k) != self.seen.get(k))

    def poll(self) -> Any | None:
        """The reloaded rules when files changed since the last load, else None.

        Should a reload fail as a whole (a bug, not a bad file: those are problems of their
        own), the current rules keep running and ``error`` says why; the next change retries.
        """
        now = snapshot(self.paths)
        if now == self.seen and self.current is not None:
            return None
        self.seen = now
        try:
            loaded = self.load()
        except Exception as exc:  # the boundary of a reload: matching must not stop
            if self.current is None:
                raise
            self.error = f"rules not reloaded, the previous ones keep running: {exc!r}"
            log.error("detection: %s", self.error)
            return None
        self.error = None
        self.current = loaded
        self.reloads += 1
        return self.current


# --- rules test: which events match and why ---------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """One event a rule matched, with the selections that were true and their field values."""

    line: int
    rule_id: str
    title: str
    stack: str
    selections: tuple[str, ...]
    values: dict[str, dict[str, Any]]  # selection -> field -> the event's value


def selection_fields(rule_path: Path, stack: str) -> dict[str, dict[str, list[str]]]:
    """Per rule id, per named detection: the field names it tests (after the stack's mapping)."""
    sources, _ = read_sources([rule_path])
    out: dict[str, dict[str, list[str]]] = {}
    for rule in parse_sources(sources).rules:
        try:
            outcome = apply_stack(resolve_stack(stack), rule)
        except Exception:  # load_rules reported this rule as skipped under the stack already
            continue
        if outcome.rule is None:
            continue
        per: dict[str, list[str]] = {}
        for name, detection in outcome.rule.detection.detections.items():
            names: list[str] = []
            pending: list[SigmaDetection] = [detection]
            while pending:
                for item in pending.pop().detection_items:
                    if isinstance(item, SigmaDetection):
                        pending.append(item)
                    elif item.field is not None and item.field not in names:
                        names.append(item.field)
            per[name] = names
        out[rule_key(rule)] = per
    return out


def explain(
    *, rule_path: Path, events: Sequence[tuple[int, Mapping[str, Any]]], stacks: Sequence[str]
) -> tuple[list[Explanation], list[str]]:
    """Match one rule file over numbered events; return explanations and load problems."""
    ruleset = load_rules(paths=[rule_path], stacks=stacks)
    problems = [str(p) for p in ruleset.problems] + [
        f"{s.rule_id} [{s.stack}]: {s.reason}" for s in ruleset.skipped
    ]
    fields = {stack: selection_fields(rule_path, stack) for stack in ruleset.stacks}
    found: list[Explanation] = []
    for match in ruleset.match_batch([event for _, event in events]):
        line, event = events[match.event_index]
        raw = raw_view(event)
        per_selection = fields.get(match.stack, {}).get(match.rule_id, {})
        values = {
            name: {f: raw.get(f.lower()) for f in per_selection.get(name, [])}
            for name in match.selections
        }
        found.append(
            Explanation(line, match.rule_id, match.title, match.stack, match.selections, values)
        )
    return found, problems


# --- Lucene (scale-out path) -------------------------------------------------------------------


@dataclass(frozen=True)
class LuceneResult:
    """A rule's Lucene query, or why it has none."""

    rule_id: str
    query: str | None
    reason: str | None = None


def convert_to_lucene(rule_path: Path, *, pipeline: str = "ecs_windows") -> list[LuceneResult]:
    """Lucene queries of every rule in ``rule_path`` (pySigma's Elasticsearch backend).

    The file is parsed afresh here: pipelines mutate rules, so a rule already processed for
    the streaming matcher must not be reused.
    """
    pipelines = InstalledSigmaPlugins.autodiscover().pipelines
    if pipeline not in pipelines:
        raise ValidationError(
            "pipeline", f"unknown pipeline {pipeline!r}; known: {sorted(pipelines)}"
        )
    sources, problems = read_sources([rule_path])
    parsed = parse_sources(sources)
    results = [
        LuceneResult(p.item or str(rule_path), None, f"does not load: {p}")
        for p in problems + parsed.problems
    ]
    results += [
        LuceneResult(
            rule_key(c), None, "correlation rule: the Lucene backend converts no correlations"
        )
        for c in parsed.correlations
    ]
    for rule in parsed.rules:
        backend = LuceneBackend(processing_pipeline=pipelines[pipeline]())
        try:
            queries = backend.convert(SigmaCollection([rule]))
        except SigmaError as exc:
            results.append(LuceneResult(rule_key(rule), None, f"{type(exc).__name__}: {exc}"))
            continue
        texts = [str(q) for q in queries]
        if not texts:
            results.append(LuceneResult(rule_key(rule), None, "the backend produced no query"))
        else:
            results.append(
                LuceneResult(
                    rule_key(rule),
                    " OR ".join(f"({t})" for t in texts) if len(texts) > 1 else texts[0],
                )
            )
    return results


def store_lucene(*, db: Session, clock: Clock, results: Iterable[LuceneResult]) -> None:
    """Keep each rule's Lucene query (or the reason it has none) with its state. Caller commits."""
    now = clock.now()
    for result in results:
        row = _state(db, result.rule_id, now)
        row.lucene = result.query
        row.lucene_error = result.reason
        row.updated_at = now


def configured_rule_paths(settings: Settings) -> list[Path]:
    """The configured rule folders, or the rule pack that ships with Dijkwacht."""
    if settings.detection_rules:
        return [path.expanduser().resolve() for path in settings.detection_rules]
    return [Path(__file__).resolve().parent / "rules"]


@dataclass(frozen=True, slots=True)
class CoverageSummary:
    """Enabled rules and the ATT&CK techniques they tag (for compliance evidence)."""

    rules: int
    enabled: int
    techniques: tuple[str, ...]
    problems: int


def coverage_summary(*, db: Session, paths: Sequence[Path]) -> CoverageSummary:
    """How many rules load and run, and which techniques (attack.tNNNN tags) the enabled tag."""
    infos, problems = list_rules(paths=paths)
    disabled = disabled_rules(db=db)
    enabled = [info for info in infos if info.rule_id not in disabled]
    techniques = sorted(
        {
            tag.lower().removeprefix("attack.").upper()
            for info in enabled
            for tag in info.tags
            if re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", tag.lower())
        }
    )
    return CoverageSummary(
        rules=len(infos), enabled=len(enabled), techniques=tuple(techniques), problems=len(problems)
    )
