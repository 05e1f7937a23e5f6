"""Compiled boolean nodes and the Sigma condition grammar over them.

A ``Node`` is a predicate over one event view plus two facts the rule index uses:
``equals`` (field -> the exact values the field must have for the node to be true) and
``literals`` (one of these lower-cased substrings must occur in the event for it to be true).
Both are *necessary* conditions, so pruning with them never loses a match. A literal is scoped:
``(field, text)`` means ``text`` occurs in that field's lower-cased value; field ``""`` (keyword
searches) means in some value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.rule import SigmaDetections

from detection.errors import CompileError

# (lower-cased string view, original values), both keyed by lower-cased field name.
Predicate = Callable[[dict[str, Any], dict[str, Any]], bool]
# (name for a constant) -> the node as a Python expression over ``low`` and ``raw``.
Emit = Callable[[Callable[[Any], str]], str]
Literal = tuple[str, str]  # (lower-cased field name or "" for any field, lower-cased text)


@dataclass(frozen=True)
class Node:
    """A compiled predicate with the necessary conditions the index may exploit."""

    pred: Predicate
    literals: frozenset[Literal] | None = None
    equals: Mapping[str, frozenset[str]] = field(default_factory=dict)
    index_only: bool = False  # only tests the index's fields: true for every candidate
    # All literal sets the node needs (AND of ORs); ``literals`` is the most selective one.
    clauses: tuple[frozenset[Literal], ...] = ()
    # The node holds only if all clauses of at least one alternative hold (an OR of ANDs of
    # ORs): ``1 of selection_*`` keeps each selection's own clauses instead of weak unions.
    alternatives: tuple[tuple[frozenset[Literal], ...], ...] = ()
    emit: Emit | None = None  # source form of ``pred`` (None: a call of ``pred``)

    def __post_init__(self) -> None:
        if self.literals and not self.clauses:
            object.__setattr__(self, "clauses", (self.literals,))
        if self.clauses and not self.alternatives:
            object.__setattr__(self, "alternatives", (self.clauses,))


MAX_CLAUSES = 4
MAX_ALTERNATIVES = 16


def _best(clauses: Iterable[frozenset[Literal]]) -> tuple[frozenset[Literal], ...]:
    return tuple(sorted(set(clauses), key=_clause_order)[:MAX_CLAUSES])


def _alternative_order(alternative: tuple[frozenset[Literal], ...]) -> list[list[Literal]]:
    """A total order on alternatives (frozensets only compare by inclusion): stable plans."""
    return [sorted(clause) for clause in alternative]


def _and_alternatives(nodes: list[Node]) -> tuple[tuple[frozenset[Literal], ...], ...]:
    """AND: one alternative per combination of the children's alternatives, while few.

    A child whose alternatives would make too many combinations adds its (weaker) CNF clauses
    to every alternative instead; both are necessary for the AND.
    """
    combined: list[tuple[frozenset[Literal], ...]] = [()]
    extra: list[frozenset[Literal]] = []
    for node in sorted((n for n in nodes if n.alternatives), key=lambda n: len(n.alternatives)):
        if len(combined) * len(node.alternatives) > MAX_ALTERNATIVES:
            extra.extend(node.clauses)
            continue
        combined = [done + alt for done in combined for alt in node.alternatives]
    unique = {_best([*alternative, *extra]) for alternative in combined}
    return tuple(sorted((a for a in unique if a), key=_alternative_order))


def _or_alternatives(
    nodes: list[Node], clauses: tuple[frozenset[Literal], ...]
) -> tuple[tuple[frozenset[Literal], ...], ...]:
    """OR: the children's alternatives side by side; too many fall back to the CNF clauses."""
    if any(not node.alternatives for node in nodes):
        return ()
    unique = {alternative for node in nodes for alternative in node.alternatives}
    if len(unique) > MAX_ALTERNATIVES:
        return (clauses,) if clauses else ()
    return tuple(sorted(unique, key=_alternative_order))


def _ordered(nodes: list[Node]) -> list[Node]:
    """Evaluate selective parts first and the index-guaranteed Channel/EventID tests last."""
    return sorted(nodes, key=lambda n: (n.index_only, literal_cost(n.literals)))


def literal_cost(literals: frozenset[Literal] | None) -> float:
    """Rough chance that an event contains one of the literals: short literals are common."""
    if literals is None:
        return float("inf")
    return sum(16.0 ** -min(len(text), 10) for _, text in literals) if literals else float("inf")


def _clause_order(clause: frozenset[Literal]) -> tuple[float, list[Literal]]:
    """Most selective first; ties broken by content, so plans do not depend on hash seeds."""
    return literal_cost(clause), sorted(clause)


