"""Helpers for detection tests: rules are written inline as YAML strings."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from detection.service import RuleSet, load_rules

Matcher = Callable[..., list[int]]


@pytest.fixture
def ruleset(tmp_path: Path) -> Callable[..., RuleSet]:
    """Build a RuleSet from one inline rule (detection block only, or a whole rule)."""

    def build(
        rule: str,
        *,
        stacks: Sequence[str] = ("none",),
        placeholders: Mapping[str, Sequence[str]] | None = None,
    ) -> RuleSet:
        text = textwrap.dedent(rule)
        if "title:" not in text:
            text = (
                "title: Test rule\nid: 11111111-2222-3333-4444-555555555555\n"
                "status: test\nlevel: high\n"
                "logsource: {product: windows, category: process_creation}\n"
                "detection:\n" + textwrap.indent(text, "  ")
            )
        folder = tmp_path / f"rules{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        (folder / "rule.yml").write_text(text, encoding="utf-8")
        return load_rules(paths=[folder], stacks=stacks, placeholders=placeholders)

    return build


@pytest.fixture
def matches(ruleset: Callable[..., RuleSet]) -> Matcher:
    """Indices of the events the inline rule matches; fails if the rule did not compile."""

    def run(rule: str, events: Sequence[dict[str, Any]], **kwargs: Any) -> list[int]:
        rules = ruleset(rule, **kwargs)
        assert not rules.problems, rules.problems
        assert rules.runnable, rules.skipped
        return [m.event_index for m in rules.match_batch(list(events))]

    return run


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock in the test streams' time (2026-05-04 09:00 UTC)."""
    return FrozenClock(datetime(2026, 5, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated database (head: audit entries written with detection changes)."""
    migrate(settings)
    engine = create_db_engine(settings)
    yield create_session_factory(engine)
    engine.dispose()
