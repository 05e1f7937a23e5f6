"""The Celery factory: configuration, heartbeat, and real worker and beat processes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import core.tasks  # noqa: F401  (registers the shared tasks with apps built here)
from core.clock import FrozenClock
from core.config import Settings, load_settings
from core.queue import (
    SQLAlchemyTransport,
    beat_schedule,
    create_celery,
    worker_alive,
    worker_heartbeats,
    write_heartbeat,
)
from tests.processes import BEAT_ARGS, celery, child_env, wait_until, worker_args


def test_embedded_defaults(settings: Settings) -> None:
    app = create_celery(settings)
    conf = app.conf
    assert conf.broker_url == f"sqlite:///{settings.resolved_data_dir / 'broker.sqlite'}"
    assert conf.broker_transport == "core.queue:SQLAlchemyTransport"
    assert conf.result_backend == settings.celery_result_backend
    assert conf.broker_transport_options == {"polling_interval": settings.broker_polling_interval}
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.timezone == "UTC" and conf.enable_utc
    assert conf.beat_schedule_filename == str(settings.beat_schedule_path)
    assert "core.tasks" in conf.include
    assert app.connection().transport_cls == "core.queue:SQLAlchemyTransport"
    assert issubclass(app.connection().transport.__class__, SQLAlchemyTransport)


def test_redis_urls_are_used_as_given(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        broker_url="redis://127.0.0.1:6379/0",
        result_backend="redis://127.0.0.1:6379/1",
    )
    conf = create_celery(settings).conf
    assert conf.broker_url == "redis://127.0.0.1:6379/0" and conf.broker_transport is None
    assert conf.result_backend == "redis://127.0.0.1:6379/1"


def test_scheduled_tasks_from_settings_join_the_beat_schedule(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        scheduled_tasks={"tick": {"task": "core.tick", "every_seconds": 1.5, "args": ["x"]}},
    )
    schedule = beat_schedule(settings)
    assert schedule["tick"] == {
        "task": "core.tick",
        "schedule": timedelta(seconds=1.5),
        "args": ["x"],
    }
    assert create_celery(settings).conf.beat_schedule == schedule


def _task_module(folder: Path, name: str, body: str) -> str:
    (folder / f"{name}.py").write_text(f"from datetime import timedelta\n\n{body}\n")
    return name


def test_the_schedule_comes_from_each_modules_beat_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    a = _task_module(
        tmp_path,
        "queue_test_a",
        "def beat_entries(settings):\n"
        "    return {'a-every': {'task': 'a.run', 'schedule': timedelta(seconds=5)}}",
    )
    b = _task_module(
        tmp_path,
        "queue_test_b",
        "def beat_entries(settings):\n"
        "    return {'b-every': {'task': 'b.run', 'schedule': timedelta(hours=1)}}",
    )
    settings = load_settings(
        data_dir=tmp_path / "data",
        scheduled_tasks={"b-every": {"task": "b.run", "every_seconds": 2}},
    )
    schedule = beat_schedule(settings, ["core.tasks", a, b])
    assert schedule["a-every"] == {"task": "a.run", "schedule": timedelta(seconds=5)}
    # The operator's entry of the same name replaces the module's.
    assert schedule["b-every"]["schedule"] == timedelta(seconds=2)
    assert set(schedule) == {"a-every", "b-every"}
    assert create_celery(settings, include=[a]).conf.beat_schedule == {
        "a-every": schedule["a-every"],
        "b-every": schedule["b-every"],
    }
    assert set(create_celery(settings).conf.beat_schedule) == {"b-every"}  # core: none own


def test_a_module_without_beat_entries_or_a_claimed_name_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    bare = _task_module(tmp_path, "queue_test_bare", "TASKS = ()")
    twin = _task_module(
        tmp_path,
        "queue_test_twin",
        "def beat_entries(settings):\n"
        "    return {'x': {'task': 'twin.run', 'schedule': timedelta(seconds=1)}}",
    )
    other = _task_module(
        tmp_path,
        "queue_test_other",
        "def beat_entries(settings):\n"
        "    return {'x': {'task': 'other.run', 'schedule': timedelta(seconds=1)}}",
    )
    settings = load_settings(data_dir=tmp_path / "data")
    with pytest.raises(TypeError, match="queue_test_bare: a task module must define beat_entries"):
        beat_schedule(settings, [bare])
    with pytest.raises(ValueError, match="queue_test_other: beat entry 'x' is already declared"):
        beat_schedule(settings, [twin, other])


def test_core_tasks_run_in_process(settings: Settings, tmp_path: Path) -> None:
    app = create_celery(settings)
    app.finalize(auto=True)
    assert app.tasks["core.ping"].apply().get() == "pong"
    target = settings.resolved_data_dir / "ticks" / "log.txt"
    app.tasks["core.tick"].apply(args=[str(target)]).get()
    assert len(target.read_text().splitlines()) == 1
    outside = tmp_path / "outside.txt"
    result = app.tasks["core.tick"].apply(args=[str(outside)])
    assert isinstance(result.result, ValueError) and not outside.exists()


def test_worker_alive_reads_fresh_heartbeats_only(settings: Settings) -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    clock = FrozenClock(now)
    assert not worker_alive(settings, clock=clock)
    write_heartbeat(settings.resolved_data_dir, "celery@host/1", now - timedelta(seconds=20))
    assert set(worker_heartbeats(settings)) == {"celery@host_1"}
    assert not worker_alive(settings, timedelta(seconds=10), clock=clock)
    write_heartbeat(settings.resolved_data_dir, "celery@host2", now - timedelta(seconds=2))
    assert worker_alive(settings, timedelta(seconds=10), clock=clock)


# --- real processes -------------------------------------------------------------------------


def _env(data_dir: Path, config: Path | None = None) -> dict[str, str]:
    return child_env(
        data_dir=data_dir, environment="test", broker_polling_interval=0.05, config=config
    )


WORKER_ARGS = worker_args("test@%h")


@pytest.mark.slow
def test_worker_answers_ping_and_keeps_a_heartbeat(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = load_settings(environment="test", data_dir=data_dir, broker_polling_interval=0.05)
    log = tmp_path / "worker.log"
    with celery(*WORKER_ARGS, env=_env(data_dir), log=log) as worker:
        wait_until(lambda: worker_alive(settings), 30, "the worker's heartbeat", log)
        app = create_celery(settings)
        assert app.send_task("core.ping").get(timeout=20) == "pong"
        assert worker.poll() is None
    assert worker.returncode == 0, log.read_text(errors="replace")
    # A cleanly stopped worker removes its heartbeat: it is no longer reported alive.
    assert not worker_alive(settings)


@pytest.mark.slow
def test_beat_runs_a_scheduled_task_every_second(tmp_path: Path) -> None:
    """Beat's schedule comes from the `scheduled_tasks` setting, here in a TOML config file."""
    data_dir = tmp_path / "data"
    ticks = data_dir / "ticks.log"
    config = tmp_path / "dijkwacht.toml"
    config.write_text(
        "[scheduled_tasks.test_tick]\n"
        'task = "core.tick"\n'
        "every_seconds = 1\n"
        f"args = [{json.dumps(str(ticks))}]\n",
        encoding="utf-8",
    )
    env = _env(data_dir, config)
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with (
        celery(*WORKER_ARGS, env=env, log=worker_log),
        celery(*BEAT_ARGS, env=env, log=beat_log) as beat,
    ):
        wait_until(
            lambda: ticks.exists() and len(ticks.read_text().splitlines()) >= 3,
            40,
            "three ticks",
            beat_log,
        )
        assert beat.poll() is None
    assert any(path.name.startswith("celerybeat-schedule") for path in data_dir.iterdir())
    stamps = [
        datetime.fromisoformat(line.replace("Z", "+00:00"))
        for line in ticks.read_text().splitlines()
    ]
    assert stamps == sorted(stamps)
