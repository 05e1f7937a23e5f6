"""Correlation rules compiled from pySigma's model into what the streaming engine needs.

``detection.correlation`` evaluates these specs; this module decides which rules can be
streamed at all and reports the others, naming the field and the problem.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)

from core.content import Issue
from detection.correlation_values import VALUE_KINDS, bucket_start

SUPPORTED = (
    "event_count",
    "value_count",
    "temporal",
    "temporal_ordered",
    *sorted(VALUE_KINDS),
)

GROWING_OPS = frozenset({"gt", "gte"})

# entry: (event time, index of the referenced rule, value (text for value_count, a number for
# the numeric types), event id)
Entry = tuple[float, int, str | float | None, str | None]


def entry_time(entry: Entry) -> float:
    """Sort key of window entries."""
    return entry[0]


@dataclass(frozen=True)
class CorrelationSpec:
    """A correlation rule compiled for streaming evaluation."""

    rule_id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    kind: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    aliases: Mapping[str, Mapping[str, str]]  # group-by name -> referenced rule id -> field
    timespan: float
    op: str
    count: int
    value_field: str | None
    generate: bool
    custom: Mapping[str, Any]
    expression: Callable[[frozenset[str]], bool] | None = None
    growing: bool = True
    percentile: int | None = None  # value_percentile only

    @property
    def signature(self) -> str:
        """Changes when the rule's semantics change, so old window state is not reused."""
        parts: list[Any] = [self.kind, self.rules, self.group_by, self.timespan, self.op]
        parts += [self.count, self.value_field]
        parts += [sorted((k, sorted(v.items())) for k, v in self.aliases.items())]
        if self.percentile is not None:  # absent before: older rules keep their saved windows
            parts.append(self.percentile)
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]

    @property
    def bucketed(self) -> bool:
        """Fixed buckets ``[start, start + timespan)`` instead of sliding windows."""
        return self.kind in VALUE_KINDS

    def covers(self, span: tuple[float, float], time: float) -> bool:
        """Whether a fired or closed span holds ``time`` (buckets exclude their end)."""
        start, end = span
        return start <= time < end if self.bucketed else start <= time <= end

    def start_of(self, time: float) -> float:
        """Start of the window an entry at ``time`` opens (its bucket's start when bucketed)."""
        return bucket_start(time, self.timespan) if self.bucketed else time

    def final(self, start: float, horizon: float) -> bool:
        """Whether no event can still enter the window starting at ``start``."""
        end = start + self.timespan
        return end <= horizon if self.bucketed else end < horizon

    def end_index(self, entries: Sequence[Entry], start: float) -> int:
        """Index just past the entries of the window starting at ``start``."""
        end = start + self.timespan
        if self.bucketed:
            return bisect.bisect_left(entries, end, key=entry_time)
        return bisect.bisect_right(entries, end, key=entry_time)

    def field_for(self, name: str, rule_id: str) -> str:
        """The event field a group-by name means for events of ``rule_id`` (aliases)."""
        return self.aliases.get(name, {}).get(rule_id, name)


def rule_key(rule: Any) -> str:
    """The id a rule is known by everywhere (as ``detection.service`` reports it)."""
    return str(rule.id) if getattr(rule, "id", None) else str(rule.title)


def compile_correlations(
    correlations: Sequence[SigmaCorrelationRule],
) -> tuple[list[CorrelationSpec], list[Issue]]:
    """Streamable specs of resolved correlation rules; the others become located problems."""
    specs: list[CorrelationSpec] = []
    problems: list[Issue] = []
    for rule in correlations:
        path = str(getattr(rule.source, "path", None) or "?")
        try:
            specs.append(_compile(rule))
        except _Unsupported as exc:
            problems.append(Issue(path, None, exc.field, exc.message, item=rule_key(rule)))
        except Exception as exc:  # one odd correlation must not stop the others loading
            problems.append(Issue(path, None, "correlation", repr(exc), item=rule_key(rule)))
    return specs, problems


