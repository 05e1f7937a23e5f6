"""Scheduled searches on Elasticsearch: same alerts as streaming, no gap, no double, cap, late,
restart, correlations over several writers, and the mode switch between the two paths.

Events carry ECS fields and the rules name them directly (stack "none"), so the streaming
matcher and the Lucene conversion see the same field names. Checkpoints, windows and the alert
outbox are in a real SQLite database; events in a real Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FrozenClock
from core.config import load_settings
from core.errors import ConfigError
from core.events import new_event
from core.store.base import AlertQuery
from core.store.elasticsearch import ElasticsearchEventStore
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from detection.alerts import deliver_outbox, fingerprint
from detection.scheduled import ScheduledSearch, check_modes, mode_of
from detection.scheduled_run import ScheduledPlan, ScheduledReport, plan_scheduled, run_scheduled
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
    "brute.yml": """
title: Failed logon
id: 5f0e1c52-0000-4000-8000-000000000003
name: failed_logon
logsource: {product: linux, service: auth}
detection:
  sel:
    event.action: ssh_login
    event.outcome: failure
  condition: sel
level: low
---
title: SSH brute force
id: 5f0e1c52-0000-4000-8000-000000000004
level: high
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [source.ip]
  timespan: 5m
  condition: {gte: 4}
  generate: false
