"""Rule sets: load Sigma rules under pipeline stacks into engines, list them, answer matches.

Below ``detection.management`` (which explains and summarises rules by loading them) and
re-exported by ``detection.service``, the facade other packages call; keeping it here is what
lets management import it at the top without a cycle through the facade.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.content import Issue
from detection.compile_cache import CompileCache
from detection.compiler import CompiledRule
from detection.engine import Engine, Hit
from detection.loaded import LoadedPart, RuleInfo, Skipped
from detection.loader import LastGood, parse_sources, read_sources, snapshot
from detection.modifiers import Placeholders
from detection.parts import cached_load, one_load, rule_info
from detection.pipelines import NO_PIPELINE, resolve_stack
from detection.winlog import WINDOWS_STACKS, is_windows, raw_fields


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


def list_rules(
    *, paths: Iterable[Path], max_age: float = 0.0
) -> tuple[list[RuleInfo], list[Issue]]:
    """Every rule and correlation rule under ``paths`` with its load problems; nothing compiled.

    For listings (the dashboard's rules pages): parsing the pack takes a few hundred ms, so the
    result is kept per version of the files (their mtimes and sizes) and re-read when one changes.
    `max_age`: seconds a caller accepts since the files were last looked at (walking the rule
    folders, a stat per file, was a tenth of every alert page, which only needs the alert's
    rule's file); 0 looks now.
    """
    resolved = tuple(Path(p) for p in paths)
    infos, problems = _listing(resolved, _snapshot_key(resolved, max_age))
    return list(infos), list(problems)


_Key = tuple[tuple[str, tuple[int, int]], ...]
# The last look at each set of rule folders: (monotonic time, key), for callers that accept a
# listing `max_age` seconds old (a handful of folder sets per process).
_looked: dict[tuple[Path, ...], tuple[float, _Key]] = {}


def _snapshot_key(paths: tuple[Path, ...], max_age: float) -> _Key:
    now = time.monotonic()
    seen = _looked.get(paths)
    if max_age > 0 and seen is not None and now - seen[0] < max_age:
        return seen[1]
    key = tuple(sorted(snapshot(paths).items()))
    if len(_looked) > 16:
        _looked.clear()
    _looked[paths] = (now, key)
    return key


@lru_cache(maxsize=4)
def _listing(
    paths: tuple[Path, ...], _version: tuple[tuple[str, tuple[int, int]], ...]
) -> tuple[tuple[RuleInfo, ...], tuple[Issue, ...]]:
    sources, problems = read_sources(paths)
    parsed = parse_sources(sources)
    infos = [rule_info(rule) for rule in parsed.rules]
    infos += [rule_info(rule, kind="correlation") for rule in parsed.correlations]
    return tuple(infos), tuple(problems + parsed.problems)
