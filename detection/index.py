"""The rule index: an event only meets the rules that can possibly match it.

Two necessary conditions, both derived at compile time (``detection.conditions.Node``):

1. *Equality keys.* Most Windows rules require exact ``Channel`` / ``EventID`` values (the
   conditions the log-source pipelines add). Rules are grouped by those values; an event looks
   up the groups for its own values (and the groups of rules that do not constrain a key).
   Events whose values select no rule at all are dismissed without building any view.
2. *Literal prefilter.* A rule whose condition needs one of a few substrings (``\\cmd.exe``,
   ``-encodedcommand``...) cannot match an event that contains none of them; a rule whose
   condition needs several such clauses (AND) cannot match unless every clause is met. Per
   group, one multi-literal matcher (``detection.literals``) over those lower-cased literals
   scans the lower-cased values of the fields the literals come from once (literals anchored
   at a value's start or end only in their own field); a bit-set sum (see ``Plan``) turns the
   literals found into the rules worth evaluating. Rules without such literals (only negations,
   regexes, numeric comparisons) are always evaluated within their group.

Soundness: both conditions are *necessary* for a match (see ``detection.conditions``), so the
index may let through rules that then fail, but never hides a rule that would match.

Plans per key combination are built lazily and cached (one per distinct rule set), so the first
event of a kind pays for compiling its literals and the rest only look it up.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detection.compiler import INDEX_FIELDS, CompiledRule
from detection.conditions import Literal
from detection.literals import LiteralSet, field_code, render, sectioned_text
from detection.view import text_of

Key = tuple[str | None, ...]


# A plan records what its first scans find. A literal found in most of them (``.exe`` at the
# end of NewProcessName for 4688, ``\\`` in every share name for 5145) prunes little but costs
# a match callback (a GIL round trip in the hyperscan binding) per scan. Replaying the recorded
# scans tells how many more candidate evaluations taking its clauses as satisfied would cause;
# where that costs less than the callbacks it saves, its clauses are taken as satisfied and it
# leaves the automaton. That only weakens a necessary condition: the plan may let more rules
# through, never fewer.
TUNE_AFTER = 1024
# Once tuned, a plan remembers its answer per set of literals found: events of one kind find
# the same few literals again and again, and turning finds into rule positions (the bit sum
# and a Python loop over the carried guard bits) cost as much as the scan itself. Bounded
# per plan; beyond it, answers are computed as before.
MAX_ANSWERS = 4096
CONSIDERED = 0.05  # literals found in fewer scans than this share are kept without replay
EVALUATION_COST = 10  # one more candidate evaluation costs about ten match callbacks


@dataclass(eq=False)
class Plan:
    """What to evaluate for events with one combination of key values.

    The literal clauses of all candidate rules are packed into one bit set: every rule owns one
    block per alternative of its condition (``Node.alternatives``), of one bit per clause plus a
    guard bit above them. A scan ORs in the bits of every literal it finds; adding
    ``increment`` (a one at the bottom of each block) then carries into a block's guard bit
    exactly when all its clause bits are set, i.e. when each clause has a literal in the event.
    A rule is a candidate when any of its blocks carries. That decides all rules of the plan
    with a few big-integer operations.
    """

    always: tuple[int, ...]  # compiled-rule positions evaluated for every such event
    everything: tuple[int, ...]  # every position of the plan (when literals cannot be used)
    automaton: LiteralSet | None  # every clause literal, numbered as in ``masks``
    fields: tuple[str, ...] | None  # fields whose values the literals live in (None: any)
    tags: dict[str, str]  # field -> its tag in the plan's texts and literals (others: "")
    masks: tuple[int, ...]  # literal number -> bit mask of the clauses it satisfies
    increment: int
    guards: int
    positions: dict[int, int]  # guard bit number -> compiled-rule position
    base: int = 0  # clause bits taken as satisfied (their literals are in nearly every event)
    counts: list[int] | None = None  # finds per literal while learning; None once tuned
    samples: list[int] = field(default_factory=list)  # satisfied clause bits per learning scan
    # Once tuned: literal numbers found (in the order found) -> positions to evaluate.
    answers: dict[tuple[int, ...], tuple[int, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """No rule can match an event with these key values."""
        return not self.everything

    def select(self, raw: dict[str, Any]) -> Sequence[int]:
        """Positions of the rules worth evaluating on this event, ascending."""
        if self.automaton is None:
            return self.always
        return self.select_text(self.text(raw))

    def select_text(self, text: str | None) -> Sequence[int]:
        """``select`` given the event's sectioned text (not yet lower-cased)."""
        automaton = self.automaton
        if text is None or automaton is None:  # a value holds a section mark: no pruning
            return self.everything
        return self._select_found(automaton.found(automaton.scan_text(text)))

    def select_template_text(self, text: str) -> Sequence[int]:
        """``select_text`` for a text filled in from a template: the engine's hot path.

        Unlike ``sectioned_text`` this does not refuse values that hold a section mark, and
        need not: each value still stands verbatim between its own marks, so every literal a
        value test needs (mark, field name, mark, prefix for startswith; suffix, mark, field
        name, mark for endswith; the bare needle for contains) is still in the text. A stray
        mark can only add finds, i.e. let more rules through, never fewer; and counting the
        marks of every text cost more than scanning it for small plans.
        """
        automaton = self.automaton
        if automaton is None:
            return self.everything
        return self._select_found(automaton.found(automaton.scan_text(text)))

    def _select_found(self, numbers: list[int]) -> Sequence[int]:
        """The positions to evaluate given the numbers of the literals a scan found."""
        if self.counts is None:  # tuned: literals, masks and base no longer change
            key = tuple(numbers)
            answer = self.answers.get(key)
            if answer is None:
                answer = self._answer(numbers)
                if len(self.answers) < MAX_ANSWERS:
                    self.answers[key] = answer
            return answer
        satisfied = self.base
        masks = self.masks
        for number in numbers:
            satisfied |= masks[number]
        self._learn(numbers, satisfied)
        found = self._positions(satisfied) if satisfied else []
        return self._with_always(found) if self.always else found

    def _answer(self, numbers: list[int]) -> tuple[int, ...]:
        """The positions to evaluate when the literals ``numbers`` were found, ascending."""
        satisfied = self.base
        masks = self.masks
        for number in numbers:
            satisfied |= masks[number]
        found = self._positions(satisfied) if satisfied else []
        return tuple(self._with_always(found) if self.always else found)

    def _with_always(self, found: list[int]) -> Sequence[int]:
        return sorted({*found, *self.always}) if self.always else found

    def text(self, raw: dict[str, Any]) -> str | None:
        """The event's values of the plan's fields, one section per value (see ``literals``)."""
        sections: list[tuple[str, str]] = []
        for name in raw if self.fields is None else self.fields:
            value = raw.get(name)
            if value is None:
                continue
            tag = self.tags.get(name, "")
            if type(value) is str:
                sections.append((tag, value))
            elif type(value) is tuple:
                sections.extend((tag, text_of(item)) for item in value)
            else:
                sections.append((tag, text_of(value)))
        return sectioned_text(sections)

    def candidates(self, text: str) -> list[int]:
        """Rules whose every literal clause occurs in the scoped event text, ascending.

        ``text`` must be lower-case where the automaton is not caseless (``scan_text``).
        """
        if self.automaton is None:
            return []
        satisfied = self.base
        masks = self.masks
        numbers = self.automaton.found(text)
        for number in numbers:
            satisfied |= masks[number]
        if self.counts is not None:
            self._learn(numbers, satisfied)
        return self._positions(satisfied) if satisfied else []

    def _positions(self, satisfied: int) -> list[int]:
        """Rule positions, ascending, whose literal blocks `satisfied` fills completely."""
        hits = (satisfied + self.increment) & self.guards
        positions = self.positions
        found = []
        last = -1
        while hits:
            bit = hits & -hits
            position = positions[bit.bit_length() - 1]
            if position != last:  # a rule's blocks are adjacent: several may carry
                found.append(position)
                last = position
            hits ^= bit
        return found

    def _learn(self, numbers: list[int], satisfied: int) -> None:
        """Record a scan; after ``TUNE_AFTER`` of them drop the literals not worth a callback."""
        counts = self.counts
        assert counts is not None
        for number in numbers:
            counts[number] += 1
        self.samples.append(satisfied)
        if len(self.samples) < TUNE_AFTER:
            return
        samples, self.samples, self.counts = self.samples, [], None
        base = self.base
        increment, guards = self.increment, self.guards

        def candidates(extra: int) -> int:
            return sum(((s | extra) + increment & guards).bit_count() for s in samples)

        current = candidates(base)
        frequent = sorted(
            (count, number)
            for number, count in enumerate(counts)
            if count >= CONSIDERED * len(samples)
        )
        for count, number in reversed(frequent):
            mask = self.masks[number]
            if not mask & ~base:
                continue
            more = candidates(base | mask)
            if (more - current) * EVALUATION_COST <= count:
                base, current = base | mask, more
        self._drop(base)

    def _drop(self, base: int) -> None:
        """Take the clause bits ``base`` as satisfied; literals left without a clause go."""
        automaton = self.automaton
        assert automaton is not None
        kept = [
            (literal, mask & ~base)
            for literal, mask in zip(automaton.literals, self.masks, strict=True)
            if mask & ~base
        ]
        if base == self.base and len(kept) == len(self.masks):
            return
        self.automaton = LiteralSet([literal for literal, _ in kept], caseless=automaton.caseless)
        self.masks = tuple(mask for _, mask in kept)
        self.base = base
        self.answers.clear()  # literal numbers changed meaning (none are kept before tuning)


