"""Compile one pySigma rule (already processed by a pipeline stack) into a plain-Python matcher.

Built once per (rule, stack); per event the work is dictionary look-ups and string operations.
Field names are looked up case-insensitively (``CommandLine`` finds ``commandline``), as the
reference engine's SQLite columns do; see ``detection.view``. Predicates read ``low[key]`` from a
``LowView`` so that only the fields a candidate rule touches are ever lower-cased.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaString,
    SpecialChars,
)

from detection.codegen import RuleImage, field_source, generate
from detection.conditions import (
    Emit,
    Literal,
    Node,
    Predicate,
    all_of,
    any_of,
    compile_condition,
    negate,
)
from detection.errors import CompileError
from detection.modifiers import Placeholders, compile_value, value_source
from detection.modifiers import any_of as any_value
from detection.recipes import rebuildable
from detection.typed_values import ValueTest
from detection.view import complete

# Fields whose exact values the index groups rules by; their literals are useless as filters.
INDEX_FIELDS = ("channel", "eventid")


@dataclass(frozen=True)
class CompiledRule:
    """A rule under one stack: the matcher and what the index and explanations need."""

    rule_id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    stack: str
    node: Node
    selections: Mapping[str, Predicate]  # named detections (without pipeline-added `_` ones)
    predicate: Predicate  # ``node.pred`` compiled to one function (``detection.codegen``)
    image: RuleImage | None = None  # the generated code as the compile cache stores it

    def matched_selections(self, low: dict[str, Any], raw: dict[str, Any]) -> list[str]:
        """Names of the detections that are true for this event (the "why did it match")."""
        return [name for name, test in self.selections.items() if test(low, raw)]


def compile_rule(
    rule: SigmaRule, *, stack: str, placeholders: Placeholders | None = None
) -> CompiledRule:
    """Compile a rule's detections and conditions; raise CompileError if it cannot run."""
    detections = rule.detection
    compiled = {
        name: compile_detection(detection, placeholders=placeholders)
        for name, detection in detections.detections.items()
    }
    conditions = []
    for condition in detections.parsed_condition:
        tree = condition.parse(postprocess=False)
        conditions.append(compile_condition(tree, detections, compiled))
    if not conditions:
        raise CompileError("rule has no condition")
    node = any_of(conditions)
    named = {name: n for name, n in compiled.items() if not name.startswith("_")}
    generated = generate(node, named)
    return CompiledRule(
        rule_id=str(rule.id) if rule.id else rule.title,
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        tags=tuple(str(tag) for tag in rule.tags),
        stack=stack,
        node=node,
        selections=generated.selections,
        predicate=generated.predicate,
        image=generated.image,
    )


def compile_detection(
    detection: SigmaDetection, *, placeholders: Placeholders | None = None
) -> Node:
    """A named detection: its items linked by AND (a map) or OR (a list of maps / values)."""
    nodes: list[Node] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            nodes.append(compile_detection(item, placeholders=placeholders))
        else:
            nodes.append(compile_item(item, placeholders=placeholders))
    if not nodes:
        raise CompileError("empty detection")
    return all_of(nodes) if detection.item_linking is ConditionAND else any_of(nodes)


def compile_item(item: SigmaDetectionItem, *, placeholders: Placeholders | None = None) -> Node:
    """One ``field|modifiers: values`` entry (or a keyword list when the field is None)."""
    if item.field is None:
        node = _keywords(item, placeholders)
    else:
        key = item.field.lower()
        parts = [_field_value(key, value, placeholders) for value in item.value]
        if not parts:
            raise CompileError(f"field {item.field!r} has no values")
        if item.value_linking is ConditionAND:
            node = all_of([_field_node(key, [p]) if isinstance(p, ValueTest) else p for p in parts])
        else:
            node = _field_node(key, parts)
    return negate(node) if getattr(item, "negated", False) else node


def _field_value(key: str, value: Any, placeholders: Placeholders | None) -> ValueTest | Node:
    # Absent and null read alike: the views hold no None values and read absent fields as None.
    absent = Node(lambda low, raw: low[key] is None, emit=lambda name: f"low[{key!r}] is None")
    if isinstance(value, SigmaNull):
        return absent
    if isinstance(value, SigmaExists):
        if value.exists:
            return Node(
                lambda low, raw: low[key] is not None, emit=lambda name: f"low[{key!r}] is not None"
            )
        return absent
    if isinstance(value, SigmaFieldReference):
        return _field_reference(key, value)
    return compile_value(value, placeholders=placeholders)


