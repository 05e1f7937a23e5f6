"""Compile a rule's condition tree into one Python function.

The tree of closures (``detection.conditions``) costs a Python call per AND / OR / NOT and per
field test; a candidate rule on a 4688 event easily makes twenty of them. Rendered as one
expression (``(v := low['image']) is not None and v.endswith(_c3) and not (...)``) the same
logic runs as bytecode in one frame. Only names of constants appear in the source: every value
(needles, sets, compiled regexes, closures) is passed in the function's globals, so rule
content never becomes code. A tree the compiler refuses (too deep) keeps its closures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from detection.conditions import Emit, Node, Predicate, source
from detection.modifiers import ValueTest


def compile_predicate(node: Node) -> Predicate:
    """``node.pred`` as one generated function; the same answers for every (low, raw)."""
    namespace: dict[str, Any] = {"_items": any_item}
    names: dict[int, str] = {}

    def name(value: Any) -> str:
        key = id(value)  # the namespace keeps ``value`` alive, so ids stay unique
        if key not in names:
            names[key] = f"_c{len(names)}"
            namespace[names[key]] = value
        return names[key]

    try:
        text = f"def rule(low, raw):\n    return bool({source(node, name)})\n"
        code = compile(text, "<sigma rule>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - absurd nesting
        return node.pred
    exec(code, namespace)  # generated from the tree above; constants only by name
    rule: Predicate = namespace["rule"]
    return rule


def field_source(key: str, combined: ValueTest) -> Emit:
    """A field's value tests: absent is false, a list value passes if any element does."""
    field = repr(key)

    def emit(name: Callable[[Any], str]) -> str:
        raw = f"raw[{field}]"
        inner = value_source(combined, name, "v", raw)
        items = f"_items({name(combined.test)}, v, {raw})"
        return (
            f"(v := low[{field}]) is not None and (({inner}) if type(v) is not tuple else {items})"
        )

    return emit


def value_source(test: ValueTest, name: Callable[[Any], str], low: str, raw: str) -> str:
    """One value test as an expression over the lower-cased value ``low`` and ``raw``."""
    if test.expr is not None:
        return test.expr(name, low, raw)
    if test.kind == "contains":
        return f"{name(test.text)} in {low}"
    if test.kind == "startswith":
        return f"{low}.startswith({name(test.text)})"
    if test.kind == "endswith":
        return f"{low}.endswith({name(test.text)})"
    if test.kind == "equals" and test.equals is not None and len(test.equals) == 1:
        return f"{low} == {name(next(iter(test.equals)))}"
    if test.kind == "in" and test.equals is not None:
        return f"{low} in {name(test.equals)}"
    return f"{name(test.test)}({low}, {raw})"


def any_item(test: Callable[[str, Any], bool], values: tuple[Any, ...], raws: Any) -> bool:
    """A list value (or case-colliding keys): the test passes if it passes for one element."""
    return any(test(value, raw) for value, raw in zip(values, raws, strict=True))
