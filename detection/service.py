"""Detection service: load Sigma rules under pipeline stacks and match batches of events.

The rest of the platform calls only this module::

    rules = load_rules(paths=[Path("rules")], stacks=["sysmon+windows-logsources"])
    for match in rules.match_batch(events):
        ...

Each rule is parsed afresh per stack (pySigma pipelines mutate rules in place), processed by the
stack's pipelines, and compiled. Under a stack with pipelines, a rule that ends up without any
``Channel`` condition is not run there: its log source is not one the stack knows, and running
it against every event of every channel would only produce noise. This mirrors how the
reference (Zircolite) builds its rulesets; the stack ``none`` keeps every rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaRule, SigmaRuleBase

from core.content import Issue
from core.store.base import AlertQuery, AlertStore

# Re-exported for other domains (compliance) and the roots: alerts the platform raises about
# itself, rule coverage, and rule management (enable/disable, explain, Lucene conversion).
from detection.alerts import deliver_outbox, queue_platform_alert
from detection.compiler import CompiledRule, compile_rule
from detection.engine import Engine, Hit
from detection.errors import CompileError
from detection.loader import LastGood, parse_sources, read_sources
from detection.management import (
    ENGINE_COST,
    Explanation,
    configured_rule_paths,
    convert_to_lucene,
    coverage_summary,
    explain,
    rule_states,
    set_enabled,
    snapshot,
    store_lucene,
)
from detection.modifiers import Placeholders
from detection.pipelines import NO_PIPELINE, apply_stack, resolve_stack, split_stack
from detection.winlog import WINDOWS_STACKS, is_windows, raw_fields

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.clock import Clock
    from detection.alerts import AttackResolver, Candidate

# What pages, commands, tasks and other domains call (tests/test_reachable_services.py).
__all__ = [
    "ENGINE_COST",
    "SHIPPED_RULES",
    "CompileCache",
    "Explanation",
    "RuleInfo",
    "RuleSet",
    "add_exception",
    "add_maintenance_window",
    "alert_candidate",
    "alert_fingerprint",
    "alert_tag_counts",
    "check_rules",
    "configured_rule_paths",
    "convert_to_lucene",
    "coverage_summary",
    "deliver_alerts",
    "deliver_outbox",
    "dry_run",
    "edit_exception",
    "end_maintenance_window",
    "expire_exception",
    "explain",
    "is_windows_event",
    "list_exceptions",
    "list_maintenance_windows",
    "list_rules",
    "load_rules",
    "not_run",
    "queue_platform_alert",
    "raise_alerts",
    "rule_states",
    "set_enabled",
    "snapshot",
    "store_lucene",
    "windows_raw_fields",
]

# The field a pipeline's log-source mapping tests: ``Channel`` for raw Windows field names,
# ``winlog.channel`` once an ECS pipeline (``ecs_windows``) has renamed it.
SCOPE_FIELDS = frozenset({"channel", "winlog.channel"})

# The Windows mapping, for callers outside detection (`dijkwacht detect`).
is_windows_event = is_windows
windows_raw_fields = raw_fields


@dataclass(frozen=True)
class RuleInfo:
    """What an alert needs to say about a rule."""

    rule_id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    path: str | None
    kind: str = "rule"  # or "correlation"


@dataclass(frozen=True)
class Skipped:
    """A rule that loaded but does not run under one stack, and why."""

    rule_id: str
    stack: str
    reason: str


@dataclass(frozen=True)
class Match:
    """One rule matching one event of a batch."""

    rule_id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    event_index: int
    stack: str
    selections: tuple[str, ...]  # named detections that were true: why it matched


@dataclass
class RuleSet:
    """Compiled rules ready to match; also the load report (problems, skipped rules)."""

    rules: list[RuleInfo]
    engine: Engine
    stacks: tuple[str, ...]
    problems: list[Issue] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # The Windows mapping (``detection.winlog``): events with ``winlog.*`` are matched in their
    # raw-field form by this engine (rules under ``WINDOWS_STACKS``), and only by it.
    windows: Engine | None = None

    @property
    def runnable(self) -> bool:
        """True when at least one rule runs under at least one stack."""
        return bool(self.engine.compiled) or bool(self.windows and self.windows.compiled)

    def hits(self, events: Sequence[Mapping[str, Any]], *, start: int = 0) -> list[Hit]:
        """Engine hits of a batch, Windows events through the Windows mapping when it is on."""
        if self.windows is None:
            return self.engine.match_batch(events, start=start)
        plain: list[Mapping[str, Any]] = []
        plain_at: list[int] = []
        mapped: list[Mapping[str, Any]] = []
        mapped_at: list[int] = []
        for offset, event in enumerate(events):
            if is_windows(event):
                mapped.append(raw_fields(event))
                mapped_at.append(start + offset)
            else:
                plain.append(event)
                plain_at.append(start + offset)
        if not mapped:
            return self.engine.match_batch(events, start=start)
        found = self.windows.match_batch(mapped)
        for hit in found:
            hit.event_index = mapped_at[hit.event_index]
        if plain:
            more = self.engine.match_batch(plain)
            for hit in more:
                hit.event_index = plain_at[hit.event_index]
            found = sorted([*found, *more], key=lambda hit: hit.event_index)
        return found

    def match_batch(self, events: Sequence[Mapping[str, Any]], *, start: int = 0) -> list[Match]:
        """Matches of a batch; ``event_index`` counts from ``start``."""
        matches = []
        for hit in self.hits(events, start=start):
            compiled = hit.compiled
            matches.append(
                Match(
                    rule_id=compiled.rule_id,
                    title=compiled.title,
                    level=compiled.level,
                    tags=compiled.tags,
                    event_index=hit.event_index,
                    stack=compiled.stack,
                    selections=tuple(compiled.matched_selections(hit.low, hit.raw)),
                )
            )
        return matches

    def match_pairs(
        self, events: Sequence[Mapping[str, Any]], *, start: int = 0
    ) -> Iterator[tuple[int, int]]:
        """(event index, rule number) pairs only: the fast path for batch commands."""
        for hit in self.hits(events, start=start):
            yield hit.event_index, hit.rule_number


def load_rules(
    *,
    paths: Iterable[Path],
    stacks: Sequence[str] = (NO_PIPELINE,),
    placeholders: Placeholders | None = None,
    last_good: LastGood | None = None,
    windows: bool = False,
    cache: CompileCache | None = None,
    plain: bool = True,
    skip: Mapping[str, str] | None = None,
) -> RuleSet:
    """Load every rule under ``paths`` and compile it under each stack (union at match time).

    A rule that cannot be parsed, processed or compiled is reported (``problems``, ``skipped``)
    and the rest load. With ``last_good`` (hot reload), a file that turned bad is replaced by
    its last good version. With ``windows``, the rules are also compiled under
    ``WINDOWS_STACKS`` for the Windows mapping (``RuleSet.windows``). With ``cache``,
    unchanged files are not parsed or compiled again (``CompileCache``). ``plain=False`` (with
    ``windows``: every event is a Windows event) leaves ``stacks`` out, so nothing is compiled
    twice for nothing; such a set matches only Windows events. ``skip`` maps rule ids not to
    match to the reason (e.g. rules in scheduled mode); they are listed in the load report's
    ``skipped``, never dropped silently (they are still compiled, so the cache stays whole).
    """
    skip = skip or {}
    stacks = tuple(stacks) or (NO_PIPELINE,)
    extra = tuple(s for s in WINDOWS_STACKS if windows)
    own = stacks if plain or not windows else ()
    every = own + extra
    pipelines = {stack: resolve_stack(stack) for stack in every}  # unknown names raise here
    sources, problems = last_good.read(paths) if last_good else read_sources(paths)
    labels = [*own, *(f"windows:{stack}" for stack in extra)]
    if cache is not None and not any(has_links(source) for source in sources):
        parts = _by_file(sources, every, labels, pipelines, placeholders, cache)
    else:
        parts = [_one_load(sources, every, labels, pipelines, placeholders)]
    rules: list[RuleInfo] = []
    compiled: list[CompiledRule] = []
    numbers: list[int] = []
    windows_compiled: list[CompiledRule] = []
    windows_numbers: list[int] = []
    skipped: list[Skipped] = []
    for part in parts:
        offset = len(rules)
        rules += part.infos
        problems += part.problems
        skipped += part.skipped
        skipped += [
            Skipped(i.rule_id, "*", skip[i.rule_id]) for i in part.infos if i.rule_id in skip
        ]
        for label, number, rule in part.compiled:
            if part.infos[number].rule_id in skip:
                continue
            mapping = label.startswith("windows:")
            (windows_compiled if mapping else compiled).append(rule)
            (windows_numbers if mapping else numbers).append(offset + number)
    return RuleSet(
        rules=rules,
        engine=Engine(compiled, numbers),
        stacks=stacks,
        problems=problems,
        skipped=skipped,
        windows=Engine(windows_compiled, windows_numbers) if windows else None,
    )


# Part of every compile-cache key: compiled rules of another engine version are never reused.
ENGINE_VERSION = "detection-compiler-1"


@dataclass(frozen=True)
class _Part:
    """Rules of some files compiled under every stack; numbers count within the part."""

    infos: list[RuleInfo]
    problems: list[Issue]
    skipped: list[Skipped]
    compiled: list[tuple[str, int, CompiledRule]]  # (stack label, rule number, compiled)


class CompileCache:
    """Compiled rules per rule file content, stack, placeholders and engine version.

    Kept by a long-lived loader (the collector's detection hook): a reload after editing one
    rule file parses and compiles that file only. pySigma pipelines mutate rules in place, so
    each file is parsed afresh per stack, as in the uncached path. Files with Sigma filters or
    correlations link rules across files and take the uncached path.
    """

    def __init__(self) -> None:
        self._parts: dict[tuple[Any, ...], _Part] = {}

    def __len__(self) -> int:
        return len(self._parts)


def has_links(source: Any) -> bool:
    """Whether a file holds a filter or a correlation (rules that reach into other files)."""
    return any(
        isinstance(doc, dict) and ("filter" in doc or "correlation" in doc)
        for doc in source.documents
    )


def _by_file(
    sources: Sequence[Any],
    stacks: Sequence[str],
    labels: Sequence[str],
    pipelines: Mapping[str, Any],
    placeholders: Placeholders | None,
    cache: CompileCache,
) -> list[_Part]:
    setting = (tuple(stacks), tuple(labels), repr(sorted((placeholders or {}).items())))
    kept: dict[tuple[Any, ...], _Part] = {}
    parts = []
    for source in sources:
        digest = hashlib.blake2b(source.text.encode("utf-8"), digest_size=16).digest()
        key = (str(source.path), digest, setting, ENGINE_VERSION)
        part = cache._parts.get(key)
        if part is None:
            part = _one_load([source], stacks, labels, pipelines, placeholders)
        kept[key] = part
        parts.append(part)
    cache._parts = kept  # files that changed or went away leave the cache
    return parts


def _one_load(
    sources: Sequence[Any],
    stacks: Sequence[str],
    labels: Sequence[str],
    pipelines: Mapping[str, Any],
    placeholders: Placeholders | None,
) -> _Part:
    """Parse (afresh per stack) and compile ``sources`` under every stack."""
    infos: list[RuleInfo] = []
    problems: list[Issue] = []
    skipped: list[Skipped] = []
    compiled: list[tuple[str, int, CompiledRule]] = []
    for stack_number, (stack, label) in enumerate(zip(stacks, labels, strict=True)):
        parsed = parse_sources(sources)  # fresh objects: the pipeline mutates them
        if stack_number == 0:
            problems += parsed.problems
            infos = [_info(rule) for rule in parsed.rules]
            skipped += _correlation_notes(parsed.correlations)
        for number, rule in enumerate(parsed.rules):
            outcome = _compile_one(rule, stack, label, pipelines[stack], placeholders)
            if isinstance(outcome, str):
                skipped.append(Skipped(infos[number].rule_id, label, outcome))
            else:
                compiled.append((label, number, outcome))
    return _Part(infos, problems, skipped, compiled)


def _compile_one(
    rule: SigmaRule,
    stack: str,
    label: str,
    pipeline: Any,
    placeholders: Placeholders | None,
) -> CompiledRule | str:
    """The rule compiled under one stack, or why it does not run there."""
    try:
        outcome = apply_stack(pipeline, rule)
    except Exception as exc:  # a pipeline crashing on one rule skips only that rule
        return f"pipeline failed: {exc!r}"
    if outcome.rule is None:
        return outcome.reason or "not supported"
    if split_stack(stack) and not _has_field(outcome.rule, SCOPE_FIELDS):
        return "log source not mapped to a Channel"
    try:
        return compile_rule(rule, stack=stack, placeholders=placeholders)
    except (CompileError, SigmaError) as exc:
        return str(exc)
    except Exception as exc:  # a compiler bug on one rule skips only that rule
        return f"cannot compile: {exc!r}"


def not_run(ruleset: RuleSet, *, windows: bool, plain: bool) -> dict[str, list[str]]:
    """Rule id -> reasons, for every rule that runs under none of the stacks in use.

    ``windows``/``plain``: whether the input has events for the Windows mapping / for the
    configured stacks. A rule that runs under any stack in use is not listed; correlation rules
    (``*``) always are, as the single-event matcher does not evaluate them.
    """
    in_use = {
        *(f"windows:{s}" for s in WINDOWS_STACKS if windows and ruleset.windows is not None),
        *(ruleset.stacks if plain or ruleset.windows is None else ()),
    }
    reasons: dict[str, list[str]] = {}
    for note in ruleset.skipped:
        if note.stack == "*" or note.stack in in_use:
            reasons.setdefault(note.rule_id, [])
            if note.reason not in reasons[note.rule_id]:
                reasons[note.rule_id].append(note.reason)
    running = {ruleset.rules[n].rule_id for n in _numbers(ruleset, windows=windows, plain=plain)}
    return {rule_id: why for rule_id, why in reasons.items() if rule_id not in running}


def _numbers(ruleset: RuleSet, *, windows: bool, plain: bool) -> set[int]:
    numbers: set[int] = set()
    if plain or ruleset.windows is None:
        numbers.update(ruleset.engine.rule_numbers)
    if windows and ruleset.windows is not None:
        numbers.update(ruleset.windows.rule_numbers)
    return numbers


def check_rules(*, paths: Iterable[Path]) -> list[Issue]:
    """Every load problem under ``paths`` (no pipelines applied, nothing compiled)."""
    sources, problems = read_sources(paths)
    return problems + parse_sources(sources).problems


def list_rules(*, paths: Iterable[Path]) -> tuple[list[RuleInfo], list[Issue]]:
    """Every rule and correlation rule under ``paths`` with its load problems; nothing compiled.

    For listings (the dashboard's rules pages): parsing the pack takes a few hundred ms, so the
    result is kept per version of the files (their mtimes and sizes) and re-read when one changes.
    """
    from detection.management import snapshot

    resolved = tuple(Path(p) for p in paths)
    key = tuple(sorted(snapshot(resolved).items()))
    infos, problems = _listing(resolved, key)
    return list(infos), list(problems)


@lru_cache(maxsize=4)
def _listing(
    paths: tuple[Path, ...], _version: tuple[tuple[str, tuple[int, int]], ...]
) -> tuple[tuple[RuleInfo, ...], tuple[Issue, ...]]:
    sources, problems = read_sources(paths)
    parsed = parse_sources(sources)
    infos = [_info(rule) for rule in parsed.rules]
    infos += [_info(rule, kind="correlation") for rule in parsed.correlations]
    return tuple(infos), tuple(problems + parsed.problems)


def _info(rule: SigmaRuleBase, kind: str = "rule") -> RuleInfo:
    source = getattr(rule, "source", None)
    return RuleInfo(
        rule_id=str(rule.id) if rule.id else rule.title,
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        tags=tuple(str(tag) for tag in rule.tags),
        path=str(source.path) if source is not None else None,
        kind=kind,
    )


def _correlation_notes(correlations: Sequence[Any]) -> list[Skipped]:
    """Correlation rules parse, but the streaming matcher does not evaluate them (yet)."""
    return [
        Skipped(
            str(rule.id) if rule.id else str(rule.title),
            "*",
            "correlation rule: loaded but not evaluated by the streaming matcher",
        )
        for rule in correlations
    ]


def _has_field(rule: SigmaRule, names: frozenset[str]) -> bool:
    """Whether any detection item (pipeline-added ones included) tests one of ``names``."""
    pending: list[SigmaDetection] = list(rule.detection.detections.values())
    while pending:
        detection = pending.pop()
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                pending.append(item)
            elif item.field is not None and item.field.lower() in names:
                return True
    return False


def alert_tag_counts(
    *, alert_store: AlertStore, since: datetime, until: datetime, page_size: int = 500
) -> dict[str, int]:
    """How often each rule tag (e.g. ``attack.t1566``) appeared on real alerts in a period.

    For trend readers such as awareness: only lower-cased tags and counts leave detection, never
    an alert, host, user or event; drill alerts are left out.
    """
    counts: dict[str, int] = {}
    offset = 0
    while True:
        page = alert_store.search(
            AlertQuery(
                start=since,
                end=until,
                exercise=False,
                limit=page_size,
                offset=offset,
                sort="oldest",
            )
        )
        for alert in page:
            tags = alert.body.get("tags") or ()
            for tag in {str(tag).lower() for tag in tags if isinstance(tag, str)}:
                counts[tag] = counts.get(tag, 0) + 1
        if len(page) < page_size:
            return counts
        offset += page_size


SHIPPED_RULES = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class RuleDryRun:
    """Which alerting rules exist and which of them fire on a list of events (no stores)."""

    known: dict[str, str]  # rule id -> title, alerting rules and correlations
    fired: frozenset[str]
    problems: tuple[str, ...] = ()


def dry_run(
    *, events: Sequence[Mapping[str, Any]], paths: Sequence[Path] = (SHIPPED_RULES,)
) -> RuleDryRun:
    """Run the rule pack over `events` in memory, as the stream would (for drill checks)."""
    from detection.rulepack import evaluate
    from detection.stream import load_detector

    detector = load_detector(paths=list(paths))
    known = {
        r.rule_id: r.title for r in detector.ruleset.rules if r.rule_id not in detector.silenced
    }
    known.update({c.rule_id: c.title for c in detector.correlations})
    pairs = [(f"e{index}", event) for index, event in enumerate(events)]
    fired = {d.rule_id for d in evaluate(detector=detector, events_with_ids=pairs)}
    problems = (*detector.problems, *(str(p) for p in detector.ruleset.problems))
    return RuleDryRun(known=known, fired=frozenset(fired), problems=problems)


# -- alert exceptions and maintenance windows (detection/exceptions.py) ------------------------
from detection.exceptions import (  # noqa: E402 - the facade other packages call
    add_exception,
    add_maintenance_window,
    edit_exception,
    end_maintenance_window,
    expire_exception,
    list_exceptions,
    list_maintenance_windows,
)

# -- alerts raised outside the Sigma matcher (threat-intel matches) ---------------------------


def raise_alerts(
    *,
    db: Session,
    clock: Clock,
    candidates: Sequence[Candidate],
    attack: AttackResolver | None = None,
) -> int:
    """Queue `detection.alerts.Candidate`s built by another domain (threat-intel indicator
    matches) through the same exceptions, maintenance windows and outbox dedup as rule alerts;
    in the caller's unit, never commits. Returns how many new alerts were queued; deliver them
    with `deliver_alerts` in a later unit."""
    from detection.alerts import AttackResolver, decide

    decisions = decide(
        db=db,
        clock=clock,
        candidates=candidates,
        policies={},
        attack=attack or AttackResolver(),
    )
    return decisions.new


def deliver_alerts(*, db: Session, alert_store: AlertStore, clock: Clock) -> list[str]:
    """Store the queued alerts in the alert store (``detection.alerts.deliver_outbox``)."""

    return deliver_outbox(db=db, alert_store=alert_store, clock=clock)


def alert_candidate(**fields: Any) -> Candidate:
    """A `detection.alerts.Candidate` (for `raise_alerts`), and its fingerprint helper."""
    from detection.alerts import Candidate

    return Candidate(**fields)


def alert_fingerprint(*parts: Any) -> str:
    from detection.alerts import fingerprint

    return fingerprint(*parts)
