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

import marshal
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detection.codegen import RuleImage
from detection.compiler import CompiledRule
from detection.conditions import Predicate
from detection.index import Plan, RuleIndex
from detection.literals import section
from detection.view import (
    EventView,
    LowView,
    Shape,
    flat_raw,
    is_flat,
    lowered,
    raw_view,
    shape_of,
    tuples_of,
)

# Key layouts remembered per engine; beyond this (events with ever-changing keys) we stop caching.
MAX_SHAPES = 4096


@dataclass(slots=True)
class Hit:
    """One matching (event, rule) pair; ``compiled`` is the stack variant that matched first.

    Not frozen: a frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field,
    and one is made per match.
    """

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
        self.index = RuleIndex(self.compiled, positions=distinct(self.compiled, self.rule_numbers))
        self._preds = tuple(rule.predicate for rule in self.compiled)
        self._closures = tuple(rule.node.pred for rule in self.compiled)
        self._shapes: dict[tuple[Any, ...], Shape | None] = {}
        self._routes: dict[tuple[tuple[str, ...], int], Route] = {}

    def match_batch(self, events: Iterable[Mapping[str, Any]], *, start: int = 0) -> list[Hit]:
        """Every (event, rule) match in the batch, in event order then rule load order."""
        hits: list[Hit] = []
        # Prefilter answers by (route, values) for this batch only: events of one source repeat
        # their prefilter fields (share access, service logons...) within a batch. Kept per
        # batch so memory stays bounded and nothing carries over between batches. Keyed by the
        # values, not the text, so a repeat costs no formatting; that is exact only for str and
        # int values (1 == 1.0 == True as keys), so other values take the general path.
        memo: dict[tuple[int, tuple[Any, ...]], Sequence[int]] = {}
        shapes = self._shapes
        for offset, event in enumerate(events):
            keys = tuple(event)
            shape = shapes.get(keys)
            if shape is None:
                shape = self._shape(keys)
            route = None
            if shape is not None and shape.lookup is not None:
                values = shape.key_values(event)
                try:
                    route = shape.plans.get(values)
                except TypeError:  # a list or an object under Channel/EventID
                    route = None
                if route is None:
                    route = self._route(shape, values)
            if route is None:  # no usable layout: the general path through a raw view
                raw = raw_view(event)
                plan = self.index.plan_for(raw)
                if not plan.empty:
                    candidates = plan.select(raw)
                    if candidates:
                        self._evaluate(candidates, LowView(raw), start + offset, hits)
                continue
            if route.empty:
                continue
            plan = route.plan
            pattern = route.pattern
            if pattern is not None:
                # Prefilter straight from the event: a view is built only for candidates.
                values = route.values(event)
                if _KEYED_TYPES.issuperset(map(type, values)):
                    key = (route.number, values)
                    found = memo.get(key)
                    if found is None:
                        found = memo[key] = plan.select_template_text(pattern % values)
                    if found:
                        if shape is not None and is_flat(event):
                            view: LowView = EventView(event, shape)
                        else:
                            view = LowView(flat_raw(event, shape))
                        self._evaluate(found, view, start + offset, hits)
                    continue
            raw = flat_raw(event, shape)
            candidates = plan.select(raw)
            if candidates:
                self._evaluate(candidates, LowView(raw), start + offset, hits)
        return hits

    def match_batch_reference(
        self, events: Iterable[Mapping[str, Any]], *, start: int = 0
    ) -> list[Hit]:
        """Same result as ``match_batch`` by brute force: every rule on every event, no index.

        It also runs the rules' closure trees rather than their generated functions
        (``detection.codegen``), so comparing the two checks the code generator as well.
        """
        hits: list[Hit] = []
        everything = range(len(self.compiled))
        for offset, event in enumerate(events):
            view = LowView(raw_view(event))
            self._evaluate(everything, view, start + offset, hits, self._closures)
        return hits

    def _evaluate(
        self,
        positions: Iterable[int],
        low: LowView,
        index: int,
        hits: list[Hit],
        preds: Sequence[Predicate] | None = None,
    ) -> None:
        preds = self._preds if preds is None else preds
        numbers, compiled = self.rule_numbers, self.compiled
        raw: dict[str, Any] = low.raw  # type: ignore[assignment]
        seen: set[int] = set()
        for position in positions:
            number = numbers[position]
            if number in seen:
                continue
            if preds[position](low, raw):
                seen.add(number)
                hits.append(Hit(index, number, compiled[position], low, raw))

    def _shape(self, keys: tuple[Any, ...]) -> Shape | None:
        """The (remembered) shape of a key layout; None when only the general path can read it."""
        shape = shape_of(keys, self.index.fields)
        if len(self._shapes) < MAX_SHAPES:
            self._shapes[keys] = shape
        return shape

    def _route(self, shape: Shape, values: tuple[Any, ...]) -> Route | None:
        """The route for an event of this shape with these raw Channel/EventID values.

        Routes are remembered by the raw values: 4688 and "4688" are separate entries leading
        to the same plan. Only str/int/None values are remembered (True == 1 and 1.0 == 1 as
        dictionary keys). None: a list or an object under Channel/EventID (general path).
        """
        lowered_values: list[str | None] = []
        for value in values:
            kind = type(value)
            if value is None:
                lowered_values.append(None)
            elif kind is str or kind is int or kind is float or kind is bool:
                lowered_values.append(lowered(value))
            else:
                return None
        plan = self.index.plan_for_key(tuple(lowered_values))
        # By the original keys: layouts whose keys differ only in case (TaskName, taskname)
        # share lower-cased names but not the keys their route reads the values from.
        layout = (tuple(key for keys in shape.groups.values() for key in keys), id(plan))
        route = self._routes.get(layout)
        if route is None:
            route = _route(shape, plan, len(self._routes))
            self._routes[layout] = route
        if set(map(type, values)) <= _KEY_TYPES and len(shape.plans) < MAX_SHAPES:
            shape.plans[values] = route
        return route