def _field_node(key: str, parts: list[ValueTest | Node]) -> Node:
    """OR of a field's values: plain value tests share one look-up of the field."""
    tests = [p for p in parts if isinstance(p, ValueTest)]
    others = [p for p in parts if isinstance(p, Node)]
    if tests:
        combined = any_value(tests)
        test = combined.test

        def pred(low: dict[str, Any], raw: dict[str, Any]) -> bool:
            value = low[key]  # a LowView: lower-cased on first use, None when absent
            if value is None:
                return False
            if type(value) is tuple:  # a list value or case-colliding keys: any element
                return any(test(v, r) for v, r in zip(value, raw[key], strict=True))
            return test(value, raw[key])

        literals = None if key in INDEX_FIELDS else scoped(key, combined.literals)
        equals = {key: combined.equals} if combined.equals is not None else {}
        emit = field_source(key, combined)
        others.append(Node(pred, literals, equals, key in INDEX_FIELDS, emit=emit))
    return any_of(others)


def _field_reference(key: str, value: SigmaFieldReference) -> Node:
    return Node(_reference_test(key, value.field.lower(), value.starts_with, value.ends_with))


@rebuildable
def _reference_test(key: str, other: str, starts: bool, ends: bool) -> Predicate:
    """``key|fieldref: other``: compare two fields of the event (lower-cased)."""

    def pred(low: dict[str, Any], raw: dict[str, Any]) -> bool:
        mine, theirs = low[key], low[other]
        if mine is None or theirs is None or type(mine) is tuple or type(theirs) is tuple:
            return False
        if starts and ends:
            return theirs in mine
        if starts:
            return mine.startswith(theirs)
        if ends:
            return mine.endswith(theirs)
        return bool(mine == theirs)

    return pred


def _keywords(item: SigmaDetectionItem, placeholders: Placeholders | None) -> Node:
    """Field-less values: a keyword matches if any value of the event contains it."""
    tests = []
    for value in item.value:
        if isinstance(value, SigmaString):
            value = _unbound(value)
        tests.append(compile_value(value, placeholders=placeholders))
    combined = any_value(tests)
    test = combined.test

    def pred(low: dict[str, Any], raw: dict[str, Any]) -> bool:
        complete(low)  # every field, also in ``raw`` (an EventView fills it as read)
        for key, original in raw.items():
            value = low[key]
            if type(value) is tuple:
                if any(test(v, r) for v, r in zip(value, original, strict=True)):
                    return True
            elif test(value, original):
                return True
        return False

    if item.value_linking is ConditionAND and len(tests) > 1:
        nodes = [_keywords_one(t) for t in tests]
        return all_of(nodes)
    return Node(pred, scoped("", combined.literals), emit=_keywords_source(combined))


def _keywords_source(combined: ValueTest) -> Emit:
    """A keyword test as source: ``keyword_in(low, raw, lambda x, r: <value test>)``."""

    def emit(name: Callable[[Any], str]) -> str:
        test = value_source(combined, name, "x", "r")
        return f"{name(keyword_in)}(low, raw, lambda x, r: ({test}))"

    return emit


def keyword_in(low: Any, raw: dict[str, Any], test: Callable[[Any, Any], bool]) -> bool:
    """Whether ``test`` holds for any value of the event (list values: any element)."""
    complete(low)  # every field, also in ``raw`` (an EventView fills it as read)
    for key, original in raw.items():
        value = low[key]
        if type(value) is tuple:
            if any(test(v, r) for v, r in zip(value, original, strict=True)):
                return True
        elif test(value, original):
            return True
    return False


def _keywords_one(combined: ValueTest) -> Node:
    test = combined.test

    def pred(low: dict[str, Any], raw: dict[str, Any]) -> bool:
        complete(low)  # every field, also in ``raw`` (an EventView fills it as read)
        for key, original in raw.items():
            value = low[key]
            if type(value) is tuple:
                if any(test(v, r) for v, r in zip(value, original, strict=True)):
                    return True
            elif test(value, original):
                return True
        return False

    return Node(pred, scoped("", combined.literals), emit=_keywords_source(combined))


def scoped(key: str, literals: frozenset[str] | None) -> frozenset[Literal] | None:
    """Value literals tagged with the field whose value holds them ("" for any field)."""
    return None if literals is None else frozenset((key, text) for text in literals)


def _unbound(value: SigmaString) -> SigmaString:
    """``foo`` as a keyword means "contains foo": add wildcards unless the rule placed them."""
    multi = SpecialChars.WILDCARD_MULTI
    parts = list(value.s)
    if not parts or parts[0] is not multi:
        parts.insert(0, multi)
    if parts[-1] is not multi:
        parts.append(multi)
    unbound = type(value)("")
    unbound.s = parts
    return unbound
