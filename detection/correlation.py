"""Sigma correlation rules evaluated over event time, tolerant of out-of-order events.

Semantics (Sigma correlation specification, as pySigma's ``SigmaCorrelationRule`` models it):

- ``event_count``: events of the referenced rules per group-by key within ``timespan``;
- ``value_count``: distinct values of ``condition.field`` per key within ``timespan``;
- ``temporal``: distinct referenced rules (or the extended boolean expression) within ``timespan``;
- ``temporal_ordered``: the referenced rules in their listed order within ``timespan``; the
  metric is how long a prefix of that order occurred;
- ``value_sum``/``value_avg``/``value_percentile``/``value_median``: that aggregate of the
  numeric ``condition.field`` values per key, over fixed buckets of event time (why buckets:
  ``detection.correlation_values``). Values that are no number do not count
  (``stats['not_numeric']``); nor do events without the field (``stats['no_value']``).

Windows are spans of *event* time of length ``timespan``. Counts with ``gt``/``gte`` can only
grow as events arrive, so they are checked on arrival over every window that holds the new
event (which is what makes late events count) and fire at once. ``lt``/``lte``/``eq``/``neq``,
extended expressions with ``not`` and every numeric aggregate can only be decided once no more
events can enter a window: they are checked when the watermark (the newest event time seen,
minus the allowed lateness) has passed the window's end. A fired or closed window is
remembered, and an event inside it is absorbed, so one burst raises one firing, also across
restarts. Events older than ``watermark - lateness`` are dropped as too late
(``stats['too_late']``); events missing a group-by field do not count (as ``stats ... by`` in
SIEMs). Base rules referenced with ``generate: false`` (the default) raise no alerts of their
own: see ``silenced_rules``.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from core.events import flatten, get_field
from detection.correlation_spec import (
    SUPPORTED,
    CorrelationSpec,
    Entry,
    compile_correlations,
    entry_time,
    rule_key,
    silenced_rules,
)
from detection.correlation_values import aggregate, number

# The compiled model lives in ``detection.correlation_spec``; callers import it from here too.
__all__ = [
    "SUPPORTED",
    "CorrelationEngine",
    "CorrelationSpec",
    "Entry",
    "Firing",
    "GroupState",
    "Hit",
    "compile_correlations",
    "event_timestamp",
    "field_text",
    "group_hash",
    "rule_key",
    "silenced_rules",
]

TIME_FIELDS = ("@timestamp", "event.created", "UtcTime", "SystemTime", "TimeCreated")


@dataclass(frozen=True)
class Hit:
    """A match of a referenced rule, as the correlation engine needs it."""

    rule_id: str
    time: float
    event: Mapping[str, Any]
    event_id: str | None = None


@dataclass(frozen=True)
class Firing:
    """A correlation whose condition held for one group in one window."""

    spec: CorrelationSpec
    group: dict[str, str]
    window_start: float
    window_end: float
    last_time: float
    value: float  # an int for the counting types
    event_ids: tuple[str, ...]
    rule_ids: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        """Stable id of this (correlation, group, window): the same firing is never stored twice."""
        raw = orjson.dumps(
            [self.spec.rule_id, self.group, self.window_start, self.window_end],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(raw).hexdigest()


@dataclass
class GroupState:
    """One group's window: sorted entries plus the fired/closed spans that absorb late events."""

    group: dict[str, str]
    entries: list[Entry] = field(default_factory=list)
    closed: list[tuple[float, float]] = field(default_factory=list)

    def to_json(self, signature: str) -> dict[str, Any]:
        return {
            "signature": signature,
            "group": self.group,
            "entries": [list(e) for e in self.entries],
            "closed": [list(c) for c in self.closed],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GroupState:
        entries = [(float(t), int(r), v, i) for t, r, v, i in data.get("entries", [])]
        closed = [(float(s), float(e)) for s, e in data.get("closed", [])]
        return cls(dict(data.get("group", {})), sorted(entries, key=entry_time), closed)


def event_timestamp(event: Mapping[str, Any]) -> float | None:
    """Event time in epoch seconds from the usual time fields; None when there is none."""
    for name in TIME_FIELDS:
        value = get_field(event, name)
        if value is None:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) / (1000.0 if value > 1e11 else 1.0)  # epoch ms or s
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
            except ValueError:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)  # Windows writes UTC without a zone
            return moment.timestamp()
    return None


