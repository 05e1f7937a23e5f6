"""Distributed run: API, two Celery workers and beat as processes on Redis and PostgreSQL.

A burst of 300 alerts over 30 group keys goes into the alert store; beat's
`playbooks.route_alerts` (plus an extra every-second entry, so routing runs overlap on both
workers) turns them into incidents. Nothing lost: every alert is in exactly one incident.
Nothing twice: one open incident per group key, one audit "incident.created" per incident and one
"incident.alert_added" per alert. /health answers
throughout. Alerts live in the SQLite alert store in the shared data dir (the relational data,
which is what two workers contend on, is in a fresh PostgreSQL schema).
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.config import Settings, load_settings
from tests.processes import celery, child, child_env, free_port, worker_args

BROKER_DB, RESULT_DB = 7, 8
ALERTS, KEYS = 300, 30


@pytest.fixture
def cluster_settings(redis_url: str, pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    import redis

    from core.store.relational import migrate
    from tests.services import postgres_schema

    for db in (BROKER_DB, RESULT_DB):
        redis.Redis.from_url(f"{redis_url}/{db}").flushdb()
    with postgres_schema(pg_url) as url:
        settings = load_settings(
            environment="test",
            data_dir=tmp_path / "data",
            database_url=url,
            broker_url=f"{redis_url}/{BROKER_DB}",
            result_backend=f"{redis_url}/{RESULT_DB}",
        )
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        migrate(settings)
        yield settings


def _env(settings: Settings, config: Path) -> dict[str, str]:
    return child_env(
        data_dir=settings.resolved_data_dir,
        environment="test",
        database_url=settings.database_url,
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        config=config,
    )


def _burst(settings: Settings) -> list[str]:
    from core.store.base import NewAlert
    from core.store.factory import open_alert_store

    now = datetime.now(UTC) - timedelta(minutes=1)
    alerts = [
        NewAlert(
            rule_id=f"burst-rule-{i % 3}",
            rule_title="Burst test",
            level="medium",
            created_at=now + timedelta(milliseconds=i),
            host_name=f"ws-{i % KEYS:02d}",
        )
        for i in range(ALERTS)
    ]
    store = open_alert_store(settings)
    try:
        return store.add_batch(alerts)
    finally:
        store.close()


@pytest.mark.slow
def test_api_two_workers_and_beat_route_a_burst_once(
    cluster_settings: Settings, tmp_path: Path
) -> None:
    from sqlalchemy import func, select

    from core.audit import AuditEntry
    from core.store.relational import create_db_engine, create_session_factory
    from playbooks.models import Incident, IncidentAlert

    config = tmp_path / "dijkwacht.toml"
    config.write_text(
        '[scheduled_tasks.route_often]\ntask = "playbooks.route_alerts"\nevery_seconds = 1\n',
        encoding="utf-8",
    )
    env = _env(cluster_settings, config)
    logs = tmp_path
    port = free_port()
    api = ["-m", "uvicorn", "--factory"]
    api += ["dashboard.app:create_app_from_environment", "--host", "127.0.0.1", "--port", str(port)]
    engine = create_db_engine(cluster_settings)
    sessions = create_session_factory(engine)
    began = time.monotonic()
    with ExitStack() as stack:
        stack.enter_context(child(api, env=env, log=logs / "api.log"))
        for name in ("w1", "w2"):
            worker = worker_args(f"{name}@%h", mingle_and_gossip=True)
            stack.enter_context(celery(*worker, env=env, log=logs / f"{name}.log"))
        ids = _burst(cluster_settings)
        stack.enter_context(celery("beat", env=env, log=logs / "beat.log"))
        health: list[int] = []
        routed = 0
        while time.monotonic() - began < 100:
            with contextlib.suppress(httpx.TransportError):  # the API may still be starting
                health.append(httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code)
            with sessions() as db:
                routed = db.scalar(select(func.count()).select_from(IncidentAlert)) or 0
            if routed >= ALERTS and 200 in health:
                time.sleep(3)  # let overlapping routing runs finish: they must change nothing
                break
            time.sleep(0.5)
        worker_logs = {n: (logs / f"{n}.log").read_text(errors="replace") for n in ("w1", "w2")}

    with sessions() as db:
        links = db.execute(select(IncidentAlert.alert_id, IncidentAlert.incident_id)).all()
        incidents = db.execute(select(Incident.id, Incident.routing_key)).all()
        opened = db.execute(
            select(AuditEntry.object_id, AuditEntry.action).where(
                AuditEntry.object_type == "incident"
            )
        ).all()
    engine.dispose()
    assert 200 in health and set(health) <= {200}, health
    # Nothing lost: every alert of the burst is attached, to exactly one incident.
    per_alert = collections.Counter(alert_id for alert_id, _ in links)
    assert set(per_alert) == set(ids) and set(per_alert.values()) == {1}
    # Nothing twice: one incident per group key, each opened once in the audit log.
    per_key = collections.Counter(key for _, key in incidents)
    assert len(incidents) == KEYS and set(per_key.values()) == {1}, per_key
    created = sorted(oid for oid, action in opened if action == "incident.created")
    assert created == sorted(str(i) for i, _ in incidents)
    added = [action for _, action in opened if action == "incident.alert_added"]
    assert len(added) == ALERTS
    # Both workers took part in routing (beat's runs are spread over them).
    assert all("playbooks.route_alerts" in text for text in worker_logs.values())
    assert time.monotonic() - began < 120
