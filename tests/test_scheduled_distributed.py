"""Scale-out detection: a correlation over events two collectors received fires exactly once.

Two `dijkwacht collect` processes (own data dirs and ports) store into one Elasticsearch: the
first gets three failed SSH logons of host vm-01 over syslog, the second three more over HTTP
batch ingest (`tests/scale_out.py`). The brute-force correlation (six in five minutes per
`host.hostname`) is in scheduled mode, so neither collector's streaming matcher runs it (each
sees only half anyway). A Celery worker and beat on Redis and PostgreSQL run
`detection.scheduled_search` every second; exactly one correlation alert appears in the
Elasticsearch alert store, and further runs (whose look-back sees the same six events again)
add none.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from core.config import Settings
from tests.processes import wait_until
from tests.scale_out import (
    brute_alerts,
    cluster_settings,
    ingest_token,
    send_brute_force,
    start_beat,
    start_collectors_and_worker,
    write_config,
)


@pytest.fixture
def cluster(redis_url: str, pg_url: str, es_url: str, tmp_path: Path) -> Iterator[Settings]:
    with cluster_settings(redis_url, pg_url, es_url, tmp_path) as settings:
        yield settings


@pytest.mark.slow
def test_correlation_over_two_collectors_fires_once(cluster: Settings, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    token = ingest_token(cluster)
    began = time.monotonic()
    with ExitStack() as stack:
        ports = start_collectors_and_worker(stack, cluster, config, tmp_path)
        send_brute_force(ports, token)
        start_beat(stack, cluster, config, tmp_path)
        (alert,) = wait_until(lambda: brute_alerts(cluster), 60, "the correlation", tmp_path)
        time.sleep(4)  # several more runs re-search the same events: they must add nothing
        alerts = brute_alerts(cluster)
        worker_log = (tmp_path / "w1.log").read_text(errors="replace")

    assert [a.id for a in alerts] == [alert.id], alerts
    assert alert.body["kind"] == "correlation"
    assert alert.body["group_by"] == {"host.hostname": "vm-01"}
    assert alert.host_name == "vm-01"  # syslog's host.hostname is the alert's host
    assert len(alert.body["event_ids"]) == 6
    assert alert.body["correlation"]["value"] == 6
    assert worker_log.count("detection.scheduled_search") >= 3, worker_log[-3000:]
    for name in ports:  # the streaming matchers said they leave these rules to the search
        assert "scheduled mode skipped" in (tmp_path / f"{name}.log").read_text(errors="replace")
    assert time.monotonic() - began < 90
