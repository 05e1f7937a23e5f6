"""The scale-out deployment as real processes, for the scheduled-detection tests and journey.

Two `dijkwacht collect` processes (own data dirs and ports) store into one Elasticsearch; a
Celery worker and beat run on Redis, relational data is a fresh PostgreSQL schema. The brute-force
pattern is split over the two: three failed SSH logons of host vm-01 over syslog to the first,
three more over HTTP batch ingest to the second. The correlation (six in five minutes per
`host.hostname`) runs in scheduled mode, every second, with a 30 s look-back.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

from core.config import Settings, load_settings
from tests.processes import celery, child, child_env, free_port, wait_until, worker_args

BROKER_DB, RESULT_DB = 9, 10
BRUTE = "7d1c2b3a-0000-4000-8000-0000000000b2"
BRUTE_TITLE = "SSH brute force over several collectors"
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
title: {BRUTE_TITLE}
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
Ports = dict[str, tuple[int, int, int]]  # collector -> (syslog, http ingest, relp)


@contextmanager
def cluster_settings(
    redis_url: str, pg_url: str, es_url: str, tmp_path: Path
) -> Iterator[Settings]:
    """Settings of the worker side on fresh Redis databases, PostgreSQL schema and ES prefix."""
    import redis

    from core.store import es_common
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
            client = es_common.connect(es_url)
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            for name in ("events", "alerts"):
                client.options(ignore_status=404).indices.delete_index_template(
                    name=f"{prefix}-{name}"
                )
            client.close()


def write_config(tmp_path: Path) -> Path:
    """The rule folder and a config file putting every rule in scheduled mode."""
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
    return config


def env_for(settings: Settings, config: Path, data_dir: Path, **more: Any) -> dict[str, str]:
    """A child process's environment: the shared servers, its own data directory."""
    return child_env(
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


def start_collectors_and_worker(
    stack: ExitStack, settings: Settings, config: Path, logs: Path
) -> Ports:
    """Two collectors and a worker (beat comes later, once the events are in); wait for ready."""
    ports = {name: (free_port(), free_port(), free_port()) for name in ("c1", "c2")}
    for name, (syslog, http, relp) in ports.items():
        env = env_for(
            settings,
            config,
            logs / name,
            syslog_port=syslog,
            ingest_http_port=http,
            relp_port=relp,
        )
        stack.enter_context(
            child(["-m", "dijkwacht", "collect"], env=env, log=logs / f"{name}.log")
        )
    worker_env = env_for(settings, config, settings.resolved_data_dir)
    stack.enter_context(celery(*worker_args("w1@%h"), env=worker_env, log=logs / "w1.log"))
    for name in ports:
        wait_until(partial(_ready, logs / f"{name}.log"), 60, f"{name} ready", logs)
    return ports


def start_beat(stack: ExitStack, settings: Settings, config: Path, logs: Path) -> None:
    worker_env = env_for(settings, config, settings.resolved_data_dir)
    stack.enter_context(celery("beat", env=worker_env, log=logs / "beat.log"))


def ingest_token(settings: Settings) -> str:
    """An HTTP ingest token for source "sshgw", made the way `dijkwacht tokens create` does."""
    from tests.tokens import make_ingest_token

    return make_ingest_token(settings, "sshgw")


def send_brute_force(ports: Ports, token: str) -> None:
    """Three failed logons over syslog to collector 1, three over HTTP to collector 2."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with socket.create_connection(("127.0.0.1", ports["c1"][0]), timeout=5) as sock:
        for port in (40001, 40002, 40003):  # RFC 5424 over TCP, octet-counted
            line = (
                f"<38>1 {now} vm-01 sshd 1234 - - Failed password for root from "
                f"203.0.113.7 port {port} ssh2"
            ).encode()
            sock.sendall(str(len(line)).encode() + b" " + line)
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


def brute_alerts(settings: Settings) -> list[Any]:
    """The correlation's alerts in the Elasticsearch alert store ([] while it is not ready)."""
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


def _ready(log: Path) -> bool:
    return log.exists() and b"collect: ready" in log.read_bytes()
