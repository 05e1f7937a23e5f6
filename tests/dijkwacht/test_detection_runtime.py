"""Detection behind the spool consumer: a spooled event that a rule matches becomes an alert."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collectors.consumer import SpoolConsumer
from collectors.spool import Spool
from core.config import load_settings
from core.events import new_event
from core.store.base import AlertQuery
from core.store.factory import open_alert_store, open_event_store
from dijkwacht.detection_runtime import DetectionHook

RULE = """
title: Failed SSH login for root
id: 5f0c1f0e-3c1b-4a5e-9a51-0d6c1e2b7a01
status: test
level: medium
logsource:
    product: linux
    service: auth
detection:
    selection:
        event.action: ssh_login
        event.outcome: failure
        user.name: root
    condition: selection
"""


def _event(user: str, outcome: str):
    return new_event(
        timestamp=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
        dataset="system.auth",
        original=f"sshd: {outcome} for {user}",
        fields={"event.action": "ssh_login", "event.outcome": outcome, "user.name": user},
    )


def test_spooled_batch_flows_through_store_into_alerts(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "root.yml").write_text(RULE)
    settings = load_settings(
        environment="test", data_dir=tmp_path / "data", detection_rules=[rules]
    )
    hook = DetectionHook(settings=settings)
    spool = Spool(tmp_path / "spool.sqlite")
    store = open_event_store(settings)
    try:
        spool.append(
            [_event("root", "failure"), _event("alice", "failure"), _event("root", "success")],
            source="test",
        )
        consumer = SpoolConsumer(spool=spool, store=store, batch_size=100, on_batch=hook)
        consumer.drain()
        with open_alert_store(settings) as alerts:
            found = alerts.search(AlertQuery())
        assert [a.rule_id for a in found] == ["5f0c1f0e-3c1b-4a5e-9a51-0d6c1e2b7a01"]
        assert spool.pending() == 0
    finally:
        hook.close()
        store.close()
        spool.close()


def test_changed_rule_file_is_picked_up_without_restart(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "root.yml").write_text(RULE)
    settings = load_settings(
        environment="test", data_dir=tmp_path / "data", detection_rules=[rules]
    )
    hook = DetectionHook(settings=settings, reload_check_seconds=0)
    try:
        first = _event("alice", "failure")
        first["event"]["id"] = "0" * 26
        assert hook.process([first]) == []
        (rules / "root.yml").write_text(RULE.replace("user.name: root", "user.name: alice"))
        second = _event("alice", "failure")
        second["event"]["id"] = "1" * 26
        assert len(hook.process([second])) == 1
    finally:
        hook.close()
