"""Celery on Redis: real worker processes and beat on the Redis from scripts/test-services.sh.

Two workers share a burst of tasks: every task runs exactly once (nothing lost, nothing twice),
and beat's schedule reaches the workers through Redis as well.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from core.config import Settings, load_settings
from core.queue import create_celery
from tests.processes import BEAT_ARGS, celery, child_env, wait_until, worker_args

# Redis databases of their own, so a stale task of another suite can never reach these workers.
BROKER_DB, RESULT_DB = 5, 6


@pytest.fixture
def redis_settings(redis_url: str, tmp_path: Path) -> Iterator[Settings]:
    import redis

    for db in (BROKER_DB, RESULT_DB):
        redis.Redis.from_url(f"{redis_url}/{db}").flushdb()
    yield load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        broker_url=f"{redis_url}/{BROKER_DB}",
        result_backend=f"{redis_url}/{RESULT_DB}",
    )


def _env(settings: Settings, config: Path | None = None) -> dict[str, str]:
    return child_env(
        data_dir=settings.resolved_data_dir,
        environment="test",
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        config=config,
    )


def _worker(name: str) -> tuple[str, ...]:
    return worker_args(f"{name}@%h", mingle_and_gossip=True)


@pytest.mark.slow
def test_two_workers_on_redis_run_a_burst_exactly_once(
    redis_settings: Settings, tmp_path: Path
) -> None:
    data_dir = redis_settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _env(redis_settings)
    app = create_celery(redis_settings)
    with ExitStack() as stack:
        for name in ("w1", "w2"):
            stack.enter_context(celery(*_worker(name), env=env, log=tmp_path / f"{name}.log"))
        wait_until(lambda: len(app.control.ping(timeout=0.5) or []) == 2, 60, "two workers")
        # Each task appends one line to its own file: a lost task leaves a file missing, a task
        # run twice leaves two lines.
        burst = [secrets.token_hex(6) for _ in range(200)]
        results = [app.send_task("core.tick", args=[str(data_dir / f"{t}.log")]) for t in burst]
        for result in results:
            result.get(timeout=60)
        replies = app.control.inspect(timeout=2).stats() or {}
    lines = {t: (data_dir / f"{t}.log").read_text().splitlines() for t in burst}
    assert all(len(found) == 1 for found in lines.values())
    # Both workers took part (Redis spread the burst; neither sat idle).
    done = [reply["total"].get("core.tick", 0) for reply in replies.values()]
    assert len(done) == 2 and sum(done) == 200 and min(done) > 0


@pytest.mark.slow
def test_beat_on_redis_schedules_ticks(redis_settings: Settings, tmp_path: Path) -> None:
    ticks = redis_settings.resolved_data_dir / "ticks.log"
    config = tmp_path / "dijkwacht.toml"
    config.write_text(
        "[scheduled_tasks.redis_tick]\n"
        'task = "core.tick"\n'
        "every_seconds = 1\n"
        f"args = [{json.dumps(str(ticks))}]\n",
        encoding="utf-8",
    )
    env = _env(redis_settings, config)
    with (
        celery(*_worker("w1"), env=env, log=tmp_path / "worker.log"),
        celery(*BEAT_ARGS, env=env, log=tmp_path / "beat.log") as beat,
    ):
        wait_until(lambda: ticks.exists() and len(ticks.read_text().splitlines()) >= 3, 40, "ticks")
        assert beat.poll() is None
