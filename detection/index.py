"""The rule index: an event only meets the rules that can possibly match it.

Two necessary conditions, both derived at compile time (``detection.conditions.Node``):

1. *Equality keys.* Most Windows rules require exact ``Channel`` / ``EventID`` values (the
   conditions the log-source pipelines add). Rules are grouped by those values; an event looks
   up the groups for its own values (and the groups of rules that do not constrain a key).
2. *Literal prefilter.* A rule whose condition needs one of a few substrings (``\\cmd.exe``,
   ``-encodedcommand``...) cannot match an event that contains none of them. Per group, one
   Aho-Corasick automaton (pyahocorasick) over those lower-cased literals scans the event's
   lower-cased values once and yields the rules worth evaluating. Rules without such literals
   (only negations, regexes, numeric comparisons) are always evaluated within their group.

Plans per key combination are built lazily and cached, so the first event of a kind pays for
its automaton and the rest only look it up.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from detection.compiler import INDEX_FIELDS, CompiledRule
from detection.view import text_of

Key = tuple[str | None, ...]


@dataclass(frozen=True)
class Plan:
    """What to evaluate for events with one combination of key values."""

    always: tuple[int, ...]  # compiled-rule positions evaluated for every such event
    automaton: Any  # every literal any clause needs (value: the literal itself), or None
    anchors: dict[str, tuple[int, ...]]  # literal -> rules whose best clause holds it
    checks: dict[int, tuple[frozenset[str], ...]]  # rule -> its other clauses

    def candidates(self, text: str) -> set[int]:
        """Rules whose every literal clause is satisfied by the (lower-cased) event text."""
        found = {literal for _, literal in self.automaton.iter(text)}
        anchors, checks = self.anchors, self.checks
        result: set[int] = set()
        for literal in found:
            for position in anchors.get(literal, ()):
                if position in result:
                    continue
                rest = checks.get(position)
                if rest is None or all(not clause.isdisjoint(found) for clause in rest):
                    result.add(position)
        return result


class RuleIndex:
    """Groups compiled rules by required key values and literal anchors."""

    def __init__(self, rules: Sequence[CompiledRule], *, fields: Sequence[str] = INDEX_FIELDS):
        self.fields = tuple(fields)
        self._buckets: dict[Key, list[int]] = defaultdict(list)
        for position, rule in enumerate(rules):
            options = [
                sorted(rule.node.equals[name]) if name in rule.node.equals else [None]
                for name in self.fields
            ]
            for key in itertools.product(*options):
                self._buckets[key].append(position)
        self._rules = rules
        self._plans: dict[Key, Plan] = {}

    def plan_for(self, raw: dict[str, Any]) -> Plan:
        """The evaluation plan for an event (given its raw view)."""
        values = []
        for name in self.fields:
            value = raw.get(name)
            if type(value) is tuple:
                return self._plan_multi(raw)
            values.append(None if value is None else text_of(value).lower())
        key = tuple(values)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._build(self._positions(key))
        return plan

    def _plan_multi(self, raw: dict[str, Any]) -> Plan:
        """Rare: an index field holds several values (case-colliding keys); not cached."""
        options = []
        for name in self.fields:
            value = raw.get(name)
            items = value if type(value) is tuple else (value,)
            options.append([None if v is None else text_of(v).lower() for v in items])
        positions: set[int] = set()
        for key in itertools.product(*options):
            positions.update(self._positions(key))
        return self._build(positions)

    def _positions(self, key: Key) -> set[int]:
        positions: set[int] = set()
        # Every bucket whose constrained values agree with the event (None = unconstrained).
        for mask in itertools.product((True, False), repeat=len(key)):
            probe = tuple(v if keep else None for v, keep in zip(key, mask, strict=True))
            if any(keep and v is None for v, keep in zip(key, mask, strict=True)):
                continue
            positions.update(self._buckets.get(probe, ()))
        return positions

    def _build(self, positions: set[int]) -> Plan:
        always: list[int] = []
        by_literal: dict[str, list[int]] = defaultdict(list)
        checks: dict[int, tuple[frozenset[str], ...]] = {}
        words: set[str] = set()
        for position in sorted(positions):
            clauses = self._rules[position].node.clauses
            if not clauses:
                always.append(position)
                continue
            for literal in clauses[0]:
                by_literal[literal].append(position)
            if len(clauses) > 1:
                checks[position] = clauses[1:]
            for clause in clauses:
                words.update(clause)
        automaton = None
        if words:
            automaton = ahocorasick.Automaton()
            for word in words:
                automaton.add_word(word, word)
            automaton.make_automaton()
        anchors = {literal: tuple(rules) for literal, rules in by_literal.items()}
        return Plan(tuple(always), automaton, anchors, checks)

    @property
    def stats(self) -> dict[str, int]:
        """Sizes for the benchmark and for operators wondering what the index does."""
        anchored = sum(1 for r in self._rules if r.node.literals)
        return {
            "compiled_rules": len(self._rules),
            "anchored_rules": anchored,
            "buckets": len(self._buckets),
            "plans_built": len(self._plans),
        }