class RuleIndex:
    """Groups compiled rules by required key values and literal anchors."""

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        *,
        fields: Sequence[str] = INDEX_FIELDS,
        positions: Iterable[int] | None = None,
    ):
        """Index ``rules`` at ``positions`` (default: all); the others are never selected."""
        self.fields = tuple(fields)
        self._buckets: dict[Key, list[int]] = defaultdict(list)
        for position in range(len(rules)) if positions is None else positions:
            rule = rules[position]
            options = [
                sorted(rule.node.equals[name]) if name in rule.node.equals else [None]
                for name in self.fields
            ]
            for key in itertools.product(*options):
                self._buckets[key].append(position)
        self._rules = rules
        self._plans: dict[Key, Plan] = {}
        self._shared: dict[frozenset[int], Plan] = {}

    def plan_for(self, raw: dict[str, Any]) -> Plan:
        """The evaluation plan for an event (given its raw view)."""
        values = []
        for name in self.fields:
            value = raw.get(name)
            if type(value) is tuple:
                return self._plan_multi(raw)
            values.append(None if value is None else text_of(value).lower())
        return self.plan_for_key(tuple(values))

    def plan_for_key(self, key: Key) -> Plan:
        """The plan for lower-cased index-field values (None: the event lacks the field)."""
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
        key = frozenset(positions)
        plan = self._shared.get(key)  # many key combinations select the same rules
        if plan is None:
            plan = self._shared[key] = self._compile(sorted(positions))
        return plan

    def _compile(self, positions: list[int]) -> Plan:
        always: list[int] = []
        masks: dict[Literal, int] = defaultdict(int)  # by (field, text)
        increment = guards = 0
        owners: dict[int, int] = {}
        bit = 0
        for position in positions:
            alternatives = self._rules[position].node.alternatives
            if not alternatives:
                always.append(position)
                continue
            for clauses in alternatives:  # one block per alternative, all owned by the rule
                increment |= 1 << bit
                for clause in clauses:
                    for literal in clause:
                        masks[literal] |= 1 << bit
                    bit += 1
                guards |= 1 << bit
                owners[bit] = position
                bit += 1
        automaton = None
        fields: tuple[str, ...] | None = None
        scopes = sorted({name for name, _ in masks} - {""})
        tags = {name: field_code(number) for number, name in enumerate(scopes)}
        rendered: dict[str, int] = defaultdict(int)  # plain literals render alike in any field
        for (name, text), mask in masks.items():
            rendered[render(tags.get(name, ""), text)] |= mask
        if masks:
            automaton = LiteralSet(list(rendered), caseless=True)
            fields = None if any(not name for name, _ in masks) else tuple(scopes)
        return Plan(
            always=tuple(always),
            everything=tuple(positions),
            automaton=automaton,
            fields=fields,
            tags=tags,
            masks=tuple(rendered.values()),
            increment=increment,
            guards=guards,
            positions=owners,
            counts=[0] * len(rendered) if rendered else None,
        )

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
