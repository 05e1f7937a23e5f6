"""A recurring drill started by a real beat process, and the one-run-at-a-time lock.

Beat runs `drills.tick` every second (a `scheduled_tasks` entry in a TOML file passed with
DIJKWACHT_CONFIG); two real workers run it. The schedule repeats every few seconds while its
tabletop exercise plays on for minutes, so the next period finds the series still running and
is skipped; after the controller stops the exercise the following period starts a new one.
Invitations and reminders reach a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.clock import SystemClock
from core.config import Settings, load_settings
from core.queue import create_celery, worker_heartbeats
from core.store.relational import (
    create_db_engine,
    create_session_factory,
    migrate,
)
from core.store.unit_of_work import unit_of_work
from drills import control, service
from drills.models import DrillSchedule, Exercise
from tests.drills.processes import (
    celery_processes,
    process_env,
    smtp_receiver,
    write_config,
)
from tests.processes import wait_until

MAILBOX = "oefening@gemeente.test"
PERIOD = 3.0
TICK_DONE = re.compile(r"drills\.tick\[\S+\] succeeded")


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_port: int) -> Settings:
    config = write_config(
        tmp_path / "dijkwacht.toml",
        {
            "smtp_port": smtp_port,
            "notify_recipients": {"exercise": [MAILBOX]},
            "scheduled_tasks": {"drills_tick": {"task": "drills.tick", "every_seconds": 1}},
        },
    )
    env = process_env(tmp_path / "data", config)
    for key, value in env.items():
        if key.startswith("DIJKWACHT_"):
            monkeypatch.setenv(key, value)
    return load_settings()


@pytest.mark.slow
def test_beat_starts_a_recurring_drill_on_time_and_never_twice_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    clock = SystemClock()
    with smtp_receiver() as (smtp_port, mailbox):
        settings = _settings(tmp_path, monkeypatch, smtp_port)
        migrate(settings)
        env = process_env(settings.resolved_data_dir, tmp_path / "dijkwacht.toml")
        engine = create_db_engine(settings)
        sessions = create_session_factory(engine)
        try:
            with celery_processes(
                env=env,
                logs=logs,
                workers=2,
                workers_alive=lambda: len(worker_heartbeats(settings)),
            ) as procs:
                wait_until(
                    lambda: any(
                        TICK_DONE.search(path.read_text(errors="replace"))
                        for path in logs.glob("worker*.log")
                    ),
                    timeout=30,
                    what="beat's first drills.tick in a worker",
                    logs=logs,
                )
                with unit_of_work(sessions) as db:
                    schedule = service.create_schedule(
                        db=db,
                        clock=clock,
                        scenario_id="insider-datalek",
                        mode="tabletop",
                        first_at=clock.now() + timedelta(seconds=PERIOD),
                        every=timedelta(seconds=PERIOD),
                        controller="oefenleider",
                        participants=[{"role": "fg", "name": "FG", "email": MAILBOX}],
                        reminder_hours=1.0,
                    )
                    schedule_id, first_at = schedule.id, schedule.next_run_at
                assert first_at is not None

                def state() -> DrillSchedule:
                    with sessions() as db:
                        row = db.get(DrillSchedule, schedule_id)
                        assert row is not None
                        db.expunge(row)
                        return row

                def series() -> list[Exercise]:
                    with sessions() as db:
                        rows = list(
                            db.scalars(
                                select(Exercise)
                                .where(Exercise.series == f"schedule-{schedule_id}")
                                .order_by(Exercise.created_at)
                            )
                        )
                        db.expunge_all()
                        return rows

                # Invitation and reminder before the start, only to the exercise mailbox.
                wait_until(
                    lambda: (
                        {s.split("]")[1].split(":")[0].strip() for _, s in mailbox.messages}
                        >= {"Uitnodiging", "Herinnering"}
                    ),
                    timeout=20,
                    what="invitation and reminder",
                    logs=logs,
                )
                first_id = wait_until(
                    lambda: state().last_exercise_id, timeout=20, what="first run", logs=logs
                )
                first = service_exercise(sessions, first_id)
                assert first.status == "running" and first.started_at is not None
                delay = (first.started_at - first_at).total_seconds()
                # On time: within one beat period plus the tick's own work on a busy machine.
                assert 0 <= delay < 3.0, f"started {delay:.1f}s after {first_at}"
                # The next period comes while the exercise still runs: skipped, not doubled.
                skipped = wait_until(
                    lambda: (
                        (state().last_outcome or "").startswith("overgeslagen")
                        and state().last_outcome
                    ),
                    timeout=20,
                    what="a skipped period",
                    logs=logs,
                )
                assert first_id in str(skipped)
                assert [e.id for e in series()] == [first_id]
                with unit_of_work(sessions) as db:
                    service.stop(db=db, clock=clock, exercise_id=first_id, actor="oefenleider")
                second_id: str = wait_until(
                    lambda: next(
                        (e for e in [state().last_exercise_id] if e and e != first_id), None
                    ),
                    timeout=20,
                    what="the next run after stop",
                    logs=logs,
                )
                runs = {e.id: e for e in series()}
                assert set(runs) == {first_id, second_id}
                assert runs[second_id].status == "running"
                stopped, restarted = runs[first_id].stopped_at, runs[second_id].started_at
                assert stopped is not None and restarted is not None and restarted >= stopped
                # Two workers told to start two planned runs of one series at once: one wins.
                # One unit of work (BEGIN IMMEDIATE): beat's ticks write too and wait their turn.
                with unit_of_work(sessions) as db:
                    row = db.get(DrillSchedule, schedule_id)
                    assert row is not None
                    row.active = False
                    service.stop(db=db, clock=clock, exercise_id=second_id, actor="oefenleider")
                    loaded = service.get_scenario("insider-datalek")
                    planned = [
                        control.create_exercise(
                            db=db,
                            clock=clock,
                            loaded=loaded,
                            mode="tabletop",
                            controller="oefenleider",
                            participants=[],
                            schedule_id=schedule_id,
                            actor="test",
                        ).id
                        for _ in range(2)
                    ]
                app = create_celery(settings)
                results = [
                    app.send_task("drills.control", args=[exercise_id, "start"])
                    for exercise_id in planned
                ]
                for result in results:
                    result.get(timeout=30, propagate=False)
                states = sorted(result.state for result in results)
                assert states == ["FAILURE", "SUCCESS"], [str(r.result) for r in results]
                failed = next(r for r in results if r.state == "FAILURE")
                assert "already running" in str(failed.result)
                running = [e for e in series() if e.status == "running"]
                assert len(running) == 1
                assert all(proc.poll() is None for proc in procs)
                assert all(recipients == [MAILBOX] for recipients, _ in mailbox.messages)
                assert all(s.startswith("[OEFENING / EXERCISE]") for _, s in mailbox.messages)
        finally:
            engine.dispose()


def service_exercise(sessions: object, exercise_id: str) -> Exercise:
    """A detached copy of one exercise row."""
    with sessions() as db:  # type: ignore[operator]
        row = service.get_exercise(db=db, exercise_id=exercise_id)
        db.expunge(row)
        return row
