"""A technical drill end to end on real processes: collector, Celery worker and beat.

Beat ticks `drills.tick` and `playbooks.route_alerts` every second; the worker runs them (and
the playbook's own tasks and `drills.report`); `dijkwacht collect` drains the spool into the
event store and runs detection. Injected events → rule fires → incident → playbook step →
exercise breach → automatic checks → scored report. The breach is opened by whoever gets there
first: an automatic hand-off pickup if one is installed, else the DPO (played by the test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.clock import SystemClock
from core.config import load_settings
from core.queue import create_celery, worker_heartbeats
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.commands.up import prepare
from drills import service
from drills.rollback import exercise_artefacts
from playbooks.breach.register import open_from_incident
from tests.drills.processes import (
    celery_processes,
    process_env,
    smtp_receiver,
    write_config,
)
from tests.drills.test_technical_drill import RULE
from tests.processes import child, free_port, wait_until

MAILBOX = "oefening@gemeente.test"


@pytest.mark.slow
def test_technical_drill_on_a_real_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "drill.yml").write_text(RULE, encoding="utf-8")
    logs = tmp_path / "logs"
    logs.mkdir()
    clock = SystemClock()
    with smtp_receiver() as (smtp_port, mailbox):
        config = write_config(
            tmp_path / "dijkwacht.toml",
            {
                "detection_rules": [rules],
                "smtp_port": smtp_port,
                "syslog_port": free_port(),
                "notify_recipients": {"exercise": [MAILBOX], "dpo": ["fg-echt@gemeente.test"]},
                "scheduled_tasks": {
                    "drills_tick": {"task": "drills.tick", "every_seconds": 1},
                    "route_alerts": {"task": "playbooks.route_alerts", "every_seconds": 1},
                },
            },
        )
        env = process_env(tmp_path / "data", config)
        for key, value in env.items():
            if key.startswith("DIJKWACHT_"):
                monkeypatch.setenv(key, value)
        settings = load_settings()
        prepare(settings)
        migrate(settings)
        engine = create_db_engine(settings)
        sessions = create_session_factory(engine)
        try:
            with (
                child(["-m", "dijkwacht", "collect"], env=env, log=logs / "collect.log"),
                celery_processes(
                    env=env, logs=logs, workers_alive=lambda: len(worker_heartbeats(settings))
                ),
            ):
                with unit_of_work(sessions) as db:
                    service.create_schedule(
                        db=db,
                        clock=clock,
                        scenario_id="insider-datalek",
                        mode="technical",
                        first_at=clock.now(),
                        controller="oefenleider",
                        participants=[{"role": "fg", "name": "FG", "email": MAILBOX}],
                        time_scale=20.0,  # 15 scenario minutes to detect = 45 s
                    )

                def artefacts() -> dict[str, list[dict[str, Any]]]:
                    with sessions() as db:
                        running = service.list_exercises(db=db, status="running")
                        if not running:
                            return {}
                        return {"id": [{"id": running[0].id}]} | exercise_artefacts(
                            db=db, exercise_id=running[0].id
                        )

                found = wait_until(
                    lambda: (a := artefacts()) and a.get("incidents") and a,
                    timeout=40,
                    what="an exercise incident from the injected events",
                    logs=logs,
                )
                exercise_id = str(found["id"][0]["id"])
                incident_id = str(found["incidents"][0]["id"])
                wait_until(
                    lambda: any(s["step"] == "secure-logs" for s in artefacts()["steps"]),
                    timeout=20,
                    what="the playbook step secure-logs",
                    logs=logs,
                )
                try:
                    wait_until(
                        lambda: artefacts()["breaches"], timeout=3, what="automatic", logs=logs
                    )
                except pytest.fail.Exception:
                    with unit_of_work(sessions) as db:  # no automatic pickup: the DPO opens it
                        open_from_incident(
                            db=db,
                            clock=clock,
                            settings=settings,
                            actor="fg",
                            incident_id=incident_id,
                            summary="Oefening: mogelijk datalek door onrechtmatige inzage",
                            exercise_id=exercise_id,
                        )

                def marks() -> dict[str, str]:
                    with sessions() as db:
                        rows = service.expectations(db=db, exercise_id=exercise_id)
                        return {row.expectation_id: row.status for row in rows}

                wait_until(
                    lambda: all(marks()[k] != "pending" for k in ("E1", "E2", "E3", "E4")),
                    timeout=30,
                    what="automatic checks of E1-E4",
                    logs=logs,
                )
                assert {k: marks()[k] for k in ("E1", "E2", "E3", "E4")} == dict.fromkeys(
                    ("E1", "E2", "E3", "E4"), "met"
                )
                with unit_of_work(sessions) as db:
                    service.stop(db=db, clock=clock, exercise_id=exercise_id, actor="oefenleider")
                report_id = (
                    create_celery(settings)
                    .send_task("drills.report", args=[exercise_id, "oefenleider"])
                    .get(timeout=60)
                )
                with sessions() as db:
                    report = service.latest_report(db=db, exercise_id=exercise_id)
                    assert report.id == report_id and report.pdf.startswith(b"%PDF")
                    scored = {c["id"]: c for c in report.summary["criteria"]}
                    assert scored["detect"]["passed"] and report.summary["criteria_intact"]
                    with_breach = exercise_artefacts(db=db, exercise_id=exercise_id)["breaches"]
                    assert with_breach and with_breach[0]["reference"].startswith("OEF-")
                assert all(recipients == [MAILBOX] for recipients, _ in mailbox.messages)
        finally:
            engine.dispose()
