"""Rules pages: the rule pack joined with its state, switching rules, testing on pasted events.

Combines `detection.service` (what the files say) with `detection.management` (what the
platform keeps about each rule: enabled flag, hits, cost, Lucene query); the views only parse
and render.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import NotFoundError, ValidationError
from detection.service import Explanation, RuleInfo, explain, list_rules, rule_states, set_enabled

MAX_TEST_LINES = 500
MAX_TEST_CHARS = 500_000


@dataclass(frozen=True)
class RuleRow:
    """One rule as the list shows it; a rule without stored state is enabled and never hit."""

    info: RuleInfo
    enabled: bool
    hits: int
    cost_ns: int
    last_hit_at: datetime | None
    lucene: str | None = None
    lucene_error: str | None = None

    @property
    def cost_ms(self) -> float:
        return round(self.cost_ns / 1_000_000, 3)

    @property
    def attack_tags(self) -> tuple[str, ...]:
        return tuple(tag for tag in self.info.tags if tag.lower().startswith("attack."))


@dataclass(frozen=True)
class RuleDetail:
    """A rule with the YAML file it comes from."""

    row: RuleRow
    yaml: str


@dataclass(frozen=True)
class TestOutcome:
    """What a rule test found: matches per pasted line and the rule file's load problems."""

    rule_id: str
    events: int
    matches: list[Explanation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def rule_rows(
    *, db: Session, paths: Sequence[Path], technique: str | None = None
) -> tuple[list[RuleRow], list[str]]:
    """All rules with their state, sorted by title; optionally only those tagged `technique`.

    A technique filter also matches its sub-techniques (T1071 finds attack.t1071.004).
    """
    infos, problems = list_rules(paths=paths)
    states = rule_states(db=db)
    rows = []
    for info in infos:
        state = states.get(info.rule_id)
        rows.append(
            RuleRow(
                info=info,
                enabled=True if state is None else bool(state.enabled),
                hits=0 if state is None else int(state.hits or 0),
                cost_ns=0 if state is None else int(state.cost_ns or 0),
                last_hit_at=None if state is None else state.last_hit_at,
                lucene=None if state is None else state.lucene,
                lucene_error=None if state is None else state.lucene_error,
            )
        )
    if technique:
        wanted = f"attack.{technique.strip().lower()}"
        rows = [
            row
            for row in rows
            if any(t.lower() == wanted or t.lower().startswith(wanted + ".") for t in row.info.tags)
        ]
    rows.sort(key=lambda row: (row.info.title.lower(), row.info.rule_id))
    return rows, [str(problem) for problem in problems]


def rule_detail(*, db: Session, paths: Sequence[Path], rule_id: str) -> RuleDetail:
    """The rule and the text of its file; NotFoundError for an unknown id."""
    row = _find(db=db, paths=paths, rule_id=rule_id)
    yaml = ""
    if row.info.path:
        yaml = Path(row.info.path).read_text(encoding="utf-8", errors="replace")
    return RuleDetail(row=row, yaml=yaml)


def switch_rule(
    *, db: Session, clock: Clock, actor: str, paths: Sequence[Path], rule_id: str, enabled: bool
) -> RuleRow:
    """Enable or disable a rule that exists in the pack; audited, in the view's write unit."""
    _find(db=db, paths=paths, rule_id=rule_id)
    set_enabled(db=db, clock=clock, actor=actor, rule_id=rule_id, enabled=enabled)
    db.flush()
    return _find(db=db, paths=paths, rule_id=rule_id)


def parse_pasted_events(text: str) -> list[tuple[int, dict[str, Any]]]:
    """JSON objects, one per line, numbered by line; blank lines skipped.

    ValidationError names the first bad line, so the analyst can fix the paste.
    """
    if len(text) > MAX_TEST_CHARS:
        raise ValidationError("events", f"at most {MAX_TEST_CHARS} characters")
    events: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError("events", f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise ValidationError("events", f"line {number}: must be a JSON object")
        events.append((number, value))
        if len(events) > MAX_TEST_LINES:
            raise ValidationError("events", f"at most {MAX_TEST_LINES} events")
    if not events:
        raise ValidationError("events", "paste at least one event (a JSON object per line)")
    return events


def test_rule(
    *, db: Session, paths: Sequence[Path], rule_id: str, text: str, stacks: Sequence[str]
) -> TestOutcome:
    """Run one rule over pasted events: which lines match, which selections, which values.

    Disabled rules are tested too: testing is how one decides to switch a rule back on.
    """
    row = _find(db=db, paths=paths, rule_id=rule_id)
    events = parse_pasted_events(text)
    if row.info.kind != "rule" or not row.info.path:
        return TestOutcome(
            rule_id,
            len(events),
            problems=["correlation rules cannot be tested on single events; test their base rules"],
        )
    found, problems = explain(rule_path=Path(row.info.path), events=events, stacks=stacks)
    mine = [match for match in found if match.rule_id == rule_id]
    return TestOutcome(rule_id, len(events), mine, problems)


def _find(*, db: Session, paths: Sequence[Path], rule_id: str) -> RuleRow:
    rows, _ = rule_rows(db=db, paths=paths)
    for row in rows:
        if row.info.rule_id == rule_id:
            return row
    raise NotFoundError(f"rule {rule_id!r} not found")


def explain_events(
    *,
    paths: Sequence[Path],
    rule_id: str,
    events: Sequence[dict[str, Any]],
    stacks: Sequence[str],
) -> dict[int, Explanation]:
    """Why each stored event matched `rule_id` (index -> selections and values), if still known.

    Empty when the rule is gone from the pack or is a correlation (its events matched base
    rules): the alert's own `selections` remain the record then.
    """
    if not events:
        return {}
    # A listing up to 2 s old will do (no folder walk per alert page), and no rule states.
    infos, _ = list_rules(paths=paths, max_age=2.0)
    info = next((i for i in infos if i.rule_id == rule_id), None)
    if info is None or info.kind != "rule" or not info.path:
        return {}
    numbered = list(enumerate(events))
    found, _ = explain(rule_path=Path(info.path), events=numbered, stacks=stacks)
    out: dict[int, Explanation] = {}
    for match in found:
        if match.rule_id == rule_id:
            out.setdefault(match.line, match)
    return out
