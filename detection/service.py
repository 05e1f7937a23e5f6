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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaRule, SigmaRuleBase

from core.content import Issue
from core.store.base import AlertQuery, AlertStore
from detection.compiler import CompiledRule, compile_rule
from detection.engine import Engine
from detection.errors import CompileError
from detection.loader import LastGood, parse_sources, read_sources
from detection.modifiers import Placeholders
from detection.pipelines import NO_PIPELINE, apply_stack, resolve_stack, split_stack

SCOPE_FIELD = "channel"


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

    @property
    def runnable(self) -> bool:
        """True when at least one rule runs under at least one stack."""
        return bool(self.engine.compiled)

    def match_batch(self, events: Sequence[Mapping[str, Any]], *, start: int = 0) -> list[Match]:
        """Matches of a batch; ``event_index`` counts from ``start``."""
        matches = []
        for hit in self.engine.match_batch(events, start=start):
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
        for hit in self.engine.match_batch(events, start=start):
            yield hit.event_index, hit.rule_number


def load_rules(
    *,
    paths: Iterable[Path],
    stacks: Sequence[str] = (NO_PIPELINE,),
    placeholders: Placeholders | None = None,
    last_good: LastGood | None = None,
) -> RuleSet:
    """Load every rule under ``paths`` and compile it under each stack (union at match time).

    A rule that cannot be parsed, processed or compiled is reported (``problems``, ``skipped``)
    and the rest load. With ``last_good`` (hot reload), a file that turned bad is replaced by
    its last good version.
    """
    stacks = tuple(stacks) or (NO_PIPELINE,)
    pipelines = {stack: resolve_stack(stack) for stack in stacks}  # unknown names raise here
    sources, problems = last_good.read(paths) if last_good else read_sources(paths)
    rules: list[RuleInfo] = []
    compiled: list[CompiledRule] = []
    numbers: list[int] = []
    skipped: list[Skipped] = []
    for stack_number, stack in enumerate(stacks):
        parsed = parse_sources(sources)  # fresh objects: the pipeline mutates them
        if stack_number == 0:
            problems.extend(parsed.problems)
            rules = [_info(rule) for rule in parsed.rules]
            skipped.extend(_correlation_notes(parsed.correlations))
        scoped = bool(split_stack(stack))
        for number, rule in enumerate(parsed.rules):
            rule_id = rules[number].rule_id
            try:
                outcome = apply_stack(pipelines[stack], rule)
            except Exception as exc:  # a pipeline crashing on one rule skips only that rule
                skipped.append(Skipped(rule_id, stack, f"pipeline failed: {exc!r}"))
                continue
            if outcome.rule is None:
                skipped.append(Skipped(rule_id, stack, outcome.reason or "not supported"))
                continue
            if scoped and not _has_field(outcome.rule, SCOPE_FIELD):
                skipped.append(Skipped(rule_id, stack, "log source not mapped to a Channel"))
                continue
            try:
                compiled.append(compile_rule(rule, stack=stack, placeholders=placeholders))
            except (CompileError, SigmaError) as exc:
                skipped.append(Skipped(rule_id, stack, str(exc)))
                continue
            except Exception as exc:  # a compiler bug on one rule skips only that rule
                skipped.append(Skipped(rule_id, stack, f"cannot compile: {exc!r}"))
                continue
            numbers.append(number)
    return RuleSet(
        rules=rules,
        engine=Engine(compiled, numbers),
        stacks=stacks,
        problems=problems,
        skipped=skipped,
    )


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


def _has_field(rule: SigmaRule, name: str) -> bool:
    """Whether any detection item (pipeline-added ones included) tests the field ``name``."""
    pending: list[SigmaDetection] = list(rule.detection.detections.values())
    while pending:
        detection = pending.pop()
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                pending.append(item)
            elif item.field is not None and item.field.lower() == name:
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


# -- alert exceptions and maintenance windows (detection/exceptions.py) ------------------------
from detection.exceptions import (  # noqa: E402, F401 - the facade other packages call
    add_exception,
    add_maintenance_window,
    edit_exception,
    end_maintenance_window,
    expire_exception,
    get_exception,
    list_exceptions,
    list_maintenance_windows,
)
