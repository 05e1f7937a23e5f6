"""The streaming matcher: events in, (event, rule) pairs out, through the rule index.

Per event: one flattened raw view (lower-cased keys), one plan look-up by Channel/EventID, one
Aho-Corasick scan over the lower-cased values if the plan has anchored rules, then the compiled
predicates of the few candidate rules. A rule compiled under several stacks matches an event if
any of its stacks matches; each (rule, event) pair is reported once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detection.compiler import CompiledRule
from detection.index import RuleIndex
from detection.view import low_view, raw_view, search_text


@dataclass(frozen=True)
class Hit:
    """One matching (event, rule) pair; ``compiled`` is the stack variant that matched first."""

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
        self.index = RuleIndex(self.compiled)
        self._preds = tuple(rule.node.pred for rule in self.compiled)

    def match_batch(self, events: Iterable[Mapping[str, Any]], *, start: int = 0) -> list[Hit]:
        """Every (event, rule) match in the batch, in event order then rule load order."""
        hits: list[Hit] = []
        preds = self._preds
        numbers = self.rule_numbers
        compiled = self.compiled
        plan_for = self.index.plan_for
        for offset, event in enumerate(events):
            raw = raw_view(event)
            plan = plan_for(raw)
            automaton = plan.automaton
            if automaton is None and not plan.always:
                continue
            if automaton is not None:
                candidates = plan.candidates(search_text(raw))
                candidates.update(plan.always)
            else:
                candidates = set(plan.always)
            if not candidates:
                continue
            low = low_view(raw)
            seen: set[int] = set()
            for position in sorted(candidates):
                number = numbers[position]
                if number in seen:
                    continue
                if preds[position](low, raw):
                    seen.add(number)
                    hits.append(Hit(start + offset, number, compiled[position], low, raw))
        return hits
