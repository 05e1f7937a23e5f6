"""Alerts from matches and correlations: context, dedup, exceptions, maintenance, redelivery."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from core.store.base import AlertQuery
from core.store.relational import (
    SQLITE_WRITE_LOCK,
    create_db_engine,
    create_session_factory,
    migrate,
)
from core.store.sqlite_alerts import SqliteAlertStore
from detection.alerts import AttackResolver, add_exception, add_maintenance_window
from detection.attack import get_attack_catalog
from detection.attack_data import build_attack_bundle
from detection.correlation_store import load_engine
from detection.stream import BatchReport, Detector, load_detector, run_batch

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
WHOAMI = "00000000-0000-0000-0000-00000000000a"
FAILED = "00000000-0000-0000-0000-000000000001"
BRUTE = "00000000-0000-0000-0000-0000000000c1"

RULES = f"""
title: Whoami run
id: {WHOAMI}
status: test
level: high
tags: [attack.discovery, attack.t1033]
dijkwacht.personal_data: true
dijkwacht.dedup: {{fields: [host.name, user.name], minutes: 10}}
logsource: {{product: windows, category: process_creation}}
detection:
  sel_image:
    process.executable|endswith: '\\whoami.exe'
  condition: sel_image
---
title: Failed logon
id: {FAILED}
name: failed_logon
status: test
level: low
logsource: {{product: windows, service: security}}
detection:
  sel: {{event.code: '4625'}}
  condition: sel
---
title: Brute force
id: {BRUTE}
status: test
level: high
tags: [attack.credential-access, attack.t1110]
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [user.name]
  timespan: 5m
  condition: {{gte: 3}}
