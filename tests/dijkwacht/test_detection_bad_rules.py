"""Collector-side detection with bad rule files: start-up keeps running, reload keeps last good."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import load_settings
from core.events import Event, new_event
from dijkwacht.detection_runtime import DetectionHook

RULE = """title: Failed SSH login for root
id: 5f0c1f0e-3c1b-4a5e-9a51-0d6c1e2b7a01
status: test
level: medium
logsource: {product: linux, service: auth}
detection:
    selection: {event.action: ssh_login, event.outcome: failure, user.name: root}
    condition: selection
"""

BROKEN_ID = RULE.replace("id: 5f0c1f0e-3c1b-4a5e-9a51-0d6c1e2b7a01", "id: 1")
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)
)


def _event(number: int) -> Event:
    event = new_event(
        timestamp=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
        dataset="system.auth",
        original="sshd: failure for root",
        fields={"event.action": "ssh_login", "event.outcome": "failure", "user.name": "root"},
    )
    event["event"]["id"] = str(number) * 26
    return event


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    stamp = time.time() + 10 + path.stat().st_mtime % 100  # a new mtime even within one tick
    os.utime(path, (stamp, stamp))


def test_bad_files_do_not_stop_detection_and_reload_keeps_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "root.yml").write_text(RULE, encoding="utf-8")
    (rules / "broken.yml").write_text(BROKEN_ID, encoding="utf-8")
    settings = load_settings(
        environment="test", data_dir=tmp_path / "data", detection_rules=[rules]
    )
    caplog.set_level(logging.WARNING, logger="dijkwacht.detection_runtime")
    hook = DetectionHook(settings=settings, reload_check_seconds=0)
    try:
        assert any("broken.yml:2: id: must be text" in m for m in caplog.messages), caplog.messages
        events = [_event(number) for number in range(3)]
        assert len(hook.process([events[0]])) == 1

        _write(rules / "root.yml", LAUGHS)  # the running file turns hostile
        caplog.clear()
        assert len(hook.process([events[1]])) == 1  # its last good version still matches
        assert any("root.yml" in m and "alias expansion" in m for m in caplog.messages)
        assert any("last good version" in m for m in caplog.messages)

        _write(rules / "root.yml", RULE.replace("user.name: root", "user.name: alice"))
        assert hook.process([events[2]]) == []  # the fixed file replaced the old version
    finally:
        hook.close()
