"""Turn pySigma's typed values (modifiers already applied) into plain-Python value tests.

pySigma resolves modifiers when it parses a rule: ``contains`` becomes ``*x*`` wildcards,
``windash``/``base64offset`` become a ``SigmaExpansion`` of variants, ``re`` a
``SigmaRegularExpression``, ``cidr`` a ``SigmaCIDRExpression`` and so on. We compile from those
types instead of re-reading YAML, so pipelines' value transformations are honoured too.

Every test receives a field value twice: ``low`` (its string form, lower-cased once per event)
and ``raw`` (the original JSON scalar). Sigma matching is case-insensitive unless the value is
``cased``; regular expressions are case-sensitive unless they carry the ``i`` flag.
Alongside each test we record what the index may use: ``literals`` (one of these lower-cased
substrings must occur in the value if the test passes) and ``equals`` (the exact lower-cased
values the test accepts). A literal may be anchored: ``START`` in front means the value starts
with it, ``END`` behind means the value ends with it (see ``detection.literals``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from detection.errors import CompileError
from detection.literals import END, MARKS, START, LiteralSet
from detection.recipes import rebuildable
from detection.typed_values import (
    Expr,
    ValuePredicate,
    ValueTest,
    cidr_value,
    compare_value,
    networks_test,
    number_value,
    regex_value,
    text_of,
    time_part_value,
)

Placeholders = Mapping[str, Sequence[str]]


def compile_value(value: Any, *, placeholders: Placeholders | None = None) -> ValueTest:
    """Compile one pySigma value object into a ValueTest; unsupported types raise CompileError."""
    if isinstance(value, SigmaExpansion):
        return any_of([compile_value(v, placeholders=placeholders) for v in value.values])
    if isinstance(value, SigmaString):
        if value.contains_placeholder():
            return any_of(
                [
                    compile_value(expanded, placeholders=placeholders)
                    for expanded in expand_placeholders(value, placeholders or {})
                ]
            )
        return _string(value)
    if isinstance(value, SigmaBool):
        text = "true" if value.boolean else "false"
        literal = frozenset({f"{START}{text}{END}"})
        return ValueTest(lambda low, raw: low == text, literal, frozenset({text}), "equals")
    if isinstance(value, SigmaCompareExpression):
        return compare_value(value)
    if isinstance(value, SigmaTimestampPart):
        return time_part_value(value)
    if isinstance(value, SigmaNumber):
        return number_value(value.number)
    if isinstance(value, SigmaRegularExpression):
        return regex_value(value)
    if isinstance(value, SigmaCIDRExpression):
        return cidr_value(value)
    raise CompileError(f"value type {type(value).__name__} is not supported by the matcher")


def any_of(tests: list[ValueTest]) -> ValueTest:
    """OR of value tests (value lists, expansions), merging their index hints."""
    if len(tests) == 1:
        return tests[0]
    literals: frozenset[str] | None = frozenset()
    equals: frozenset[str] | None = frozenset()
    for t in tests:
        literals = None if literals is None or t.literals is None else literals | t.literals
        equals = None if equals is None or t.equals is None else equals | t.equals

    exact = equals
    if exact is not None and len(exact) == len(tests):
        # A plain value list: one set lookup instead of one call per value.
        return ValueTest(lambda low, raw: low in exact, literals, exact, "in")
    merged = _merged(tests)
    predicates = tuple(predicate for predicate, _ in merged)
    exprs = [expr for _, expr in merged]

    def expr(name: Callable[[Any], str], low: str, raw: str) -> str:
        return " or ".join(f"({part(name, low, raw)})" for part in exprs)

    if len(predicates) == 1:
        return ValueTest(predicates[0], literals, equals, expr=expr)

    def test(low: str, raw: Any) -> bool:
        for predicate in predicates:  # noqa: SIM110 - faster than any() over a generator
            if predicate(low, raw):
                return True
        return False

    return ValueTest(test, literals, equals, expr=expr)


def _merged(tests: list[ValueTest]) -> list[tuple[ValuePredicate, Expr]]:
    """Value lists are mostly endswith/startswith/contains: test each kind in one C call."""
    by_kind: dict[str, list[str]] = {"contains": [], "startswith": [], "endswith": []}
    exact: set[str] = set()
    networks: list[str] = []
    rest: list[ValueTest] = []
    for t in tests:
        if t.kind == "cidr":
            networks.append(t.text)
        elif t.kind in by_kind:
            by_kind[t.kind].append(t.text)
        elif t.equals is not None and len(t.equals) == 1 and t.kind == "equals":
            exact.update(t.equals)
        else:
            rest.append(t)
    preds: list[tuple[ValuePredicate, Expr]] = []
    if exact:
        values = frozenset(exact)
        preds.append(
            (lambda low, raw: low in values, lambda name, low, raw: f"{low} in {name(values)}")
        )
    prefixes = tuple(by_kind["startswith"])
    if prefixes:
        preds.append(
            (
                lambda low, raw: low.startswith(prefixes),
                lambda name, low, raw: f"{low}.startswith({name(prefixes)})",
            )
        )
    suffixes = tuple(by_kind["endswith"])
    if suffixes:
        preds.append(
            (
                lambda low, raw: low.endswith(suffixes),
                lambda name, low, raw: f"{low}.endswith({name(suffixes)})",
            )
        )
    needles = by_kind["contains"]
    if len(needles) == 1:
        needle = needles[0]
        preds.append(
            (lambda low, raw: needle in low, lambda name, low, raw: f"{name(needle)} in {low}")
        )
    elif len(needles) >= SCAN_NEEDLES:
        preds.append(_called(_contains_any(tuple(needles))))
    elif needles:
        alternation = re.compile("|".join(re.escape(n) for n in needles), re.DOTALL)
        search = alternation.search
        preds.append(
            (
                lambda low, raw: search(low) is not None,
                lambda name, low, raw: f"{name(alternation)}.search({low}) is not None",
            )
        )
    if len(networks) > 1:
        preds.append(_called(networks_test(tuple(networks))))
    elif networks:
        rest.extend(t for t in tests if t.kind == "cidr")
    return [*preds, *((t.test, _source_of(t)) for t in rest)]


def _source_of(test: ValueTest) -> Expr:
    return lambda name, low, raw: value_source(test, name, low, raw)


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


def _called(predicate: ValuePredicate) -> tuple[ValuePredicate, Expr]:
    return predicate, lambda name, low, raw: f"{name(predicate)}({low}, {raw})"


# From this many needles on, one compiled literal scan beats a regex alternation (whose cost
# grows with the needles at every position); below it, compiling a scanner costs more load time
# than it saves.
SCAN_NEEDLES = 8


@rebuildable
def _contains_any(needles: tuple[str, ...], database: bytes = b"") -> ValuePredicate:
    """``contains`` one of several needles: one multi-literal scan that stops at the first hit.

    A regex alternation costs time per needle at every position of (often long: script blocks,
    command lines) values; the multi-literal matcher does not. The compiled scanner is part of
    the recipe (``database``), so a stored rule loads it instead of compiling it again.
    """
    scanner = LiteralSet(needles, database=database)
    any_in = scanner.any_in

    def test(low: str, raw: Any) -> bool:
        return any_in(low)

    test.__recipe__ = (__name__, "_contains_any", (needles, database or scanner.dump()))  # type: ignore[attr-defined]
    return test


def expand_placeholders(value: SigmaString, placeholders: Placeholders) -> list[SigmaString]:
    """Every variant of a string with ``%name%`` placeholders replaced (the ``expand`` modifier)."""
    options: list[list[Any]] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            if part.name not in placeholders:
                raise CompileError(f"placeholder %{part.name}% has no value (pass placeholders)")
            options.append([("text", v) for v in placeholders[part.name]])
        else:
            options.append([("part", part)])
    variants: list[SigmaString] = []
    for combination in itertools.product(*options):
        parts: list[Any] = []
        for kind, item in combination:
            if kind == "text":
                parts.extend(SigmaString(item).s)  # placeholder values may hold wildcards
            else:
                parts.append(item)
        variant = SigmaString("")
        variant.s = _merge_text(parts)
        variants.append(variant)
    return variants


def _merge_text(parts: list[Any]) -> list[Any]:
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return merged


def _string(value: SigmaString) -> ValueTest:
    cased = isinstance(value, SigmaCasedString)
    parts: list[Any] = list(value.s)
    chunks = [p for p in parts if isinstance(p, str)]
    longest = max(chunks, key=len, default="").lower()
    literals = frozenset({longest}) if longest else None
    if any(mark in chunk for chunk in chunks for mark in MARKS):
        literals = None  # cannot be told from the prefilter's section marks: no literal
    if not cased:
        parts = [p.lower() if isinstance(p, str) else p for p in parts]
    multi = SpecialChars.WILDCARD_MULTI
    single = SpecialChars.WILDCARD_SINGLE
    if single not in parts:
        if all(isinstance(p, str) for p in parts):
            text = "".join(parts)
            whole = _anchored(literals, f"{START}{text.lower()}{END}")
            if cased:
                return ValueTest(
                    lambda low, raw: text_of(raw) == text, whole, expr=_cased("==", text)
                )
            return ValueTest(lambda low, raw: low == text, whole, frozenset({text}), "equals")
        shape = tuple(p is multi for p in parts)
        if shape == (True, False, True):
            needle = parts[1]
            if cased:
                return ValueTest(
                    lambda low, raw: needle in text_of(raw), literals, expr=_cased("in", needle)
                )
            return ValueTest(lambda low, raw: needle in low, literals, None, "contains", needle)
        if shape == (False, True):
            prefix = parts[0]
            if cased:
                return ValueTest(
                    lambda low, raw: text_of(raw).startswith(prefix),
                    literals,
                    expr=_cased("startswith", prefix),
                )
            return ValueTest(
                lambda low, raw: low.startswith(prefix),
                _anchored(literals, f"{START}{prefix}"),
                None,
                "startswith",
                prefix,
            )
        if shape == (True, False):
            suffix = parts[1]
            if cased:
                return ValueTest(
                    lambda low, raw: text_of(raw).endswith(suffix),
                    literals,
                    expr=_cased("endswith", suffix),
                )
            return ValueTest(
                lambda low, raw: low.endswith(suffix),
                _anchored(literals, f"{suffix}{END}"),
                None,
                "endswith",
                suffix,
            )
        if all(p is multi for p in parts):  # "*": any value
            return ValueTest(lambda low, raw: True, None, expr=lambda name, low, raw: "True")
    pattern = "".join(".*" if p is multi else "." if p is single else re.escape(p) for p in parts)
    compiled = re.compile(pattern, re.DOTALL)
    matcher = compiled.fullmatch
    if cased:
        return ValueTest(
            lambda low, raw: matcher(text_of(raw)) is not None,
            literals,
            expr=lambda name, low, raw: (
                f"{name(compiled)}.fullmatch({name(text_of)}({raw})) is not None"
            ),
        )
    return ValueTest(
        lambda low, raw: matcher(low) is not None,
        literals,
        expr=lambda name, low, raw: f"{name(compiled)}.fullmatch({low}) is not None",
    )


def _cased(operation: str, text: str) -> Expr:
    """Source of a ``cased`` test: the original value's text, never the lower-cased one."""

    def expr(name: Callable[[Any], str], low: str, raw: str) -> str:
        value = f"{name(text_of)}({raw})"
        if operation == "==":
            return f"{value} == {name(text)}"
        if operation == "in":
            return f"{name(text)} in {value}"
        return f"{value}.{operation}({name(text)})"

    return expr


def _anchored(literals: frozenset[str] | None, literal: str) -> frozenset[str] | None:
    """The anchored form of a value's literal (None stays None: nothing usable)."""
    return None if literals is None else frozenset({literal})
