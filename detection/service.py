"""Detection service: load Sigma rules under pipeline stacks and match batches of events.

The rest of the platform calls only this module::

    rules = load_rules(paths=[Path("rules")], stacks=["sysmon+windows-logsources"])
    for match in rules.match_batch(events):
        ...

How rule files become compiled rules (per stack, cached per file) is ``detection.parts``;
this module assembles them into engines and answers matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.content import Issue
from core.store.base import AlertQuery, AlertStore

# Re-exported for other domains (compliance) and the roots: alerts the platform raises about
# itself, rule coverage, and rule management (enable/disable, explain, Lucene conversion).
from detection.alerts import DedupPolicy, deliver_outbox, queue_platform_alert
from detection.compile_cache import CompileCache
from detection.compiler import CompiledRule
from detection.engine import Engine, Hit
from detection.loaded import LoadedPart, RuleInfo, Skipped
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
from detection.parts import cached_load, one_load, rule_info
from detection.pipelines import NO_PIPELINE, resolve_stack
from detection.winlog import WINDOWS_STACKS, is_windows, raw_fields

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.clock import Clock
    from detection.alerts import AttackResolver, Candidate
    from detection.rulepack import Detection

# What pages, commands, tasks and other domains call (tests/test_reachable_services.py).
__all__ = [
    "ENGINE_COST",
    "SHIPPED_RULES",
    "CompileCache",
    "Explanation",
    "RuleInfo",
    "RulePackRun",
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
    "run_rule_pack",
    "set_enabled",
    "snapshot",
    "store_lucene",
    "windows_raw_fields",
]

# The Windows mapping, for callers outside detection (`dijkwacht detect`).
is_windows_event = is_windows
windows_raw_fields = raw_fields


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
    # Each rule's own ``dijkwacht.*`` attributes by rule id, when loaded file by file through a
    # compile cache (no file links rules); None otherwise (parse the files to learn them).
    attributes: list[tuple[str, dict[str, Any]]] | None = None
    parts: list[LoadedPart] = field(default_factory=list, repr=False, compare=False)
    read_problems: list[Issue] = field(default_factory=list, repr=False, compare=False)

    def skipping(self, skip: Mapping[str, str]) -> RuleSet:
        """The same compiled rules, those in ``skip`` (rule id -> why) not matched (no compile)."""
        return assemble(
            self.parts,
            self.read_problems,
            stacks=self.stacks,
            windows=self.windows is not None,
            skip=skip,
            attributes=self.attributes is not None,
        )

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
    labels = [*own, *(f"windows:{stack}" for stack in extra)]
    setting = (tuple(every), tuple(labels), repr(sorted((placeholders or {}).items())))
    cached = None
    if cache is not None:
        cached = cached_load(list(paths), setting, last_good, cache, pipelines, placeholders)
    if cached is not None:
        parts, problems = cached
    else:
        sources, problems = last_good.read(paths) if last_good else read_sources(paths)
        parts = [one_load(sources, every, labels, pipelines, placeholders)]
    return assemble(
        parts, problems, stacks=stacks, windows=windows, skip=skip, attributes=cached is not None
    )


def assemble(
    parts: Sequence[LoadedPart],
    read_problems: Sequence[Issue],
    *,
    stacks: tuple[str, ...],
    windows: bool,
    skip: Mapping[str, str],
    attributes: bool,
) -> RuleSet:
    """One rule set (engines, load report) from loaded parts; ``skip``: rule id -> why."""
    problems = list(read_problems)
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
        attributes=[
            (info.rule_id, own)
            for part in parts
            for info, own in zip(part.infos, part.attributes, strict=True)
        ]
        if attributes
        else None,
        parts=list(parts),
        read_problems=list(read_problems),
    )


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
    infos = [rule_info(rule) for rule in parsed.rules]
    infos += [rule_info(rule, kind="correlation") for rule in parsed.correlations]
    return tuple(infos), tuple(problems + parsed.problems)


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


@dataclass(frozen=True)
class RulePackRun:
    """The rule pack over a finite list of identified events: every would-be alert, before dedup,
    with each rule's dedup policy (None: every match alerts) and the title of every rule."""

    detections: list[Detection]
    policies: dict[str, DedupPolicy | None]
    titles: dict[str, str]


def run_rule_pack(
    *,
    events_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    paths: Sequence[Path] = (SHIPPED_RULES,),
) -> RulePackRun:
    """Run the rule pack over `(id, event)` pairs in memory, as the stream would, naming the
    events of each detection (for the demo world's scoring of seeded scenarios)."""
    from detection.rulepack import evaluate
    from detection.stream import load_detector

    detector = load_detector(paths=list(paths))
    titles = {r.rule_id: r.title for r in detector.ruleset.rules}
    titles.update({c.rule_id: c.title for c in detector.correlations})
    detections = evaluate(detector=detector, events_with_ids=events_with_ids)
    return RulePackRun(detections, detector.policies(), titles)


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
