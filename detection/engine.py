"""The streaming matcher: events in, (event, rule) pairs out, through the rule index.

Per event, cheapest first: the plan for its Channel/EventID values (read through a cached key
layout, no view built), and nothing more when no rule wants those values; otherwise one
multi-literal scan over the plan's fields (text filled from a per-layout template, still no
view), and only for events with candidate rules a raw view and the compiled predicates over a
lazily lower-cased view. Every step only prunes by necessary conditions (see
``detection.index``): it may let a rule through that then fails, never hide one that matches.
A rule compiled under several stacks matches an event if any of its stacks matches; each
(rule, event) pair is reported once.

``match_batch_reference`` evaluates every compiled rule on every event with no index at all: it
is the slow, obviously complete path the tests compare the fast one with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detection.compiler import CompiledRule
from detection.index import Plan, RuleIndex
from detection.literals import section, well_formed
from detection.view import LowView, Shape, flat_raw, lowered, raw_view, shape_of

# Key layouts remembered per engine; beyond this (events with ever-changing keys) we stop caching.
MAX_SHAPES = 4096


@dataclass(frozen=True)
class Hit:
    """One matching (event, rule) pair; ``compiled`` is the stack variant that matched first."""

    event_index: int
    rule_number: int
    compiled: CompiledRule
    low: dict[str, Any]
    raw: dict[str, Any]


class Engine:
    """Compiled rules plus their index; stateless per event, so batches can be of any size."""

    def __init__(self, compiled: Sequence[CompiledRule], rule_numbers: Sequence[int]):
        self.compiled = tuple(compiled)
        self.rule_numbers = tuple(rule_numbers)  # compiled position -> rule number (for union)
        self.index = RuleIndex(self.compiled)
        self._preds = tuple(rule.node.pred for rule in self.compiled)
        self._shapes: dict[tuple[Any, ...], Shape | None] = {}

    def match_batch(self, events: Iterable[Mapping[str, Any]], *, start: int = 0) -> list[Hit]:
        """Every (event, rule) match in the batch, in event order then rule load order."""
        hits: list[Hit] = []
        for offset, event in enumerate(events):
            plan, raw, shape = self._locate(event)
            if plan.empty:
                continue
            if raw is None and plan.automaton is not None:
                # Prefilter straight from the event: a view is built only for candidates.
                text = self._text(event, shape, plan)
                if text is not MISSING:
                    candidates = plan.select_text(text)
                    if candidates:
                        raw = flat_raw(event, shape)
                        self._evaluate(candidates, raw, start + offset, hits)
                    continue
            if raw is None:
                raw = flat_raw(event, shape)
            candidates = plan.select(raw)
            if candidates:
                self._evaluate(candidates, raw, start + offset, hits)
        return hits

    def match_batch_reference(
        self, events: Iterable[Mapping[str, Any]], *, start: int = 0
    ) -> list[Hit]:
        """Same result as ``match_batch`` by brute force: every rule on every event, no index."""
        hits: list[Hit] = []
        everything = range(len(self.compiled))
        for offset, event in enumerate(events):
            self._evaluate(everything, raw_view(event), start + offset, hits)
        return hits

    def _evaluate(
        self, positions: Iterable[int], raw: dict[str, Any], index: int, hits: list[Hit]
    ) -> None:
        preds, numbers, compiled = self._preds, self.rule_numbers, self.compiled
        low = LowView(raw)
        seen: set[int] = set()
        for position in positions:
            number = numbers[position]
            if number in seen:
                continue
            if preds[position](low, raw):
                seen.add(number)
                hits.append(Hit(index, number, compiled[position], low, raw))

    def _locate(self, event: Mapping[str, Any]) -> tuple[Plan, dict[str, Any] | None, Shape | None]:
        """The event's plan, and its raw view if finding the plan needed one (else its shape)."""
        keys = tuple(event)
        shapes = self._shapes
        shape = shapes.get(keys)
        if shape is None and keys not in shapes:
            shape = shape_of(keys, self.index.fields)
            if len(shapes) < MAX_SHAPES:
                shapes[keys] = shape
        if shape is None or shape.lookup is None:
            raw = raw_view(event)
            return self.index.plan_for(raw), raw, None
        values = tuple([None if key is None else event[key] for key in shape.lookup])
        # Plans by the raw values: 4688 and "4688" are separate entries of the same plan. Only
        # str/int/None values are remembered (True == 1 and 1.0 == 1 as dictionary keys).
        cacheable = set(map(type, values)) <= _KEY_TYPES
        if cacheable:
            plan = shape.plans.get(values)
            if plan is not None:
                return plan, None, shape
        lowered_values: list[str | None] = []
        for value in values:
            kind = type(value)
            if value is None:
                lowered_values.append(None)
            elif kind is str or kind is int or kind is float or kind is bool:
                lowered_values.append(lowered(value))
            else:  # a list or an object under Channel/EventID: let the general path decide
                raw = raw_view(event)
                return self.index.plan_for(raw), raw, None
        plan = self.index.plan_for_key(tuple(lowered_values))
        if cacheable and len(shape.plans) < MAX_SHAPES:
            shape.plans[values] = plan
        return plan, None, shape

    def _text(self, event: Mapping[str, Any], shape: Shape | None, plan: Plan) -> Any:
        """The plan's prefilter text straight from a flat event, or MISSING (use the view)."""
        if shape is None:
            return MISSING
        template = shape.templates.get(id(plan), MISSING)
        if template is MISSING:
            template = shape.templates[id(plan)] = _template(shape, plan)
        if template is None:
            return MISSING
        pattern, keys = template
        values = tuple([event[key] for key in keys])
        if not set(map(type, values)) <= _FORMAT_TYPES:
            return MISSING  # null, list or object values: the view flattens those
        return well_formed(pattern % values, len(keys))


# str/int/float format with ``%s`` exactly as ``text_of`` renders them (bool would not).
_FORMAT_TYPES = frozenset({str, int, float})
_KEY_TYPES = frozenset({str, int, type(None)})
MISSING: Any = object()


def _template(shape: Shape, plan: Plan) -> tuple[str, tuple[str, ...]] | None:
    """A ``%``-template of the plan's sections for events of this layout, and its keys.

    Only for plans with known fields, none dotted: a dotted name may come from a nested object,
    which only the full view flattens. Plans are kept for the engine's life, so ``id`` is stable.
    """
    if plan.fields is None or any("." in name for name in plan.fields):
        return None
    parts: list[str] = []
    keys: list[str] = []
    for name in plan.fields:
        for key in shape.groups.get(name, ()):
            parts.append(section(name))
            keys.append(key)
    return "".join(parts), tuple(keys)
