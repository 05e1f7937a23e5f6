"""Scale-out detection: a correlation over events two collectors received fires exactly once.

Two `dijkwacht collect` processes (own data dirs and ports) store into one Elasticsearch: the
first gets three failed SSH logons of host vm-01 over syslog, the second three more over HTTP
batch ingest. The brute-force correlation (six in five minutes per `host.hostname`) is in
scheduled mode, so neither collector's streaming matcher runs it (each sees only half anyway).
A Celery worker and beat on Redis and PostgreSQL run `detection.scheduled_search` every
second; exactly one correlation alert appears in the Elasticsearch alert store, and further
runs (whose look-back sees the same six events again) add none.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from core.config import Settings, load_settings
from tests.processes import celery, child, child_env, free_port, wait_until, worker_args

BROKER_DB, RESULT_DB = 9, 10
BRUTE = "7d1c2b3a-0000-4000-8000-0000000000b2"
RULES = f"""
title: Failed SSH logon
id: 7d1c2b3a-0000-4000-8000-0000000000b1
name: ssh_failed
logsource: {{product: linux, service: sshd}}
detection:
  sel:
    process.name: sshd
  condition: sel
level: low
---
title: SSH brute force over several collectors
id: {BRUTE}
level: high
correlation:
  type: event_count
  rules: [ssh_failed]
  group-by: [host.hostname]
  timespan: 5m
  condition: {{gte: 6}}
  generate: false
"""


@pytest.fixture
def cluster(redis_url: str, pg_url: str, es_url: str, tmp_path: Path) -> Iterator[Settings]:
    import redis

    from core.store.relational import migrate
    from tests.services import postgres_schema, unique_name

    for db in (BROKER_DB, RESULT_DB):
        redis.Redis.from_url(f"{redis_url}/{db}").flushdb()
    prefix = unique_name("dist-")
    with postgres_schema(pg_url) as url:
        settings = load_settings(
            environment="test",
            data_dir=tmp_path / "worker",
            database_url=url,
            broker_url=f"{redis_url}/{BROKER_DB}",
            result_backend=f"{redis_url}/{RESULT_DB}",
            event_store="elasticsearch",
            elasticsearch_url=es_url,
            elasticsearch_prefix=prefix,
        )
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        migrate(settings)
        try:
            yield settings
        finally:
            from core.store import es_common

            client = es_common.connect(es_url)
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            for name in ("events", "alerts"):
                client.options(ignore_status=404).indices.delete_index_template(
                    name=f"{prefix}-{name}"
                )
            client.close()


def _env(settings: Settings, config: Path, data_dir: Path, **more: Any) -> dict[str, str]:
    env = child_env(
        data_dir=data_dir,
        environment="test",
        database_url=settings.database_url,
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        event_store="elasticsearch",
        elasticsearch_url=settings.elasticsearch_url,
        elasticsearch_prefix=settings.elasticsearch_prefix,
        config=config,
        **more,
    )
    return env


def _ready(log: Path) -> bool:
    return log.exists() and b"collect: ready" in log.read_bytes()


def _brute_alerts(settings: Settings) -> list[Any]:
    from elasticsearch import ApiError

    from core.store.base import AlertQuery
    from core.store.factory import open_alert_store

    store = open_alert_store(settings)
    try:
        return [a for a in store.search(AlertQuery(limit=50)) if a.rule_id == BRUTE]
    except ApiError as exc:  # 503 while a just-created alert index gets its shard: poll again
        if exc.meta.status != 503:
            raise
        return []
    finally:
        store.close()


@pytest.mark.slow
def test_correlation_over_two_collectors_fires_once(cluster: Settings, tmp_path: Path) -> None:
    from collectors.http_ingest import create_token
    from core.store.relational import create_db_engine, create_session_factory

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ssh.yml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "dijkwacht.toml"
    config.write_text(
        f'detection_rules = ["{rules}"]\n'
        'detection_default_mode = "scheduled"\n'
        "scheduled_search_every_seconds = 1\n"
        "scheduled_search_lookback_seconds = 30\n",
        encoding="utf-8",
    )
    engine = create_db_engine(cluster)
    with create_session_factory(engine)() as db:
        token = create_token(db=db, source="sshgw", now=datetime.now(UTC))
    engine.dispose()
    ports = {name: (free_port(), free_port(), free_port()) for name in ("c1", "c2")}
    began = time.monotonic()
    with ExitStack() as stack:
        for name, (syslog, http, relp) in ports.items():
            env = _env(
                cluster,
                config,
                tmp_path / name,
                syslog_port=syslog,
                ingest_http_port=http,
                relp_port=relp,
            )
            log = tmp_path / f"{name}.log"
            stack.enter_context(child(["-m", "dijkwacht", "collect"], env=env, log=log))
        worker_env = _env(cluster, config, cluster.resolved_data_dir)
        stack.enter_context(celery(*worker_args("w1@%h"), env=worker_env, log=tmp_path / "w1.log"))
        for name in ports:
            log = tmp_path / f"{name}.log"
            wait_until(partial(_ready, log), 60, f"{name} ready", tmp_path)

        # Collector 1: three failed logons over syslog (RFC 5424, TCP, octet-counted).
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with socket.create_connection(("127.0.0.1", ports["c1"][0]), timeout=5) as sock:
            for port in (40001, 40002, 40003):
                line = (
                    f"<38>1 {now} vm-01 sshd 1234 - - Failed password for root from "
                    f"203.0.113.7 port {port} ssh2"
                ).encode()
                sock.sendall(str(len(line)).encode() + b" " + line)
        # Collector 2: three more over HTTP batch ingest, as ECS JSON lines.
        body = b"\n".join(
            orjson.dumps(
                {
                    "@timestamp": now,
                    "event": {"kind": "event", "dataset": "sshgw"},
                    "host": {"hostname": "vm-01"},
                    "process": {"name": "sshd", "pid": 1234},
                    "message": f"Failed password for admin from 203.0.113.7 port {port} ssh2",
                }
            )
            for port in (40004, 40005, 40006)
        )
        response = httpx.post(
            f"http://127.0.0.1:{ports['c2'][1]}/api/ingest/sshgw",
            content=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text

        stack.enter_context(celery("beat", env=worker_env, log=tmp_path / "beat.log"))
        (alert,) = wait_until(lambda: _brute_alerts(cluster), 60, "the correlation", tmp_path)
        time.sleep(4)  # several more runs re-search the same events: they must add nothing
        alerts = _brute_alerts(cluster)
        worker_log = (tmp_path / "w1.log").read_text(errors="replace")

    assert [a.id for a in alerts] == [alert.id], alerts
    assert alert.body["kind"] == "correlation"
    assert alert.body["group_by"] == {"host.hostname": "vm-01"}
    assert len(alert.body["event_ids"]) == 6
    assert alert.body["correlation"]["value"] == 6
    assert worker_log.count("detection.scheduled_search") >= 3, worker_log[-3000:]
    for name in ports:  # the streaming matchers said they leave these rules to the search
        assert "scheduled mode skipped" in (tmp_path / f"{name}.log").read_text(errors="replace")
    assert time.monotonic() - began < 90
