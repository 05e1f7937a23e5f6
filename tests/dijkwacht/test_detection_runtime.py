"""Detection behind the spool consumer: a spooled event that a rule matches becomes an alert."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from collectors.consumer import SpoolConsumer
from collectors.spool import Spool
from core.config import load_settings
from core.events import new_event
from core.store.base import AlertQuery
from core.store.factory import open_alert_store, open_event_store
from core.store.unit_of_work import is_locked_error
from detection import stream
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


PAIR = """
---
title: Root failing twice
id: 5f0c1f0e-3c1b-4a5e-9a51-0d6c1e2b7a02
status: test
level: high
correlation:
  type: event_count
  rules: [root_failed]
  group-by: [user.name]
  timespan: 30m
  condition: {gte: 2}
"""


def test_a_lock_error_leaves_the_batch_retriable_and_the_windows_uncounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another writer holds the lock past the busy timeout the hook raises an error
    `is_locked_error` recognises, with nothing committed; a batch whose unit failed after its
    correlation fired in memory fires once when offered again (the windows are reloaded)."""
    monkeypatch.setattr("core.store.relational.SQLITE_BUSY_TIMEOUT_MS", 100)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "root.yml").write_text(
        RULE.replace("status: test", "name: root_failed\nstatus: test", 1) + PAIR
    )
    settings = load_settings(
        environment="test", data_dir=tmp_path / "data", detection_rules=[rules]
    )
    hook = DetectionHook(settings=settings)
    first, second = _event("root", "failure"), _event("root", "failure")
    first["event"]["id"], second["event"]["id"] = "0" * 26, "1" * 26
    path = make_url(settings.sqlalchemy_url).database
    assert path
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError) as error:
            hook.process([first])
        assert is_locked_error(error.value)
        holder.execute("ROLLBACK")
        # A failure later in the unit, after the windows took the batch in memory and fired
        # (here: the windows' own save fails once), must lose neither the firing nor count twice.
        real_save = stream.save_engine

        def fail_once(**kwargs: Any) -> int:
            monkeypatch.setattr(stream, "save_engine", real_save)
            raise OperationalError("save windows", {}, sqlite3.OperationalError("disk I/O"))

        monkeypatch.setattr(stream, "save_engine", fail_once)
        with pytest.raises(OperationalError):
            hook.process([first, second])
        # Offered again (the consumer keeps it spooled): the pair fires now, exactly once.
        assert len(hook.process([first, second])) == 1
        assert hook.process([first, second]) == []  # a redelivery raises nothing twice
        alerts = open_alert_store(settings)
        try:
            found = [a.rule_id for a in alerts.search(AlertQuery())]
        finally:
            alerts.close()
        assert found == ["5f0c1f0e-3c1b-4a5e-9a51-0d6c1e2b7a02"]
    finally:
        holder.close()
        hook.close()
