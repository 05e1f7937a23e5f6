"""Rule files to ``LoadedPart``s: parse afresh per stack, apply the stack, compile; cached.

Each rule is parsed afresh per stack (pySigma pipelines mutate rules in place), processed by the
stack's pipelines, and compiled. Under a stack with pipelines, a rule that ends up without any
``Channel`` condition is not run there: its log source is not one the stack knows, and running
it against every event of every channel would only produce noise. This mirrors how the
reference (Zircolite) builds its rulesets; the stack ``none`` keeps every rule.
With a ``CompileCache`` (``detection.compile_cache``), a file whose bytes are known is not even
YAML-parsed (``cached_load``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaRule, SigmaRuleBase

from core.content import Issue
from detection.compile_cache import CompileCache
from detection.compiler import CompiledRule, compile_rule
from detection.errors import CompileError
from detection.loaded import LoadedPart, RuleInfo, Skipped
from detection.loader import LastGood, RuleSource, parse_sources, read_sources, rule_files
from detection.modifiers import Placeholders
from detection.pipelines import apply_stack, split_stack

# The field a pipeline's log-source mapping tests: ``Channel`` for raw Windows field names,
# ``winlog.channel`` once an ECS pipeline (``ecs_windows``) has renamed it.
SCOPE_FIELDS = frozenset({"channel", "winlog.channel"})


def has_links(source: Any) -> bool:
    """Whether a file holds a filter or a correlation (rules that reach into other files)."""
    return any(
        isinstance(doc, dict) and ("filter" in doc or "correlation" in doc)
        for doc in source.documents
    )


def cached_load(
    paths: Sequence[Path],
    setting: tuple[tuple[str, ...], tuple[str, ...], str],
    last_good: LastGood | None,
    cache: CompileCache,
    pipelines: Mapping[str, Any],
    placeholders: Placeholders | None,
) -> tuple[list[LoadedPart], list[Issue]] | None:
    """Parts per file, unchanged files from the cache (None: a file links rules, load whole).

    A file is looked up by its bytes before it is YAML-parsed, so a restart with a warm disk
    cache reads and hashes the files but parses none of them.
    """
    cache.begin()
    files = rule_files(paths)
    found: dict[Path, LoadedPart] = {}
    used: list[tuple[Path, str]] = []
    missed: dict[Path, str | None] = {}  # path -> the key looked up (None: not read)
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            missed[path] = None  # read_sources reports it
            continue
        key = cache.key(data, setting)
        part = cache.get(key, path)
        if part is None:
            missed[path] = key
            continue
        found[path] = part
        used.append((path, key))
        if last_good is not None and not part.problems:
            last_good.remember(path, data)
    if last_good is not None:
        sources, problems = last_good.read(paths, only=missed)
    else:
        sources, problems = read_sources(sorted(missed))
    if any(has_links(source) for source in sources):
        return None
    stacks, labels = setting[0], setting[1]
    for source in sources:
        key = cache.key(source.text.encode("utf-8"), setting)
        known = None
        if key != missed.get(source.path):  # the last good version of a broken file
            known = cache.get(key, source.path)
        if known is None:
            known = one_load([source], stacks, labels, pipelines, placeholders)
            cache.put(key, source.path, known)
        found[source.path] = known
        used.append((source.path, key))
    cache.keep_only(used)
    return [found[path] for path in files if path in found], problems


def one_load(
    sources: Sequence[RuleSource],
    stacks: Sequence[str],
    labels: Sequence[str],
    pipelines: Mapping[str, Any],
    placeholders: Placeholders | None,
) -> LoadedPart:
    """Parse (afresh per stack) and compile ``sources`` under every stack."""
    infos: list[RuleInfo] = []
    attributes: list[dict[str, Any]] = []
    problems: list[Issue] = []
    skipped: list[Skipped] = []
    compiled: list[tuple[str, int, CompiledRule]] = []
    for stack_number, (stack, label) in enumerate(zip(stacks, labels, strict=True)):
        parsed = parse_sources(sources)  # fresh objects: the pipeline mutates them
        if stack_number == 0:
            problems += parsed.problems
            infos = [rule_info(rule) for rule in parsed.rules]
            attributes = [own_attributes(rule) for rule in parsed.rules]
            skipped += _correlation_notes(parsed.correlations)
        for number, rule in enumerate(parsed.rules):
            outcome = _compile_one(rule, stack, label, pipelines[stack], placeholders)
            if isinstance(outcome, str):
                skipped.append(Skipped(infos[number].rule_id, label, outcome))
            else:
                compiled.append((label, number, outcome))
    return LoadedPart(infos, problems, skipped, compiled, attributes)


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


def own_attributes(rule: SigmaRule) -> dict[str, Any]:
    """The rule's ``dijkwacht.*`` custom attributes (alert settings, ``detection.stream``)."""
    return {k: v for k, v in rule.custom_attributes.items() if k.startswith("dijkwacht.")}


def rule_info(rule: SigmaRuleBase, kind: str = "rule") -> RuleInfo:
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