"""


def event(minute: float, n: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "@timestamp": (T0 + timedelta(minutes=minute)).isoformat(),
        "event": {"kind": "event", "dataset": "test", "original": "x", "id": f"ev{n}"},
        "host": {"name": "ws-01"},
        "user": {"name": "jan"},
    }
    for path, value in fields.items():
        node = base
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return base


def whoami(minute: float, n: int, **fields: Any) -> dict[str, Any]:
    return event(minute, n, **{"process.executable": r"C:\Windows\whoami.exe", **fields})


def failed(minute: float, n: int, **fields: Any) -> dict[str, Any]:
    return event(minute, n, **{"event.code": "4625", **fields})


@pytest.fixture(scope="session")
def attack() -> AttackResolver:
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="attack"))
    build_attack_bundle(output_dir=directory)
    return AttackResolver(lambda: get_attack_catalog(attack_dir=directory))


class Harness:
    """One detection process: rules, windows, stores; `restart()` builds a new one."""

    def __init__(self, tmp_path: Path, settings: Settings, attack: AttackResolver) -> None:
        folder = tmp_path / "rules"
        folder.mkdir(exist_ok=True)
        (folder / "rules.yml").write_text(textwrap.dedent(RULES), encoding="utf-8")
        self.clock = FrozenClock(T0 + timedelta(hours=1))
        self.detector: Detector = load_detector(paths=[folder])
        assert not self.detector.problems and not self.detector.ruleset.problems
        migrate(settings)
        self.engine = create_db_engine(settings)
        self.sessions: sessionmaker[Session] = create_session_factory(self.engine)
        self.alerts = SqliteAlertStore(settings.alert_db_path, clock=self.clock)
        self.attack = attack

    def run(self, events: list[dict[str, Any]]) -> BatchReport:
        with self.sessions() as db:
            state = load_engine(db=db, specs=self.detector.correlations)
        return run_batch(
            events_with_ids=[(e["event"]["id"], e) for e in events],
            detector=self.detector,
            alert_store=self.alerts,
            correlation_state=state,
            sessions=self.sessions,
            clock=self.clock,
            attack=self.attack,
        )

    def all_alerts(self) -> list[Any]:
        return self.alerts.search(AlertQuery(limit=100, sort="oldest"))


@pytest.fixture
def harness(tmp_path: Path, settings: Settings, attack: AttackResolver) -> Iterator[Harness]:
    made = Harness(tmp_path, settings, attack)
    yield made
    made.alerts.close()
    made.engine.dispose()


def test_match_alert_carries_context(harness: Harness) -> None:
    report = harness.run([whoami(0, 1, **{"dijkwacht.exercise.id": "drill-3"})])
    assert len(report.alert_ids) == 1
    alert = harness.alerts.get(report.alert_ids[0])
    assert (alert.rule_id, alert.level, alert.host_name, alert.user_name) == (
        WHOAMI,
        "high",
        "ws-01",
        "jan",
    )
    assert alert.exercise_id == "drill-3"
    body = alert.body
    assert body["event_ids"] == ["ev1"] and body["selections"] == ["sel_image"]
    assert body["dijkwacht.personal_data"] is True
    assert {"shortname": "discovery", "name": "Discovery"} in body["attack"]["tactics"]
    assert body["attack"]["techniques"] == [{"id": "T1033", "name": "System Owner/User Discovery"}]


def test_dedup_folds_repeats_into_one_alert_with_a_count(harness: Harness) -> None:
    first = harness.run([whoami(0, 1), whoami(1, 2)])
    second = harness.run([whoami(2, 3), whoami(3, 4, **{"host.name": "ws-02"})])
    assert len(first.alert_ids) == 1 and len(second.alert_ids) == 1  # ws-02 is another key
    alerts = harness.all_alerts()
    assert [a.host_name for a in alerts] == ["ws-01", "ws-02"]
    assert alerts[0].body["count"] == 3
    # Outside the window: a new alert.
    third = harness.run([whoami(30, 5)])
    assert len(third.alert_ids) == 1


def test_redelivered_batch_raises_nothing_twice(harness: Harness) -> None:
    batch = [whoami(0, 1), failed(0, 2), failed(1, 3), failed(2, 4)]
    first = harness.run(batch)
    assert len(first.alert_ids) == 2  # whoami + brute force (failed logons are silenced)
    again = harness.run(batch)
    assert again.alert_ids == [] and len(harness.all_alerts()) == 2


def test_correlation_alert_and_silenced_base_rule(harness: Harness) -> None:
    report = harness.run([failed(0, 1), failed(1, 2)])
    assert report.alert_ids == []  # generate: false — the base rule raises nothing itself
    report = harness.run([failed(2, 3)])
    (alert,) = [harness.alerts.get(i) for i in report.alert_ids]
    assert alert.rule_id == BRUTE and alert.user_name == "jan"
    assert alert.body["group_by"] == {"user.name": "jan"}
    assert alert.body["event_ids"] == ["ev1", "ev2", "ev3"]
    assert alert.body["correlation"]["value"] == 3
    assert {"shortname": "credential-access", "name": "Credential Access"} in alert.body["attack"][
        "tactics"
    ]


def test_exception_applies_until_it_expires(harness: Harness) -> None:
    with harness.sessions() as db:
        add_exception(
            db=db,
            clock=harness.clock,
            actor="analyst",
            rule_id=WHOAMI,
            conditions={"user.name": "jan"},
            reason="helpdesk script runs whoami",
            expires_at=harness.clock.now() + timedelta(days=1),
        )
        db.commit()
    report = harness.run([whoami(0, 1), whoami(0, 2, **{"user.name": "piet"})])
    assert report.excepted == 1 and len(report.alert_ids) == 1
    harness.clock.advance(timedelta(days=2))
    later = harness.run([whoami(60, 3)])
    assert later.excepted == 0 and len(later.alert_ids) == 1


def test_exception_needs_reason_and_future_expiry(harness: Harness) -> None:
    with harness.sessions() as db:
        with pytest.raises(ValidationError, match="reason"):
            add_exception(
                db=db,
                clock=harness.clock,
                actor="a",
                rule_id=WHOAMI,
                conditions={"user.name": "jan"},
                reason=" ",
                expires_at=harness.clock.now() + timedelta(days=1),
            )
        with pytest.raises(ValidationError, match="expires_at"):
            add_exception(
                db=db,
                clock=harness.clock,
                actor="a",
                rule_id=WHOAMI,
                conditions={"user.name": "jan"},
                reason="r",
                expires_at=harness.clock.now() - timedelta(days=1),
            )


def test_maintenance_window_suppresses_and_counts(harness: Harness) -> None:
    with harness.sessions() as db:
        window = add_maintenance_window(
            db=db,
            clock=harness.clock,
            actor="ops",
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
            reason="patching ws-01",
            host_name="WS-01",
        )
        db.commit()
        window_id = window.id
    report = harness.run([whoami(5, 1), whoami(6, 2, **{"host.name": "ws-02"}), whoami(90, 3)])
    assert report.maintenance == 1 and len(report.alert_ids) == 2
    from detection.models import MaintenanceWindow

    with harness.sessions() as db:
        stored = db.get(MaintenanceWindow, window_id)
        assert stored is not None and stored.suppressed == 1


def test_a_batch_is_matched_before_its_write_unit_takes_the_lock(harness: Harness) -> None:
    """Matching is CPU work on the batch alone; under the write lock it made logins wait."""
    from sqlalchemy import event as sa_event

    holding: list[bool] = []
    in_unit = [False]

    def begin(connection: Any) -> None:
        in_unit[0] = connection.get_execution_options().get(SQLITE_WRITE_LOCK, False)

    def end(_connection: Any) -> None:
        in_unit[0] = False

    ruleset = harness.detector.ruleset
    match_batch = ruleset.match_batch

    def watched(events: Any, **kw: Any) -> Any:
        holding.append(in_unit[0])
        return match_batch(events, **kw)

    ruleset.match_batch = watched  # type: ignore[method-assign]
    sa_event.listen(harness.engine, "begin", begin)
    sa_event.listen(harness.engine, "commit", end)
    sa_event.listen(harness.engine, "rollback", end)
    try:
        report = harness.run([whoami(0, 1)])
    finally:
        sa_event.remove(harness.engine, "begin", begin)
        sa_event.remove(harness.engine, "commit", end)
        sa_event.remove(harness.engine, "rollback", end)
    assert holding == [False]
    assert report.matches == 1 and len(report.alert_ids) == 1