def field_text(event: Mapping[str, Any], name: str) -> str | None:
    """A field as text for grouping; dotted ECS path first, then a case-insensitive key."""
    value = get_field(event, name)
    if value is None:
        lowered = name.lower()
        for key, candidate in flatten(event):
            if key.lower() == lowered:
                value = candidate
                break
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class CorrelationEngine:
    """Streaming state of every correlation; ``dirty`` says which groups need saving."""

    def __init__(self, specs: Sequence[CorrelationSpec], *, lateness: float | None = None) -> None:
        self.specs = {spec.rule_id: spec for spec in specs}
        self.by_rule: dict[str, list[CorrelationSpec]] = {}
        for spec in specs:
            for rule_id in dict.fromkeys(spec.rules):
                self.by_rule.setdefault(rule_id, []).append(spec)
        self.lateness = lateness  # None: each correlation tolerates its own timespan
        self.groups: dict[tuple[str, str], GroupState] = {}
        self.dirty: set[tuple[str, str]] = set()
        self.watermark: float | None = None
        self.stats = {"too_late": 0, "absorbed": 0, "no_group": 0, "no_value": 0, "not_numeric": 0}

    def _late(self, spec: CorrelationSpec) -> float:
        return spec.timespan if self.lateness is None else self.lateness

    def feed(self, hits: Iterable[Hit]) -> list[Firing]:
        """Add matches of referenced rules; return the growing conditions that now hold."""
        firings: list[Firing] = []
        pending = list(hits)
        while pending:
            hit = pending.pop(0)
            for spec in self.by_rule.get(hit.rule_id, ()):
                fired = self._add(spec, hit)
                if fired is not None:
                    firings.append(fired)
                    pending.append(_as_hit(fired))  # nested correlations see their child fire
        return firings

    def advance(self, watermark: float) -> list[Firing]:
        """Move event time forward: close windows that can no longer change, prune old state."""
        if self.watermark is not None and watermark <= self.watermark:
            return []
        self.watermark = watermark
        firings: list[Firing] = []
        for key in list(self.groups):
            spec = self.specs.get(key[0])
            if spec is None:
                continue
            state = self.groups[key]
            horizon = watermark - self._late(spec)
            if not spec.growing:
                while state.entries and spec.final(
                    start := spec.start_of(state.entries[0][0]), horizon
                ):
                    fired = self._close(spec, state, 0, start)
                    if fired is not None:
                        firings.append(fired)
            before = (len(state.entries), len(state.closed))
            keep = bisect.bisect_left(state.entries, horizon - spec.timespan, key=entry_time)
            del state.entries[:keep]
            state.closed = [span for span in state.closed if span[1] >= horizon]
            if before != (len(state.entries), len(state.closed)) or not spec.growing:
                self.dirty.add(key)
            if not state.entries and not state.closed:
                del self.groups[key]
        for fired in list(firings):
            firings.extend(self.feed([_as_hit(fired)]))
        return firings

    def _add(self, spec: CorrelationSpec, hit: Hit) -> Firing | None:
        group: dict[str, str] = {}
        for name in spec.group_by:
            key_value = field_text(hit.event, spec.field_for(name, hit.rule_id))
            if key_value is None:
                self.stats["no_group"] += 1
                return None
            group[name] = key_value
        value: str | float | None = None
        if spec.value_field is not None and (spec.kind == "value_count" or spec.bucketed):
            text = field_text(hit.event, spec.field_for(spec.value_field, hit.rule_id))
            value = text if spec.kind == "value_count" or text is None else number(text)
            if text is None or value is None:
                self.stats["no_value" if text is None else "not_numeric"] += 1
                return None
        if self.watermark is not None and hit.time < self.watermark - self._late(spec):
            self.stats["too_late"] += 1
            return None
        key = (spec.rule_id, group_hash(group))
        state = self.groups.get(key)
        if state is None:
            state = self.groups[key] = GroupState(group)
        if any(spec.covers(span, hit.time) for span in state.closed):
            self.stats["absorbed"] += 1
            return None
        if hit.event_id is not None and any(e[3] == hit.event_id for e in state.entries):
            self.stats["absorbed"] += 1  # the same event again (a redelivered batch)
            return None
        entry: Entry = (hit.time, spec.rules.index(hit.rule_id), value, hit.event_id)
        bisect.insort(state.entries, entry, key=entry_time)
        self.dirty.add(key)
        if not spec.growing:
            return None
        return self._check_growing(spec, state, hit.time)

    def _check_growing(self, spec: CorrelationSpec, state: GroupState, t: float) -> Firing | None:
        """Earliest window [s, s + timespan] holding ``t`` whose condition holds, fired."""
        entries = state.entries
        low = bisect.bisect_left(entries, t - spec.timespan, key=entry_time)
        high = bisect.bisect_right(entries, t, key=entry_time)
        last_start = None
        for i in range(low, high):
            start = entries[i][0]
            if start == last_start:
                continue
            last_start = start
            end = bisect.bisect_right(entries, start + spec.timespan, key=entry_time)
            if _holds(spec, entries[i:end]):
                return self._fire(spec, state, i, end, start)
        return None

    def _close(
        self, spec: CorrelationSpec, state: GroupState, i: int, start: float
    ) -> Firing | None:
        end = spec.end_index(state.entries, start)
        if _holds(spec, state.entries[i:end]):
            return self._fire(spec, state, i, end, start)
        del state.entries[i:end]
        state.closed.append((start, start + spec.timespan))
        return None

    def _fire(
        self, spec: CorrelationSpec, state: GroupState, i: int, j: int, start: float
    ) -> Firing:
        window = state.entries[i:j]
        del state.entries[i:j]
        state.closed.append((start, start + spec.timespan))
        self.dirty.add((spec.rule_id, group_hash(state.group)))
        return Firing(
            spec=spec,
            group=dict(state.group),
            window_start=start,
            window_end=start + spec.timespan,
            last_time=window[-1][0],
            value=_metric(spec, window),
            event_ids=tuple(e[3] for e in window if e[3] is not None),
            rule_ids=tuple(dict.fromkeys(spec.rules[e[1]] for e in window)),
        )

    # --- persistence hooks (see detection.correlation_store) ----------------------------------

    def export(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """JSON state of one group (None when it no longer exists)."""
        state = self.groups.get(key)
        spec = self.specs.get(key[0])
        if state is None or spec is None:
            return None
        return state.to_json(spec.signature)

    def restore(self, key: tuple[str, str], data: Mapping[str, Any]) -> bool:
        """Load one group's saved state; refuse state written for a different rule version."""
        spec = self.specs.get(key[0])
        if spec is None or data.get("signature") != spec.signature:
            return False
        self.groups[key] = GroupState.from_json(data)
        return True


def _metric(spec: CorrelationSpec, window: Sequence[Entry]) -> float:
    if spec.bucketed:
        numbers = [float(e[2]) for e in window if isinstance(e[2], int | float)]
        return aggregate(spec.kind, numbers, spec.percentile)
    if spec.kind == "event_count":
        return len(window)
    if spec.kind == "value_count":
        return len({e[2] for e in window})
    if spec.kind == "temporal":
        return len({e[1] for e in window})
    wanted = 0  # temporal_ordered: length of the in-order prefix found (greedy is optimal)
    for entry in window:
        if wanted < len(spec.rules) and entry[1] == wanted:
            wanted += 1
    return wanted


def _holds(spec: CorrelationSpec, window: Sequence[Entry]) -> bool:
    if not window:
        return False
    if spec.expression is not None:
        return spec.expression(frozenset(spec.rules[e[1]] for e in window))
    metric = _metric(spec, window)
    count = spec.count
    return {
        "gt": metric > count,
        "gte": metric >= count,
        "lt": metric < count,
        "lte": metric <= count,
        "eq": metric == count,
        "neq": metric != count,
    }[spec.op]


def _as_hit(fired: Firing) -> Hit:
    return Hit(fired.spec.rule_id, fired.last_time, fired.group, fired.fingerprint)


def group_hash(group: Mapping[str, str]) -> str:
    """Stable short key of group-by values (the primary key of persisted state)."""
    return hashlib.sha256(orjson.dumps(dict(group), option=orjson.OPT_SORT_KEYS)).hexdigest()
