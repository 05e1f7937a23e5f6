"""End to end with real Celery worker processes: alert → incident → playbook → Ansible → notify.

Also the failure paths: an action that keeps failing becomes a manual task with the error, and
a worker killed (SIGKILL) in the middle of an Ansible play resumes after a restart without
running any action twice.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.config import Settings, load_settings
from core.queue import create_celery, worker_alive
from core.store.base import NewAlert
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory, migrate
from playbooks.actions import target_paths
from playbooks.models import ActionExecution, RunStep
from playbooks.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from playbooks.service import deliveries_of, list_incidents, runs_of, steps_of, timeline
from tests.playbooks.breach.mail import Mailbox, smtp_server
from tests.processes import celery, child_env, wait_until, worker_args

WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"
WORKER_ARGS = worker_args("pb@%h")

pytestmark = pytest.mark.slow


@contextmanager
def _webhook_receiver() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify_signature(
                WEBHOOK_SECRET,
                self.headers[TIMESTAMP_HEADER],
                body,
                self.headers[SIGNATURE_HEADER],
                now=time.time(),
            )
            received.append({"verified": ok, "payload": json.loads(body)})
            self.send_response(204 if ok else 401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def _config(data_dir: Path, smtp_port: int, hook_port: int) -> dict[str, Any]:
    return {
        "environment": "test",
        "data_dir": data_dir,
        "broker_polling_interval": 0.05,
        "smtp_port": smtp_port,
        "notify_recipients": {"soc": ["soc@gemeente.test"], "dpo": ["fg@gemeente.test"]},
        "webhooks": {
            "soc": {"url": f"http://127.0.0.1:{hook_port}/hook", "secret": WEBHOOK_SECRET}
        },
        "action_max_retries": 2,
        "action_retry_backoff_seconds": 0.2,
        "notify_max_retries": 1,
    }


def _worker(env: dict[str, str], log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    # Appends: a restarted worker writes to the same log.
    return celery(*WORKER_ARGS, env=env, log=log, append=True)


def _add_alert(settings: Settings, **fields: Any) -> str:
    store = open_alert_store(settings)
    try:
        return store.add_batch([NewAlert(created_at=datetime.now(UTC), **fields)])[0]
    finally:
        store.close()


def _query(settings: Settings, fn: Callable[[Any], Any]) -> Any:
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            return fn(db)
    finally:
        engine.dispose()


def _step_status(settings: Settings, step_id: str) -> str | None:
    return _query(
        settings, lambda db: db.scalar(select(RunStep.status).where(RunStep.step_id == step_id))
    )


def _four_eyes(settings: Settings, step_id: str, log: Path) -> None:
    """An analyst requests the waiting action, an incident manager approves it (as the page)."""
    from core.accounts import Role, User, create_user
    from core.clock import SystemClock
    from core.store.unit_of_work import unit_of_work
    from playbooks.service import approve_action, request_action

    wait_until(
        lambda: _step_status(settings, step_id) == "awaiting_approval", 60, f"{step_id} waits", log
    )
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            people = {}
            for name, role in (("ana", Role.ANALYST), ("ivo", Role.INCIDENT_MANAGER)):
                people[name] = db.scalar(select(User).where(User.username == name)) or create_user(
                    db=db,
                    username=name,
                    password="correct horse battery",
                    role=role,
                    clock=SystemClock(),
                )
            step = db.scalar(select(RunStep).where(RunStep.step_id == step_id))
            assert step is not None
            request_action(db=db, clock=SystemClock(), run_step_id=step.id, user=people["ana"])
            _, work = approve_action(
                db=db, clock=SystemClock(), run_step_id=step.id, user=people["ivo"]
            )
    finally:
        engine.dispose()
    celery_app = create_celery(settings)
    for name, args in work:
        celery_app.send_task(name, args)


@dataclass
class Env:
    settings: Settings
    env: dict[str, str]
    mailbox: Mailbox
    hooks: list[dict[str, Any]]


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[Env]:
    with smtp_server() as (smtp_port, mailbox), _webhook_receiver() as (hook_port, hooks):
        config = _config(tmp_path / "data", smtp_port, hook_port)
        settings = load_settings(**config)
        migrate(settings)
        yield Env(settings, child_env(**config), mailbox, hooks)


def test_alert_to_blocked_ip_email_and_signed_webhook(environment: Env, tmp_path: Path) -> None:
    settings, env = environment.settings, environment.env
    mailbox, hooks = environment.mailbox, environment.hooks
    _add_alert(
        settings,
        rule_id="dijkwacht-portal-bruteforce",
        rule_title="Brute force on the portal",
        level="high",
        host_name="portal-01",
        body={"source.ip": "203.0.113.50", "tags": ["attack.credential_access", "attack.t1110"]},
    )
    rules = Path(target_paths(settings, 1)["firewall_rules_file"])
    log = tmp_path / "worker.log"
    with _worker(env, log):
        wait_until(lambda: worker_alive(settings), 30, "the worker", log)
        create_celery(settings).send_task("playbooks.route_alerts")
        _four_eyes(settings, "block-source", log)
        wait_until(lambda: rules.exists(), 40, "the firewall rules file", log)
        wait_until(lambda: len(mailbox.messages) >= 1 and len(hooks) >= 1, 30, "notifications", log)
        wait_until(lambda: _step_status(settings, "check-accounts") == "open", 20, "next step", log)

    assert rules.read_text().splitlines() == ["deny from 203.0.113.50"]
    _, mail = mailbox.messages[0]
    assert mail["To"] == "soc@gemeente.test" and "portal-01" in mail["Subject"]
    assert hooks[0]["verified"] is True
    assert hooks[0]["payload"]["observables"] == ["portal-01", "203.0.113.50"]

    def check(db: Any) -> None:
        (incident,) = list_incidents(db=db)
        assert incident.playbook_id == "brute-force-portal" and incident.severity == "high"
        (run,) = runs_of(db=db, incident_id=incident.id)
        assert [s.status for s in steps_of(db=db, run_id=run.id)][:3] == ["done", "done", "open"]
        assert {d.status for d in deliveries_of(db=db, incident_id=incident.id)} == {"sent"}
        actions = [entry.action for entry in timeline(db=db, incident_id=incident.id)]
        assert actions.count("notification.sent") == 2
        assert "action.started" in actions and "step.done" in actions

    _query(settings, check)


def test_failing_action_retries_then_becomes_a_manual_task(
    environment: Env, tmp_path: Path
) -> None:
    settings, env = environment.settings, environment.env
    directory = Path(target_paths(settings, 1)["directory_file"])
    directory.parent.mkdir(parents=True)
    directory.write_text(json.dumps({"accounts": {"someone.else": {"enabled": True}}}))
    _add_alert(
        settings,
        rule_id="dijkwacht-device-lost",
        rule_title="Device reported lost",
        level="medium",
        host_name="laptop-17",
        user_name="j.jansen",
        body={"personal_data": True, "tags": ["dijkwacht.device.lost"]},
    )
    log = tmp_path / "worker.log"
    with _worker(env, log):
        wait_until(lambda: worker_alive(settings), 30, "the worker", log)
        create_celery(settings).send_task("playbooks.route_alerts")
        _four_eyes(settings, "disable-account", log)
        wait_until(
            lambda: _step_status(settings, "disable-account") == "manual", 60, "give-up", log
        )

    def check(db: Any) -> None:
        step = db.scalar(select(RunStep).where(RunStep.step_id == "disable-account"))
        assert "account j.jansen not found" in (step.error or "")
        execution = db.scalar(select(ActionExecution))
        assert execution.attempts == 3 and execution.status == "failed"  # 1 + 2 retries
        actions = [e.action for e in timeline(db=db, incident_id=1)]
        assert actions.count("action.failed") == 3 and "step.manual" in actions

    _query(settings, check)
    assert json.loads(directory.read_text())["accounts"]["someone.else"]["enabled"] is True


def test_worker_killed_mid_play_resumes_without_running_an_action_twice(
    environment: Env, tmp_path: Path
) -> None:
    settings, env = environment.settings, environment.env
    source = Path(target_paths(settings, 1)["triage_source_dir"]) / "ws-042"
    source.mkdir(parents=True)
    (source / "processes.txt").write_text("lockbit.exe 4242\n")
    _add_alert(
        settings,
        rule_id="dijkwacht-ransom-note",
        rule_title="Ransom note written",
        level="critical",
        host_name="ws-042",
        body={"tags": ["attack.impact", "attack.t1486"]},
    )
    log = tmp_path / "worker.log"
    with _worker(env, log) as first:
        wait_until(lambda: worker_alive(settings), 30, "the worker", log)
        create_celery(settings).send_task("playbooks.route_alerts")
        _four_eyes(settings, "isolate", log)
        _four_eyes(settings, "triage", log)
        wait_until(lambda: _step_status(settings, "triage") == "running", 60, "triage play", log)
        first.send_signal(signal.SIGKILL)
        first.wait()
    with _worker(env, log):
        wait_until(lambda: worker_alive(settings), 30, "the restarted worker", log)
        create_celery(settings).send_task("playbooks.resume_runs")  # what beat does each minute
        wait_until(lambda: _step_status(settings, "scope") == "open", 60, "the run resumed", log)

    journal = Path(target_paths(settings, 1)["journal_file"]).read_text().splitlines()
    assert sum("isolate_host ws-042" in line for line in journal) == 1
    assert sum("collect_triage ws-042" in line for line in journal) == 1
    evidence = Path(target_paths(settings, 1)["evidence_dir"]) / "ws-042" / "processes.txt"
    assert evidence.read_text() == "lockbit.exe 4242\n"

    def check(db: Any) -> None:
        executions = {e.action: e for e in db.scalars(select(ActionExecution))}
        assert executions["isolate_host"].attempts == 1  # finished before the kill: not re-run
        assert executions["collect_triage"].attempts == 2  # interrupted, then resumed once
        assert all(e.status == "succeeded" for e in executions.values())
        entries = [e for e in timeline(db=db, incident_id=1) if e.action == "action.started"]
        assert [e.details["resumed_after_interruption"] for e in entries] == [False, False, True]

    _query(settings, check)