def all_of(nodes: list[Node]) -> Node:
    """AND: every necessary condition of every child holds; keep the most selective literals."""
    if len(nodes) == 1:
        return nodes[0]
    nodes = _ordered(nodes)
    preds = tuple(n.pred for n in nodes)
    equals: dict[str, frozenset[str]] = {}
    for node in nodes:
        for name, values in node.equals.items():
            equals[name] = equals[name] & values if name in equals else values
    index_only = all(n.index_only for n in nodes)
    unique = {clause for n in nodes for clause in n.clauses if clause}
    clauses = tuple(sorted(unique, key=_clause_order)[:MAX_CLAUSES])
    literals = clauses[0] if clauses else None
    alternatives = _and_alternatives(nodes) or ((clauses,) if clauses else ())
    emit = _joined(nodes, " and ")
    if len(preds) == 2:
        first, second = preds
        return Node(
            lambda low, raw: first(low, raw) and second(low, raw),
            literals,
            equals,
            index_only,
            clauses,
            alternatives,
            emit,
        )

    def every(low: dict[str, Any], raw: dict[str, Any]) -> bool:
        for pred in preds:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not pred(low, raw):
                return False
        return True

    return Node(every, literals, equals, index_only, clauses, alternatives, emit)


def any_of(nodes: list[Node]) -> Node:
    """OR: a condition is necessary only if every child needs it (values / literals united)."""
    if len(nodes) == 1:
        return nodes[0]
    preds = tuple(n.pred for n in nodes)
    clauses = _or_clauses(nodes)
    literals = clauses[0] if clauses else None
    common = set(nodes[0].equals)
    for node in nodes[1:]:
        common &= set(node.equals)
    equals = {name: frozenset().union(*(n.equals[name] for n in nodes)) for name in common}
    alternatives = _or_alternatives(nodes, clauses)
    emit = _joined(nodes, " or ")
    if len(preds) == 2:
        first, second = preds
        return Node(
            lambda low, raw: first(low, raw) or second(low, raw),
            literals,
            equals,
            clauses=clauses,
            alternatives=alternatives,
            emit=emit,
        )

    def some(low: dict[str, Any], raw: dict[str, Any]) -> bool:
        for pred in preds:  # noqa: SIM110 - a loop is faster than any() over a generator
            if pred(low, raw):
                return True
        return False

    return Node(some, literals, equals, clauses=clauses, alternatives=alternatives, emit=emit)


OR_BEAM = 8


def _or_clauses(nodes: list[Node]) -> tuple[frozenset[Literal], ...]:
    """Necessary clauses of an OR: the union of one clause from each child, for any choice.

    If some child holds, all its clauses hold, so every such union holds. Choosing per child
    only its best clause (the obvious answer) loses a lot: ``Image contains \\Windows\\ and
    CommandLine contains \\..\\Windows\\`` OR ``CommandLine contains .exe\\..\\`` then
    yields only the weak clause with ``\\windows\\``. Unions are kept best-first in a small beam.
    """
    if any(not node.clauses for node in nodes):
        return ()
    beam: list[frozenset[Literal]] = [frozenset()]
    for node in nodes:
        unions = {done | clause for done in beam for clause in node.clauses[:MAX_CLAUSES]}
        beam = sorted(unions, key=_clause_order)[:OR_BEAM]
    return tuple(beam[:MAX_CLAUSES])


def negate(node: Node) -> Node:
    """NOT: nothing about the child is necessary any more."""
    pred = node.pred
    return Node(
        lambda low, raw: not pred(low, raw), emit=lambda name: f"not ({source(node, name)})"
    )


def source(node: Node, name: Callable[[Any], str]) -> str:
    """``node`` as a Python expression over ``low`` and ``raw`` (see ``detection.codegen``)."""
    if node.emit is not None:
        return node.emit(name)
    return f"{name(node.pred)}(low, raw)"


def _joined(nodes: list[Node], operator: str) -> Emit:
    """AND / OR of the children's expressions, in the children's evaluation order."""
    return lambda name: operator.join(f"({source(node, name)})" for node in nodes)


def compile_condition(tree: Any, detections: SigmaDetections, compiled: Mapping[str, Node]) -> Node:
    """Compile an unresolved pySigma condition tree (``parse(postprocess=False)``)."""
    if isinstance(tree, ConditionIdentifier):
        name = tree.identifier
        if name not in compiled:
            raise CompileError(f"condition refers to unknown detection {name!r}")
        return compiled[name]
    if isinstance(tree, ConditionSelector):
        names = [ident.identifier for ident in tree.resolve_referenced_detections(detections)]
        if not names:
            raise CompileError(f"condition pattern {tree.pattern!r} matches no detection")
        nodes = [compiled[name] for name in names]
        return all_of(nodes) if tree.cond_class is ConditionAND else any_of(nodes)
    if isinstance(tree, ConditionNOT):
        return negate(compile_condition(tree.args[0], detections, compiled))
    if isinstance(tree, ConditionAND | ConditionOR):
        children = [compile_condition(arg, detections, compiled) for arg in tree.args]
        return all_of(children) if isinstance(tree, ConditionAND) else any_of(children)
    raise CompileError(f"unsupported condition element {type(tree).__name__}")