def distinct(compiled: Sequence[CompiledRule], numbers: Sequence[int]) -> list[int]:
    """Positions of ``compiled`` less the stack variants that repeat an earlier one exactly.

    A rule often compiles to the same code under both stacks (the pipelines differ only for
    log sources it does not use). The later copy can match only where the earlier one does,
    and is then never reported (a rule is reported once, first variant first), so the index
    leaves it out: half the candidate evaluations and literal bits in such plans. "Same" is
    the same rule number and byte-identical ``marshal`` of the stored image (code, constants by
    type and value, selections); a variant without an image is always kept.
    """
    kept: list[int] = []
    images: dict[tuple[int, bytes], int] = {}
    counts = Counter(numbers)
    for position, (rule, number) in enumerate(zip(compiled, numbers, strict=True)):
        if counts[number] > 1 and rule.image is not None:
            image = rule.image
            try:
                key = (number, marshal.dumps(astuple_image(image)))
            except ValueError:  # pragma: no cover - images are marshal-able by construction
                kept.append(position)
                continue
            if key in images:
                continue
            images[key] = position
        kept.append(position)
    return kept


def astuple_image(image: RuleImage) -> tuple[Any, ...]:
    """A rule image's fields as one marshal-able tuple."""
    return (image.code, image.constants, image.selections, image.selection_source)


@dataclass(frozen=True, slots=True)
class Route:
    """How events of one key layout reach one plan: the plan and its prefilter text template.

    ``pattern`` is a ``%``-template of the plan's sections for this layout and ``values`` reads
    the event values that fill it, in order (None: no template, build the view instead).
    """

    number: int  # distinguishes routes in the per-batch prefilter memo
    plan: Plan
    empty: bool  # no rule can match such events
    pattern: str | None
    values: Callable[[Mapping[str, Any]], tuple[Any, ...]]


# str/int format with ``%s`` exactly as ``text_of`` renders them, and equal values of these
# types have equal texts (not so for 1, 1.0 and True).
_KEYED_TYPES = frozenset({str, int})
_KEY_TYPES = frozenset({str, int, type(None)})


def _route(shape: Shape, plan: Plan, number: int) -> Route:
    """A route with the plan's text template for events of this layout, when one can be made.

    Only for plans with known fields, none dotted: a dotted name may come from a nested object,
    which only the full view flattens. Plans are kept for the engine's life, so ``id`` is stable.
    """
    if plan.automaton is None or plan.fields is None or any("." in n for n in plan.fields):
        return Route(number, plan, plan.empty, None, _no_values)
    parts: list[str] = []
    keys: list[str] = []
    for name in plan.fields:
        for key in shape.groups.get(name, ()):
            parts.append(section(plan.tags[name]))
            keys.append(key)
    return Route(number, plan, plan.empty, "".join(parts), tuples_of(keys))


def _no_values(event: Mapping[str, Any]) -> tuple[Any, ...]:
    return ()
