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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import CodeType, FunctionType
from typing import Any

from detection.conditions import Emit, Node, Predicate, source
from detection.modifiers import value_source
from detection.typed_values import ValueTest

# Modules whose functions a stored image may name; nothing else is ever imported from one.
IMAGE_MODULES = frozenset(
    {
        "detection.codegen",
        "detection.compiler",
        "detection.modifiers",
        "detection.timeparts",
        "detection.typed_values",
        "detection.view",
    }
)
_PLAIN = (str, int, float, bool, type(None), bytes)


class NotStorable(ValueError):
    """A constant of a generated function that an image cannot hold."""


@dataclass(frozen=True)
class RuleImage:
    """A rule's generated functions as stored on disk: ``marshal``-able throughout.

    ``code`` defines ``rule``; ``selection_source`` one function ``s<n>`` per named detection
    (in ``selections`` order), kept as text: it is needed only to explain a match, and as code
    it made entries 40 % larger. ``constants`` are (global name, packed value) pairs (``pack``).
    """

    code: CodeType
    constants: tuple[tuple[str, Any], ...]
    selections: tuple[str, ...]
    selection_source: str


@dataclass(frozen=True)
class Generated:
    """The functions generated for one rule, and their image when every constant is storable."""

    predicate: Predicate
    selections: Mapping[str, Predicate]
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
        code = compile(text, "<sigma rule>", "exec")
        named = ""
        for number, selection in enumerate(order):
            body = source(selections[selection], name)
            named += f"def s{number}(low, raw):\n    return bool({body})\n"
        named_code = compile(named, "<sigma rule>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - absurd nesting
        return Generated(node.pred, {n: selections[n].pred for n in order}, None)
    image = _image(code, namespace, order, named)
    exec(code, namespace)  # generated from the tree above; constants only by name
    exec(named_code, namespace)
    found = {n: namespace[f"s{number}"] for number, n in enumerate(order)}
    return Generated(namespace["rule"], found, image)


def restore(image: RuleImage) -> Generated:
    """The functions of a stored image (``NotStorable`` when it names what it may not).

    Regexes and factory-made closures are built when the rule first uses them (``_Deferred``):
    compiling the regexes of the 2,407 SigmaHQ Windows rules was most of a restart (Python's
    regex compiler is written in Python), and most rules wait long before their first
    candidate event, if one ever comes. What an image names is checked here, not on first use.
    """
    namespace: dict[str, Any] = {}
    for name, packed in image.constants:
        check(packed)
        if packed[0] in ("re", "call"):
            namespace[name] = _Deferred(namespace, name, packed)
        else:
            namespace[name] = unpack(packed)
    exec(image.code, namespace)  # our own generated code, read from a private cache directory
    found = _Selections(namespace, image.selections, image.selection_source)
    return Generated(namespace["rule"], found, image)


class _Selections(Mapping[str, Predicate]):
    """The named detections' functions of a restored rule, compiled when first asked for."""

    def __init__(self, namespace: dict[str, Any], order: tuple[str, ...], text: str) -> None:
        self._namespace, self._order, self._text = namespace, order, text
        self._found: dict[str, Predicate] | None = None

    def _functions(self) -> dict[str, Predicate]:
        if self._found is None:
            exec(compile(self._text, "<sigma rule>", "exec"), self._namespace)  # as ``rule``
            names = enumerate(self._order)
            self._found = {n: self._namespace[f"s{number}"] for number, n in names}
        return self._found

    def __getitem__(self, name: str) -> Predicate:
        return self._functions()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)


def _image(
    code: CodeType, namespace: Mapping[str, Any], order: tuple[str, ...], named: str
) -> RuleImage | None:
    try:
        constants = tuple((name, pack(value)) for name, value in namespace.items())
    except NotStorable:
        return None
    return RuleImage(code, constants, order, named)


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


def check(packed: Any) -> None:
    """Raise ``NotStorable`` unless ``packed`` is well formed and names only allowed functions."""
    if not isinstance(packed, tuple) or not packed:
        raise NotStorable("malformed constant")
    tag = packed[0]
    if tag == "v" and len(packed) == 2:
        return
    if tag == "re" and len(packed) == 3:
        if isinstance(packed[1], str | bytes) and type(packed[2]) is int:
            return
        raise NotStorable("malformed pattern")
    if tag == "fn" and len(packed) == 3:
        if not isinstance(_named(packed[1], packed[2]), FunctionType):
            raise NotStorable(f"{packed[1]}.{packed[2]} is not a function")
        return
    if tag == "call" and len(packed) == 4 and isinstance(packed[3], tuple):
        if not getattr(_named(packed[1], packed[2]), "__rebuildable__", False):
            raise NotStorable(f"{packed[1]}.{packed[2]} is not a rebuildable factory")
        for argument in packed[3]:
            check(argument)
        return
    raise NotStorable(f"unknown constant kind {tag!r}")


class _Deferred:
    """A regex or closure of a restored rule, built on first use and then put in its place.

    The generated code reads its constants as globals; the first attribute access or call
    builds the real object and stores it under the same global name, so later evaluations
    use the object itself, with no indirection left.
    """

    __slots__ = ("_name", "_namespace", "_packed")

    def __init__(self, namespace: dict[str, Any], name: str, packed: tuple[Any, ...]) -> None:
        self._namespace, self._name, self._packed = namespace, name, packed

    def _built(self) -> Any:
        built = unpack(self._packed)
        self._namespace[self._name] = built
        return built

    def __getattr__(self, attribute: str) -> Any:  # ``pattern.search`` / ``.fullmatch``
        return getattr(self._built(), attribute)

    def __call__(self, *args: Any) -> Any:
        return self._built()(*args)


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
