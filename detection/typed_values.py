"""Value tests and the tests of pySigma's non-string values: numbers, comparisons (also of a
timestamp's parts), regular expressions and CIDR networks.

A ``ValueTest`` receives a field value twice: ``low`` (its string form, lower-cased once per
event) and ``raw`` (the original JSON scalar). Strings, placeholders and value lists are
compiled in ``detection.modifiers``, which dispatches every other type here.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.types import (
    CompareOperators,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaTimestampPart,
    TimestampPart,
)

from detection.errors import CompileError
from detection.literals import END, START
from detection.recipes import rebuildable
from detection.regex_facts import ordered_runs, regex_literals, required_counts, runs_in_line
from detection.timeparts import part_test

ValuePredicate = Callable[[str, Any], bool]
# (name for a constant, name of the lower-cased value, expression of the raw value) -> Python
# expression of a value test, for rules compiled to one function (``detection.codegen``).
Expr = Callable[[Callable[[Any], str], str, str], str]

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


@dataclass(frozen=True)
class ValueTest:
    """A compiled value test plus what the rule index may learn from it."""

    test: ValuePredicate
    literals: frozenset[str] | None  # one of these must occur (lower-cased) when test passes
    equals: frozenset[str] | None = None  # exact lower-cased values accepted, if that simple
    kind: str = ""  # "contains" / "startswith" / "endswith" / "cidr" ...: mergeable in value lists
    text: str = ""  # the needle, prefix, suffix or network
    expr: Expr | None = None  # inline form of ``test`` (None: derived from kind, or a call)


def text_of(raw: Any) -> str:
    """String form of an original scalar, as the lower-cased view would have it (un-lowered)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def number_value(number: int | float) -> ValueTest:
    # Events carry EventID both as 4688 and "4688": compare the string forms.
    text = str(number)
    literal = frozenset({f"{START}{text}{END}"})
    return ValueTest(lambda low, raw: low == text, literal, frozenset({text}), "equals")


def compare_value(value: SigmaCompareExpression) -> ValueTest:
    if isinstance(value.number, SigmaTimestampPart):  # ``|hour|gte: 8``: compare the part
        part = value.number
        return ValueTest(
            _time_part(part.timestamp_part.name, int(part.number), value.op.name), None
        )
    if value.op not in (
        CompareOperators.LT,
        CompareOperators.LTE,
        CompareOperators.GT,
        CompareOperators.GTE,
    ):
        raise CompileError(f"comparison {value.op.name} is not supported")
    return ValueTest(_comparison(value.op.name, value.number.number), None)


@rebuildable
def _time_part(part: str, number: int, op: str) -> ValuePredicate:
    """``part_test`` from names (``HOUR``, ``GTE``; "" for equality), so images can hold it."""
    return part_test(TimestampPart[part], number, CompareOperators[op] if op else None)


@rebuildable
def _comparison(op_name: str, limit: int | float) -> ValuePredicate:
    """``value|lt: limit`` and friends on numbers (text holding a number counts)."""
    op = CompareOperators[op_name]
    checks: dict[CompareOperators, Callable[[float], bool]] = {
        CompareOperators.LT: lambda n: n < limit,
        CompareOperators.LTE: lambda n: n <= limit,
        CompareOperators.GT: lambda n: n > limit,
        CompareOperators.GTE: lambda n: n >= limit,
    }
    check = checks[op]

    def test(low: str, raw: Any) -> bool:
        if isinstance(raw, bool):
            return False
        if isinstance(raw, int | float):
            return check(raw)
        try:
            return check(float(low))
        except ValueError:
            return False  # a non-numeric value is neither smaller nor larger

    return test


def regex_value(value: SigmaRegularExpression) -> ValueTest:
    pattern = getattr(value.regexp, "original", None) or str(value.regexp)
    flags = 0
    for flag in value.flags:
        flags |= int(_RE_FLAGS.get(flag, 0))
    try:
        re.compile(pattern, flags)
    except re.error as exc:
        raise CompileError(f"invalid regular expression {pattern!r}: {exc}") from None
    return ValueTest(_regex_test(pattern, flags), regex_literals(pattern))


@rebuildable
def _regex_test(pattern: str, flags: int) -> ValuePredicate:
    """Sigma's ``re``: a search in the original text, with cheap necessary checks first."""
    search = re.compile(pattern, flags).search
    runs = ordered_runs(pattern) if flags == 0 else None
    if runs is not None:
        return lambda low, raw: runs_in_line(text_of(raw), runs)
    needs = required_counts(pattern) if flags == 0 else ()
    if not needs:
        return lambda low, raw: search(text_of(raw)) is not None

    def test(low: str, raw: Any) -> bool:
        text = text_of(raw)
        for run, times in needs:  # cheap necessary counts before a backtracking search
            if text.count(run) < times:
                return False
        return search(text) is not None

    return test


def cidr_value(value: SigmaCIDRExpression) -> ValueTest:
    return ValueTest(_cidr_test(str(value.network)), None, None, "cidr", str(value.network))


@rebuildable
def _cidr_test(text: str) -> ValuePredicate:
    """Whether the value is an address inside the network ``text``."""
    network = ipaddress.ip_network(text)

    def inside(low: str) -> bool:
        address = _address(low)
        return address is not None and address.version == network.version and address in network

    return _remembered(inside)


# Addresses whose cidr answer a test remembers (least recently used dropped first). Parsing an
# address and testing it against eight private ranges cost about 7 us per event (4624 logons,
# "External Remote SMB Logon from Public IP"), and log sources repeat a few addresses.
CIDR_MEMO = 4096


def _remembered(inside: Callable[[str], bool]) -> ValuePredicate:
    """``inside`` as a value test, its answers remembered by the lower-cased value."""
    known = functools.lru_cache(maxsize=CIDR_MEMO)(inside)

    def test(low: str, raw: Any) -> bool:
        return known(low)

    return test


def _address(low: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(low.strip("[]"))
    except ValueError:
        return None


@rebuildable
def networks_test(texts: tuple[str, ...]) -> ValuePredicate:
    """``cidr`` value lists (private ranges, often eight of them): parse the address once."""
    networks = [ipaddress.ip_network(text) for text in texts]

    def inside(low: str) -> bool:
        address = _address(low)
        if address is None:
            return False
        version = address.version
        for network in networks:  # noqa: SIM110 - faster than any() over a generator
            if network.version == version and address in network:
                return True
        return False

    return _remembered(inside)


def time_part_value(value: SigmaTimestampPart) -> ValueTest:
    """``|hour: 8`` and the like: equality with one part of the event's timestamp."""
    return ValueTest(_time_part(value.timestamp_part.name, int(value.number), ""), None)