class _Unsupported(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _compile(rule: SigmaCorrelationRule) -> CorrelationSpec:
    kind = rule.type.name.lower() if isinstance(rule.type, SigmaCorrelationType) else str(rule.type)
    if kind not in SUPPORTED:
        raise _Unsupported("correlation.type", f"{kind!r} is not supported (use {SUPPORTED})")
    refs: list[SigmaRuleReference] = list(rule.referenced_rules or rule.rules or [])
    if not refs:
        raise _Unsupported("correlation.rules", "no referenced rules")
    by_reference = {ref.reference: rule_key(ref.rule) for ref in refs if hasattr(ref, "rule")}
    if len(by_reference) != len(refs):
        raise _Unsupported("correlation.rules", "rule references are not resolved")
    ids = tuple(by_reference[ref.reference] for ref in refs)
    aliases = {
        alias.alias: {
            by_reference.get(r.reference, r.reference): name for r, name in alias.mapping.items()
        }
        for alias in rule.aliases
    }
    expression = None
    growing = True
    condition = rule.condition
    if isinstance(condition, SigmaExtendedCorrelationCondition):
        if kind != "temporal":
            raise _Unsupported("correlation.condition", "extended conditions need type temporal")
        expression, growing = _expression(condition.parsed, by_reference)
        op, count, value_field = "gte", 1, None
    elif isinstance(condition, SigmaCorrelationCondition):
        op, count = condition.op.name.lower(), condition.count
        value_field = condition.fieldref if isinstance(condition.fieldref, str) else None
        if (kind == "value_count" or kind in VALUE_KINDS) and value_field is None:
            raise _Unsupported("correlation.condition.field", f"{kind} needs one field")
        # A bucket's sum, mean or median can fall again: decided when the bucket closes.
        growing = op in GROWING_OPS and kind not in VALUE_KINDS
    else:
        raise _Unsupported("correlation.condition", "missing condition")
    percentile = _percentile(kind, condition)
    return CorrelationSpec(
        rule_id=rule_key(rule),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        tags=tuple(str(tag) for tag in rule.tags),
        kind=kind,
        rules=ids,
        group_by=tuple(rule.group_by or ()),
        aliases=aliases,
        timespan=float(rule.timespan.seconds),
        op=op,
        count=count,
        value_field=value_field,
        generate=bool(rule.generate),
        custom={k: v for k, v in rule.custom_attributes.items() if k != "correlation"},
        expression=expression,
        growing=growing,
        percentile=percentile,
    )


def _percentile(kind: str, condition: object) -> int | None:
    """The ``percentile`` of a value_percentile condition (0-100; pySigma also requires it)."""
    if kind != "value_percentile":
        return None
    found = getattr(condition, "percentile", None)
    if found is None:
        raise _Unsupported("correlation.condition.percentile", "value_percentile needs one")
    if not 0 <= found <= 100:
        raise _Unsupported("correlation.condition.percentile", f"{found} is not within 0-100")
    return int(found)


def _expression(
    node: CorrelationConditionItem | SigmaRuleReference, ids: Mapping[str, str]
) -> tuple[Callable[[frozenset[str]], bool], bool]:
    """A predicate over the set of rule ids seen in a window; False when it contains ``not``."""
    if isinstance(node, SigmaRuleReference):
        rule_id = ids.get(node.reference, node.reference)
        return (lambda seen: rule_id in seen), True
    parts = [_expression(arg, ids) for arg in node.args]
    growing = all(g for _, g in parts)
    preds = [p for p, _ in parts]
    if isinstance(node, CorrelationConditionNOT):
        inner = preds[0]
        return (lambda seen: not inner(seen)), False
    if isinstance(node, CorrelationConditionAND):
        return (lambda seen: all(p(seen) for p in preds)), growing
    if isinstance(node, CorrelationConditionOR):
        return (lambda seen: any(p(seen) for p in preds)), growing
    raise _Unsupported("correlation.condition", f"unknown operator {type(node).__name__}")


def silenced_rules(specs: Iterable[CorrelationSpec]) -> frozenset[str]:
    """Rules that raise no alert of their own: referenced by a correlation without ``generate``."""
    return frozenset(rule_id for spec in specs if not spec.generate for rule_id in spec.rules)
