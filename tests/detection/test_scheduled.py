"""Scheduled searches on Elasticsearch: same alerts as streaming, no gap, no double, cap, late.

Events carry ECS fields and the rules name them directly (stack "none"), so the streaming
matcher and the Lucene conversion see the same field names.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FrozenClock
from core.config import load_settings
from core.events import new_event
from core.store.elasticsearch import ElasticsearchEventStore
from detection.scheduled import ScheduledSearch, convert_rules, mode_of
from detection.service import load_rules
from tests.services import unique_name

T0 = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
RULES = {
    "whoami.yml": """
title: Whoami run
id: 5f0e1c52-0000-4000-8000-000000000001
logsource: {category: process_creation, product: windows}
detection:
  sel:
    process.name: whoami.exe
  condition: sel
level: medium
""",
    "encoded.yml": """
title: Encoded PowerShell
id: 5f0e1c52-0000-4000-8000-000000000002
logsource: {category: process_creation, product: windows}
detection:
  sel:
    process.name: powershell.exe
    process.command_line|contains: ' -enc '
  filter:
    user.name: backup
  condition: sel and not filter
level: high
""",
}


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name, text in RULES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def setup(es_url: str, clock: FrozenClock) -> Iterator[tuple[ElasticsearchEventStore, Any]]:
    prefix = unique_name("sched-")
    store = ElasticsearchEventStore.open(es_url, prefix=prefix, clock=clock, refresh="wait_for")
    try:
        yield store, ScheduledSearch(store.client, prefix=prefix, max_alerts=100)
    finally:
        store.client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        store.client.indices.delete_index_template(name=f"{prefix}-*")
        store.close()


def proc(i: int, name: str, command: str = "", user: str = "jan") -> dict[str, Any]:
    return new_event(
        timestamp=T0 - timedelta(minutes=30) + timedelta(seconds=i),
        dataset="windows.sysmon",
        original=f"{name} {command}",
        fields={
            "process.name": name,
            "process.command_line": command,
            "user.name": user,
            "host.name": "ws-01",
            "event.category": ["process"],
        },
    )


EVENTS = [
    proc(0, "whoami.exe"),
    proc(1, "powershell.exe", "powershell.exe -nop -enc SQBFAFgA"),
    proc(2, "powershell.exe", "powershell.exe -enc SQBFAFgA", user="backup"),
    proc(3, "notepad.exe"),
    proc(4, "whoami.exe", "whoami /all"),
    proc(5, "powershell.exe", "powershell.exe -File x.ps1"),
]


def test_same_alerts_as_streaming(
    rules_dir: Path, setup: tuple[ElasticsearchEventStore, ScheduledSearch], clock: FrozenClock
) -> None:
    store, search = setup
    ids = store.add_batch(EVENTS)
    streaming = load_rules(paths=[rules_dir], stacks=("none",))
    expected = {(m.rule_id, ids[m.event_index]) for m in streaming.match_batch(EVENTS)}
    rules, failed = convert_rules(paths=[rules_dir], stacks=("none",))
    assert failed == [] and len(rules) == 2
    alerts = search.run(rules, now=T0 + timedelta(minutes=1), first_start=T0 - timedelta(days=1))
    assert {(a.rule_id, a.body["events"][0]) for a in alerts} == expected
    assert len(expected) == 3


def test_no_double_alert_no_gap_and_late_events(
    rules_dir: Path, setup: tuple[ElasticsearchEventStore, ScheduledSearch], clock: FrozenClock
) -> None:
    store, search = setup
    rules, _ = convert_rules(paths=[rules_dir], stacks=("none",))
    start = T0 - timedelta(days=1)
    store.add_batch(EVENTS[:2])
    first = search.run(rules, now=T0 + timedelta(minutes=1), first_start=start)
    assert len(first) == 2
    # Nothing new: the look-back sees the same events again and raises nothing.
    assert search.run(rules, now=T0 + timedelta(minutes=2), first_start=start) == []
    # A late event: ingested (by its writer's clock) before the last run's window end.
    late = FrozenClock(T0 + timedelta(seconds=90))
    store._clock = late
    store.add_batch([EVENTS[4]])
    third = search.run(rules, now=T0 + timedelta(minutes=3), first_start=start)
    assert [a.body["events"] for a in third] and len(third) == 1


def test_cap_per_run_defers_the_rest_without_loss(
    rules_dir: Path, setup: tuple[ElasticsearchEventStore, ScheduledSearch]
) -> None:
    store, search = setup
    search.max_alerts = 2
    rules, _ = convert_rules(paths=[rules_dir], stacks=("none",))
    many = [proc(10 + i, "whoami.exe") for i in range(5)]
    ids = store.add_batch(many)
    seen: list[str] = []
    for minute in range(1, 6):
        run = search.run(rules, now=T0 + timedelta(minutes=minute), first_start=T0 - timedelta(1))
        assert len(run) <= 2
        seen.extend(a.body["events"][0] for a in run)
    assert sorted(seen) == sorted(ids)


def test_mode_per_rule_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        detection_modes={"5f0e1c52-0000-4000-8000-000000000002": "scheduled"},
    )
    assert mode_of(settings, "5f0e1c52-0000-4000-8000-000000000002") == "scheduled"
    assert mode_of(settings, "other") == "streaming"