""",
}
WHOAMI, ENCODED = "5f0e1c52-0000-4000-8000-000000000001", "5f0e1c52-0000-4000-8000-000000000002"
FAILED, BRUTE = "5f0e1c52-0000-4000-8000-000000000003", "5f0e1c52-0000-4000-8000-000000000004"
LOOKBACK = timedelta(minutes=5)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name, text in RULES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


class Harness:
    """A scheduled-search worker: Elasticsearch events, a SQLite relational db, an alert store."""

    def __init__(self, es_url: str, tmp_path: Path, rules_dir: Path) -> None:
        self.prefix = unique_name("sched-")
        self.clock = FrozenClock(T0)
        self.store = ElasticsearchEventStore.open(
            es_url, prefix=self.prefix, clock=self.clock, refresh="wait_for"
        )
        self.settings = load_settings(
            environment="test", data_dir=tmp_path / "data", detection_default_mode="scheduled"
        )
        self.settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        migrate(self.settings)
        self.engine = create_db_engine(self.settings)
        self.sessions = create_session_factory(self.engine)
        self.alerts = open_alert_store(self.settings, clock=self.clock)
        self.rules_dir = rules_dir
        self.plan = self.load()
        self.search = ScheduledSearch(self.store.client, prefix=self.prefix)
        self.max_alerts = 100

    def load(self) -> ScheduledPlan:
        return plan_scheduled(
            paths=[self.rules_dir],
            stacks=("none",),
            mode_of=lambda rule_id: mode_of(self.settings, rule_id),
        )

    def run(self, at: datetime) -> ScheduledReport:
        """One beat run at `at`: one unit of work, then deliver the outbox (as the task does)."""
        self.clock.set(at)
        with unit_of_work(self.sessions) as db:
            report = run_scheduled(
                db=db,
                plan=self.plan,
                search=self.search,
                clock=self.clock,
                lookback=LOOKBACK,
                max_alerts=self.max_alerts,
            )
        with self.sessions() as db:
            deliver_outbox(db=db, alert_store=self.alerts, clock=self.clock)
        return report

    def stored(self) -> list[Any]:
        return self.alerts.search(AlertQuery(limit=500, sort="oldest"))

    def close(self) -> None:
        self.store.client.indices.delete(index=f"{self.prefix}-*", ignore_unavailable=True)
        self.store.client.indices.delete_index_template(name=f"{self.prefix}-*")
        self.store.close()
        self.alerts.close()
        self.engine.dispose()


@pytest.fixture
def harness(es_url: str, tmp_path: Path, rules_dir: Path) -> Iterator[Harness]:
    h = Harness(es_url, tmp_path, rules_dir)
    try:
        yield h
    finally:
        h.close()


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


def ssh_failure(i: int, ip: str = "203.0.113.7") -> dict[str, Any]:
    return new_event(
        timestamp=T0 - timedelta(minutes=2) + timedelta(seconds=i),
        dataset="system.auth",
        original=f"Failed password for root from {ip}",
        fields={
            "event.action": "ssh_login",
            "event.outcome": "failure",
            "source.ip": ip,
            "user.name": "root",
            "host.name": f"vm-{i % 2}",
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


def test_same_alerts_and_fingerprints_as_streaming(harness: Harness, rules_dir: Path) -> None:
    ids = harness.store.add_batch(EVENTS)
    streaming = load_rules(paths=[rules_dir], stacks=("none",))
    expected = {(m.rule_id, ids[m.event_index]) for m in streaming.match_batch(EVENTS)}
    assert len(expected) == 3
    report = harness.run(T0 + timedelta(minutes=1))
    assert report.new == 3 and not harness.plan.failed
    alerts = harness.stored()
    assert {(a.rule_id, a.body["event_ids"][0]) for a in alerts} == expected
    for alert in alerts:  # the streaming path's fingerprint: one event never alerts twice
        assert alert.body["fingerprint"] == fingerprint(
            "match", alert.rule_id, alert.body["event_ids"][0]
        )
        assert alert.body["mode"] == "scheduled" and alert.body["kind"] == "match"


def test_no_double_no_gap_late_events_and_restart(
    harness: Harness, es_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    harness.store.add_batch(EVENTS[:2])
    assert harness.run(T0 + timedelta(minutes=1)).new == 2
    # Nothing new: the look-back sees the same events again and raises nothing.
    again = harness.run(T0 + timedelta(minutes=2))
    assert again.new == 0 and again.hits == 2
    # A late event: ingested (by its writer's clock) before the last run's window end.
    harness.clock.set(T0 + timedelta(seconds=90))
    harness.store.add_batch([EVENTS[4]])
    # A restart: new search object, new sessions; checkpoints come from the database.
    harness.engine.dispose()
    harness.engine = create_db_engine(harness.settings)
    harness.sessions = create_session_factory(harness.engine)
    harness.search = ScheduledSearch(harness.store.client, prefix=harness.prefix)
    harness.plan = harness.load()
    assert harness.run(T0 + timedelta(minutes=3)).new == 1
    assert len(harness.stored()) == 3
    # Much later, nothing is searched twice and nothing is lost.
    harness.store.add_batch([EVENTS[0]])  # ingested at T0+3min (the clock of the last run)
    assert harness.run(T0 + timedelta(minutes=30)).new == 1
    assert len({a.body["fingerprint"] for a in harness.stored()}) == 4


def test_cap_per_run_defers_the_rest_without_loss(harness: Harness) -> None:
    harness.max_alerts = 2
    many = [proc(10 + i, "whoami.exe") for i in range(5)]
    ids = harness.store.add_batch(many)
    for minute in range(1, 6):
        report = harness.run(T0 + timedelta(minutes=minute))
        assert report.new <= 2
    assert sorted(a.body["event_ids"][0] for a in harness.stored()) == sorted(ids)


def test_correlation_over_two_writers_fires_once(harness: Harness) -> None:
    # Two collectors: two stores (two clients, two clocks) write halves of the pattern.
    other = ElasticsearchEventStore.open(
        harness.store.client.transport.node_pool.get().base_url,
        prefix=harness.prefix,
        clock=FrozenClock(T0 + timedelta(seconds=1)),
        refresh="wait_for",
    )
    try:
        harness.store.add_batch([ssh_failure(i) for i in (0, 2)])
        other.add_batch([ssh_failure(i) for i in (1, 3)])
        other.add_batch([ssh_failure(9, ip="198.51.100.1")])  # another source: below threshold
    finally:
        other.close()
    first = harness.run(T0 + timedelta(minutes=1))
    assert first.firings == 1 and first.new == 1
    for minute in (2, 3, 10):  # the look-back sees the same events: the closed window absorbs
        assert harness.run(T0 + timedelta(minutes=minute)).new == 0
    (alert,) = harness.stored()
    assert alert.rule_id == BRUTE and alert.body["kind"] == "correlation"
    assert alert.body["group_by"] == {"source.ip": "203.0.113.7"}
    assert len(alert.body["event_ids"]) == 4


def test_streaming_skips_scheduled_rules_and_says_so(rules_dir: Path, tmp_path: Path) -> None:
    from detection.stream import SCHEDULED_SKIP, load_detector

    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        detection_modes={ENCODED: "scheduled", BRUTE: "scheduled"},
    )
    detector = load_detector(paths=[rules_dir], mode_of=lambda rule_id: mode_of(settings, rule_id))
    assert {s.rule_id for s in detector.ruleset.skipped if s.reason == SCHEDULED_SKIP} == {ENCODED}
    assert detector.correlations == [] and BRUTE in detector.scheduled
    assert FAILED in detector.silenced  # generate: false holds whichever path runs the correlation
    # The failed-logon rule streams (its own mode) but only the scheduled correlation used it.
    matched = {m.rule_id for m in detector.ruleset.match_batch(EVENTS)}
    assert matched == {WHOAMI}
    plan = plan_scheduled(
        paths=[rules_dir], stacks=("none",), mode_of=lambda rule_id: mode_of(settings, rule_id)
    )
    assert plan.alerting == {ENCODED}
    assert {r.rule_id for r in plan.rules} == {ENCODED, FAILED}
    assert [c.rule_id for c in plan.correlations] == [BRUTE]


def test_scheduled_mode_needs_elasticsearch(tmp_path: Path) -> None:
    check_modes(load_settings(environment="test", data_dir=tmp_path))
    for extra in (
        {"detection_default_mode": "scheduled"},
        {"detection_modes": {ENCODED: "scheduled"}},
    ):
        settings = load_settings(environment="test", data_dir=tmp_path, **extra)
        with pytest.raises(ConfigError) as caught:
            check_modes(settings)
        message = str(caught.value)
        assert "detection_default_mode" in message and "detection_modes" in message
        assert "event_store" in message
    assert ENCODED in message
    check_modes(
        load_settings(
            environment="test",
            data_dir=tmp_path,
            event_store="elasticsearch",
            detection_default_mode="scheduled",
        )
    )


def test_beat_runs_the_search_only_with_elasticsearch(tmp_path: Path) -> None:
    from dijkwacht.celery_app import beat_schedule

    plain = beat_schedule(load_settings(environment="test", data_dir=tmp_path))
    assert "detection-scheduled-search" not in plain
    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        event_store="elasticsearch",
        scheduled_search_every_seconds=7,
    )
    entry = beat_schedule(settings)["detection-scheduled-search"]
    assert entry["task"] == "detection.scheduled_search"
    assert entry["schedule"] == timedelta(seconds=7)


def test_mode_per_rule_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        detection_modes={ENCODED: "scheduled"},
    )
    assert mode_of(settings, ENCODED) == "scheduled"
    assert mode_of(settings, "other") == "streaming"


def test_an_event_streaming_alerted_does_not_alert_again_when_scheduled(
    harness: Harness, rules_dir: Path
) -> None:
    from detection.correlation_store import load_engine
    from detection.stream import load_detector, run_batch

    ids = harness.store.add_batch(EVENTS)
    detector = load_detector(paths=[rules_dir])  # every rule streaming, as before a mode switch
    with harness.sessions() as db:
        state = load_engine(db=db, specs=detector.correlations)
    streamed = run_batch(
        events_with_ids=list(zip(ids, EVENTS, strict=True)),
        detector=detector,
        alert_store=harness.alerts,
        correlation_state=state,
        sessions=harness.sessions,
        clock=harness.clock,
    )
    assert len(streamed.alert_ids) == 3
    report = harness.run(T0 + timedelta(minutes=1))  # now the same rules run scheduled
    assert report.hits >= 3 and report.new == 0
    assert len(harness.stored()) == 3


def test_collector_hook_refuses_scheduled_mode_on_sqlite(tmp_path: Path) -> None:
    from dijkwacht.detection_runtime import DetectionHook

    settings = load_settings(
        environment="test", data_dir=tmp_path, detection_modes={BRUTE: "scheduled"}
    )
    with pytest.raises(ConfigError, match="detection_modes"):
        DetectionHook(settings=settings)


@pytest.mark.parametrize("command", [["collect"], ["up"]])
def test_commands_refuse_scheduled_mode_on_sqlite_with_a_clear_message(
    tmp_path: Path, command: list[str]
) -> None:
    import subprocess
    import sys

    from tests.processes import REPO_ROOT, child_env

    env = child_env(data_dir=tmp_path, environment="test", detection_default_mode="scheduled")
    done = subprocess.run(
        [sys.executable, "-m", "dijkwacht", *command],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert 'detection_default_mode is "scheduled"' in message
    assert 'set event_store = "elasticsearch"' in message
    assert "Traceback" not in done.stderr


SPRAY = """
title: Failed logon
id: 5f0e1c52-0000-4000-8000-000000000005
name: failed
logsource: {product: linux, service: auth}
detection:
  sel:
    event.action: ssh_login
    event.outcome: failure
  condition: sel
level: low
---
title: Password spraying
id: 5f0e1c52-0000-4000-8000-000000000006
level: high
correlation:
  type: value_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3, field: user.name}
"""


def test_value_count_correlation_in_scheduled_mode(es_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "spray"
    folder.mkdir()
    (folder / "spray.yml").write_text(SPRAY, encoding="utf-8")
    h = Harness(es_url, tmp_path, folder)
    try:
        users = ["anna", "bert", "anna", "carla"]  # three distinct users from one address
        events = [ssh_failure(i) for i in range(4)]
        for event, user in zip(events, users, strict=True):
            event["user"]["name"] = user
        h.store.add_batch(events[:2])
        assert h.run(T0 + timedelta(minutes=1)).firings == 0  # two users so far
        h.store.add_batch(events[2:])
        report = h.run(T0 + timedelta(minutes=2))
        assert report.firings == 1
        assert h.run(T0 + timedelta(minutes=3)).firings == 0
        spray = [a for a in h.stored() if a.rule_id == "5f0e1c52-0000-4000-8000-000000000006"]
        assert len(spray) == 1 and spray[0].body["correlation"]["value"] == 3
    finally:
        h.close()
