"""Breach beat tasks in real `celery beat` and `celery worker` processes.

A breach whose reminder points are already past fires each reminder exactly once, mailed to
the DPO (aiosmtpd on 127.0.0.1), although beat ticks every second and the worker is
restarted in between; a pending playbook hand-off opens exactly one breach.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.clock import FrozenClock, SystemClock
from core.config import load_settings
from core.queue import worker_alive
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from playbooks import service
from playbooks.breach import clocks, register
from playbooks.breach.handoffs import breach_for_incident
from tests.core.test_queue import WORKER_ARGS, _env
from tests.playbooks.breach.mail import smtp_server
from tests.playbooks.breach.test_handoffs import PLAYBOOK, handoff_incident
from tests.processes import BEAT_ARGS, celery, wait_until

pytestmark = pytest.mark.slow


def _config(path: Path, smtp_port: int) -> Path:
    fast = {"breach.fire_reminders": "fast_reminders", "breach.accept_handoffs": "fast_handoffs"}
    lines = [
        f"smtp_port = {smtp_port}",
        "[notify_recipients]",
        f"dpo = {json.dumps(['fg@dijkstad.example'])}",
    ]
    for task, name in fast.items():
        lines += [f"[scheduled_tasks.{name}]", f'task = "{task}"', "every_seconds = 1"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _succeeded(log: Path, task: str) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines() if task in line and "succeeded" in line)


def test_reminders_fire_once_across_beat_ticks_and_a_worker_restart(tmp_path: Path) -> None:
    started = time.monotonic()
    data_dir = tmp_path / "data"
    with smtp_server() as (smtp_port, mailbox):
        config = _config(tmp_path / "dijkwacht.toml", smtp_port)
        settings = load_settings(
            environment="test", data_dir=data_dir, smtp_port=smtp_port,
            notify_recipients={"dpo": ["fg@dijkstad.example"]},
        )  # fmt: skip
        migrate(settings)
        engine = create_db_engine(settings)
        sessions = create_session_factory(engine)
        now = SystemClock().now()
        with unit_of_work(sessions) as db:
            breach = register.open_breach(
                db=db, clock=FrozenClock(now), settings=settings, actor="ali",
                title="Lek met verstreken herinnering", aware_at=now - timedelta(hours=25),
            )  # fmt: skip
            playbook_file = tmp_path / "handoff.yml"
            playbook_file.write_text(PLAYBOOK, encoding="utf-8")
            incident_id = handoff_incident(db, FrozenClock(now), service.load_file(playbook_file))
        env = _env(data_dir, config)
        beat_log = tmp_path / "beat.log"
        first_log, second_log = tmp_path / "worker1.log", tmp_path / "worker2.log"
        # Past points: gdpr_24h, nis2_early_12h and the NIS2 24 h deadline itself.
        expected = 3
        with celery(*BEAT_ARGS, env=env, log=beat_log):
            with celery(*WORKER_ARGS, env=env, log=first_log):
                wait_until(
                    lambda: len(mailbox.messages) >= expected, 30, "reminder mail", first_log
                )
                wait_until(
                    lambda: _succeeded(first_log, "breach.fire_reminders") >= 3,
                    15, "more beat ticks", first_log,
                )  # fmt: skip
            with celery(*WORKER_ARGS, env=env, log=second_log):
                wait_until(lambda: worker_alive(settings), 20, "second worker", second_log)
                wait_until(
                    lambda: _succeeded(second_log, "breach.fire_reminders") >= 3
                    and _succeeded(second_log, "breach.accept_handoffs") >= 2,
                    20, "ticks on the restarted worker", second_log,
                )  # fmt: skip
    assert len(mailbox.messages) == expected, [str(m["Subject"]) for _, m in mailbox.messages]
    assert all(to == ["fg@dijkstad.example"] for to, _ in mailbox.messages)
    with sessions() as db:
        rows = clocks.reminders(db=db, breach_id=breach.id)
        fired = {r.key: r for r in rows if r.fired_at is not None}
        assert set(fired) == {"gdpr_24h", "nis2_early_12h", "nis2_early_overdue"}
        assert all(r.delivery_status == "sent" and r.delivery_attempts == 1 for r in fired.values())
        audited = db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "breach.reminder", AuditEntry.object_id == breach.reference)
        )
        assert audited == expected
        opened = breach_for_incident(db=db, incident_id=incident_id)
        assert opened is not None and service.handoffs_pending(db=db) == []
        assert len(register.list_breaches(db=db)) == 2
    engine.dispose()
    assert time.monotonic() - started < 60
