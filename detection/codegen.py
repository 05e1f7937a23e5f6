"""Compile a rule's condition tree into one Python function.

The tree of closures (``detection.conditions``) costs a Python call per AND / OR / NOT and per
field test; a candidate rule on a 4688 event easily makes twenty of them. Rendered as one
expression (``(v := low['image']) is not None and v.endswith(_c3) and not (...)``) the same
logic runs as bytecode in one frame. Only names of constants appear in the source: every value
(needles, sets, compiled regexes, closures) is passed in the function's globals, so rule
content never becomes code. A tree the compiler refuses (too deep) keeps its closures.

The generated code object and its constants also make the rule's on-disk form (``RuleImage``,
stored by ``detection.compile_cache``): constants are plain data, compiled regexes (kept as
pattern and flags), functions of this package named by module and name, and closures made by
a ``detection.recipes.rebuildable`` factory (kept as the factory's name and arguments). A rule
with any other constant has no image and is compiled afresh after a restart.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import CodeType, FunctionType
from typing import Any

from detection.conditions import Emit, Node, Predicate, source
from detection.modifiers import ValueTest, value_source

# Modules whose functions a stored image may name; nothing else is ever imported from one.
IMAGE_MODULES = frozenset(
    {
        "detection.codegen",
        "detection.compiler",
        "detection.modifiers",
        "detection.timeparts",
        "detection.view",
    }
)
_PLAIN = (str, int, float, bool, type(None), bytes)


class NotStorable(ValueError):
    """A constant of a generated function that an image cannot hold."""


@dataclass(frozen=True)
class RuleImage:
    """A rule's generated functions as stored on disk: ``marshal``-able throughout.

    ``code`` defines ``rule`` and one function ``s<n>`` per named detection (in ``selections``
    order); ``constants`` are (global name, packed value) pairs (see ``pack``).
    """

    code: CodeType
    constants: tuple[tuple[str, Any], ...]
    selections: tuple[str, ...]


@dataclass(frozen=True)
class Generated:
    """The functions generated for one rule, and their image when every constant is storable."""

    predicate: Predicate
    selections: dict[str, Predicate]
    image: RuleImage | None


def compile_predicate(node: Node) -> Predicate:
    """``node.pred`` as one generated function; the same answers for every (low, raw)."""
    return generate(node, {}).predicate


def generate(node: Node, selections: Mapping[str, Node]) -> Generated:
    """``rule`` for ``node`` and one function per named detection, in one code object."""
    namespace: dict[str, Any] = {}
    names: dict[int, str] = {}

    def name(value: Any) -> str:
        key = id(value)  # the namespace keeps ``value`` alive, so ids stay unique
        if key not in names:
            names[key] = f"_c{len(names)}"
            namespace[names[key]] = value
        return names[key]

    order = tuple(selections)
    try:
        text = f"def rule(low, raw):\n    return bool({source(node, name)})\n"
        for number, selection in enumerate(order):
            body = source(selections[selection], name)
            text += f"def s{number}(low, raw):\n    return bool({body})\n"
        code = compile(text, "<sigma rule>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - absurd nesting
        return Generated(node.pred, {n: selections[n].pred for n in order}, None)
    image = _image(code, namespace, order)
    exec(code, namespace)  # generated from the tree above; constants only by name
    found = {n: namespace[f"s{number}"] for number, n in enumerate(order)}
    return Generated(namespace["rule"], found, image)


def restore(image: RuleImage) -> Generated:
    """The functions of a stored image (``NotStorable`` when it names what it may not)."""
    namespace = {name: unpack(packed) for name, packed in image.constants}
    exec(image.code, namespace)  # our own generated code, read from a private cache directory
    found = {n: namespace[f"s{number}"] for number, n in enumerate(image.selections)}
    return Generated(namespace["rule"], found, image)


def _image(
    code: CodeType, namespace: Mapping[str, Any], order: tuple[str, ...]
) -> RuleImage | None:
    try:
        constants = tuple((name, pack(value)) for name, value in namespace.items())
    except NotStorable:
        return None
    return RuleImage(code, constants, order)


def pack(value: Any) -> tuple[Any, ...]:
    """A constant as marshal-able data: ``("v", data)``, ``("re", ...)``, ``("fn", ...)``..."""
    if _plain(value):
        return ("v", value)
    if isinstance(value, re.Pattern):
        return ("re", value.pattern, value.flags)
    recipe = getattr(value, "__recipe__", None)
    if recipe is not None:
        module, factory, args = recipe
        return ("call", module, factory, tuple(pack(arg) for arg in args))
    named = isinstance(value, FunctionType) and value.__module__ in IMAGE_MODULES
    if named and _named(value.__module__, value.__qualname__) is value:
        return ("fn", value.__module__, value.__qualname__)
    raise NotStorable(f"cannot store {value!r}")


def unpack(packed: Any) -> Any:
    """The constant ``pack`` described; refuses modules and names outside ``IMAGE_MODULES``."""
    if not isinstance(packed, tuple) or not packed:
        raise NotStorable("malformed constant")
    tag = packed[0]
    if tag == "v":
        return packed[1]
    if tag == "re":
        return re.compile(packed[1], packed[2])
    if tag == "fn":
        found = _named(packed[1], packed[2])
        if not isinstance(found, FunctionType):
            raise NotStorable(f"{packed[1]}.{packed[2]} is not a function")
        return found
    if tag == "call":
        factory = _named(packed[1], packed[2])
        if not getattr(factory, "__rebuildable__", False):
            raise NotStorable(f"{packed[1]}.{packed[2]} is not a rebuildable factory")
        return factory(*(unpack(arg) for arg in packed[3]))
    raise NotStorable(f"unknown constant kind {tag!r}")


def _named(module: str, qualname: str) -> Any:
    if module not in IMAGE_MODULES or not qualname.isidentifier():
        raise NotStorable(f"{module}.{qualname} may not be named in an image")
    return getattr(importlib.import_module(module), qualname, None)


def _plain(value: Any) -> bool:
    if type(value) in _PLAIN:
        return True
    if type(value) in (tuple, frozenset):
        return all(type(item) in _PLAIN for item in value)
    return False


def field_source(key: str, combined: ValueTest) -> Emit:
    """A field's value tests: absent is false, a list value passes if any element does."""
    field = repr(key)

    def emit(name: Callable[[Any], str]) -> str:
        raw = f"raw[{field}]"
        inner = value_source(combined, name, "v", raw)
        items = f"any(({value_source(combined, name, 'x', 'r')}) for x, r in zip(v, {raw}))"
        return (
            f"(v := low[{field}]) is not None and (({inner}) if type(v) is not tuple else {items})"
        )

    return emit
