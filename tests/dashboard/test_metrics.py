"""`/metrics` beyond the collectors: detection, alerts, incidents, breach clocks, queue, HTTP.

Everything is parsed with prometheus_client's own text parser, as a scraper would read it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.accounts.models import Role
from core.config import load_settings
from core.queue import create_celery
from core.runtime import MULTIPROC_ENV
from core.store.base import NewAlert
from core.store.factory import open_alert_store
from dashboard.platform_metrics import http_registry, queue_depth
from detection.management import record_activity
from playbooks.breach.register import open_breach
from playbooks.incidents import create_incident
from tests.dashboard.conftest import Env, add_user, login


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _seed(env: Env) -> None:
    now = env.clock.now()
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        store.add_batch(
            [
                NewAlert(
                    rule_id="r1",
                    rule_title="Rule r1",
                    level="medium",
                    created_at=now,
                    host_name="ws-1",
                    user_name=None,
                    body={},
                )
            ]
            * 2
        )
    finally:
        store.close()
    with env.write() as db:
        create_incident(db=db, clock=env.clock, title="Real", severity="low", actor="a")
        create_incident(
            db=db, clock=env.clock, title="Drill", severity="low", actor="a", exercise_id="ex-1"
        )
        # GDPR clock: 72 h after awareness, so due in 12 h when aware 60 h ago.
        open_breach(
            db=db,
            clock=env.clock,
            settings=env.settings,
            actor="fg",
            title="Lost laptop",
            aware_at=now - timedelta(hours=60),
        )
        record_activity(
            db=db, clock=env.clock, hits={"r1": 3}, costs={"r1": 2_000_000}, batch_ns=5, events=40
        )


def test_platform_metrics_are_read_on_scrape(env: Env) -> None:
    _seed(env)
    # One task waiting in the embedded broker (kombu's SQLAlchemy transport), nobody consuming.
    celery = create_celery(env.settings, include=())
    with celery.connection_for_write() as conn:
        celery.send_task("dijkwacht.metrics_test", connection=conn)
    add_user(env, "beheerder", Role.ADMIN)
    with env.client() as client:
        client.get("/health")
        assert client.get("/metrics").status_code == 303  # anonymous: to the login page
        login(client, "beheerder")
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = _samples(response.text)

    def value(name: str, **labels: str) -> float:
        return got[(name, frozenset(labels.items()))]

    assert value("dijkwacht_platform_metrics_up") == 1
    assert value("dijkwacht_detection_events_total") == 40
    assert value("dijkwacht_detection_rule_matches_total", rule="r1") == 3
    assert value("dijkwacht_detection_rule_cost_seconds_total", rule="r1") == 0.002
    assert value("dijkwacht_detection_rule_load_problems") == 0
    assert value("dijkwacht_alerts", status="new", exercise="false") == 2
    assert value("dijkwacht_alerts", status="closed", exercise="false") == 0
    assert value("dijkwacht_incidents", status="new", exercise="false") == 1
    assert value("dijkwacht_incidents", status="new", exercise="true") == 1
    assert value("dijkwacht_breach_deadlines_due_24h", clock="gdpr_ap", exercise="false") == 1
    assert value("dijkwacht_celery_queue_depth", queue="celery") == 1
    # Latency by route template and method, never by raw path.
    assert (
        value("dijkwacht_http_request_duration_seconds_count", method="GET", route="/health") >= 1
    )


def test_latency_is_labelled_by_route_template(env: Env) -> None:
    add_user(env, "beheerder", Role.ADMIN)
    with env.client() as client:
        login(client, "beheerder")
        client.get("/alerts/does-not-exist-1")
        client.get("/alerts/does-not-exist-2")
        client.get("/no/such/page")
        text = client.get("/metrics").text
    routes = {
        dict(s.labels).get("route")
        for f in text_string_to_metric_families(text)
        if f.name == "dijkwacht_http_request_duration_seconds"
        for s in f.samples
    }
    assert "/alerts/{alert_id}" in routes
    assert "<unmatched>" in routes
    assert not any(r and "does-not-exist" in r for r in routes)


def test_queue_depth_on_redis_and_when_the_broker_is_down(redis_url: str, tmp_path: Path) -> None:
    import redis

    queue_url = f"{redis_url.rstrip('/')}/14"  # a database of its own on the test server
    client = redis.Redis.from_url(queue_url)
    try:
        client.delete("celery")
        client.rpush("celery", b"{}", b"{}", b"{}")
        settings = load_settings(environment="test", data_dir=tmp_path, broker_url=queue_url)
        assert queue_depth(settings) == {"celery": 3}
    finally:
        client.delete("celery")
        client.close()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = load_settings(
        environment="test", data_dir=tmp_path, broker_url=f"redis://127.0.0.1:{port}/0"
    )
    assert queue_depth(down) is None  # left out of the scrape, which still answers


def test_platform_part_reads_0_when_the_database_cannot(tmp_path: Path) -> None:
    """Not migrated (no tables): the platform part is left out and `metrics_up` reads 0."""
    from core.clock import SystemClock
    from core.store.relational import create_db_engine, create_session_factory
    from dashboard.platform_metrics import read_platform_or_none

    settings = load_settings(environment="test", data_dir=tmp_path / "data")
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db, open_alert_store(settings) as alerts:
            got = read_platform_or_none(
                db=db, alerts=alerts, settings=settings, clock=SystemClock(), rule_paths=[]
            )
    finally:
        engine.dispose()
    assert got is None


def test_http_histogram_sums_every_web_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With several web workers a scrape lands on one of them; it must report the requests all
    of them served (prometheus_client's multiprocess files, one per worker)."""
    observe = (
        "from dashboard.platform_metrics import REQUEST_SECONDS\n"
        "for _ in range({n}): REQUEST_SECONDS.labels('GET', '/alerts').observe(0.01)\n"
    )
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    for n in (3, 4):  # two workers, one after the other (each its own process and file)
        subprocess.run([sys.executable, "-c", observe.format(n=n)], env=env, check=True)
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    families = {f.name: f for f in http_registry().collect()}
    counts = [
        s.value
        for s in families["dijkwacht_http_request_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels.get("route") == "/alerts"
    ]
    assert counts == [7.0]
