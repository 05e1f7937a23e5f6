"""HTTP batch ingest on the collector's own listener, idempotency keys, and the dashboard's
redirect to it; /metrics still counts what came in."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import TestClient as StarletteClient

from collectors.consumer import SpoolConsumer
from collectors.http_server import HttpIngestServer, IngestWorker, create_ingest_app
from collectors.spool import OnceKey, Spool, open_spool
from core.clock import FrozenClock, SystemClock
from core.config import Settings, load_settings
from core.errors import ConfigError
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from dashboard.app import create_app
from tests.collectors.test_syslog_server import running
from tests.processes import free_port
from tests.tokens import make_ingest_token


@pytest.fixture
def ingest_settings(tmp_path: Path) -> Settings:
    return load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        ingest_max_body_bytes=64 * 1024,
        ingest_max_line_bytes=1024,
        spool_max_pending=50,
        ingest_http_port=8123,
    )


@pytest.fixture
def token(ingest_settings: Settings) -> str:
    value = make_ingest_token(ingest_settings, "zaaksysteem")
    make_ingest_token(ingest_settings, "brp")
    return value


class Paused:
    value = False

    def __call__(self) -> bool:
        return self.value


@pytest.fixture
def paused() -> Paused:
    return Paused()


@pytest.fixture
def client(ingest_settings: Settings, paused: Paused) -> Iterator[StarletteClient]:
    worker = IngestWorker(settings=ingest_settings, enrich=None, clock=SystemClock())
    try:
        with StarletteClient(create_ingest_app(worker=worker, paused=paused)) as test_client:
            yield test_client
    finally:
        worker.close()


def post(
    client: Any, body: bytes, token: str, source: str = "zaaksysteem", key: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    if key is not None:
        headers["Idempotency-Key"] = key
    response: httpx.Response = client.post(f"/api/ingest/{source}", content=body, headers=headers)
    return response


ECS = {"@timestamp": "2025-01-31T09:15:00Z", "event": {"kind": "event", "dataset": "zs"}}


def drained(settings: Settings) -> tuple[int, int]:
    """Move the spool into the event store; (events, dead letters) stored for the source."""
    with open_spool(settings) as spool, SqliteEventStore(settings.event_db_path) as store:
        SpoolConsumer(spool=spool, store=store, batch_size=100).drain()
        return store.count(EventQuery()), len(store.list_dead_letters(source="http/zaaksysteem"))


def test_good_lines_accepted_bad_lines_reported(
    client: StarletteClient, token: str, ingest_settings: Settings
) -> None:
    body = b"\n".join(
        [
            orjson.dumps(ECS),
            orjson.dumps({"timestamp": "2025-01-31T09:16:00+01:00", "message": "wrapped"}),
            b"{not json",
            orjson.dumps({**ECS, "@timestamp": "yesterday"}),
            b"",
            b"[1, 2]",
            b'{"message": "' + b"x" * 2000 + b'"}',
            b"\xff\xfe",
        ]
    )
    response = post(client, body, token)
    assert response.status_code == 200
    report = response.json()
    assert report["accepted"] == 2
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (3, "line"),
        (4, "@timestamp"),
        (6, "line"),
        (7, "line"),
        (8, "line"),
    ]
    assert drained(ingest_settings) == (2, 5)
    with open_spool(ingest_settings) as spool:
        (counter,) = spool.counters()
    assert (counter.source, counter.parsed, counter.dead_lettered) == ("http/zaaksysteem", 2, 5)


def test_wrong_token_is_401_and_wrong_source_403(client: StarletteClient, token: str) -> None:
    body = orjson.dumps(ECS)
    unknown = post(client, body, "dwi_wrong")
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "Authorization: unknown token"
    other = post(client, body, token, source="brp")
    assert other.status_code == 403
    assert other.json()["detail"] == "this token is bound to source 'zaaksysteem', not 'brp'"
    no_header = client.post("/api/ingest/zaaksysteem", content=body)
    assert no_header.status_code == 401
    assert token not in no_header.text


def test_oversized_body_is_413(client: StarletteClient, token: str) -> None:
    response = post(client, b"\n".join([orjson.dumps(ECS)] * 2000), token)  # > 64 KiB
    assert response.status_code == 413
    assert "body" in response.json()["detail"]


def test_full_spool_or_paused_collector_is_503_with_retry_after(
    client: StarletteClient, token: str, paused: Paused
) -> None:
    assert post(client, b"\n".join([orjson.dumps(ECS)] * 60), token, key="big").status_code == 200
    response = post(client, orjson.dumps(ECS), token)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    # A retry of a batch that is already stored needs no room: it gets its reply.
    assert post(client, b"\n".join([orjson.dumps(ECS)] * 60), token, key="big").status_code == 200
    paused.value = True
    response = post(client, b"\n".join([orjson.dumps(ECS)] * 60), token, key="big")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "paused" in response.json()["detail"]


def test_retry_after_a_lost_reply_is_stored_once(
    client: StarletteClient, token: str, ingest_settings: Settings
) -> None:
    body = orjson.dumps(ECS) + b"\n{bad\n" + orjson.dumps(ECS)
    first = post(client, body, token, key="batch-0001")
    # The client timed out before it read `first` and sends the same batch again.
    again = post(client, body, token, key="batch-0001")
    assert first.status_code == again.status_code == 200
    assert (
        again.json()
        == first.json()
        == {
            "accepted": 2,
            "rejected": [
                {
                    "line": 2,
                    "field": "line",
                    "reason": "not JSON (unexpected character, expected a string key)",
                }
            ],
        }
    )
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert drained(ingest_settings) == (2, 1)  # events and dead letters once


def test_different_keys_and_sources_store_twice(
    client: StarletteClient, token: str, ingest_settings: Settings
) -> None:
    body = orjson.dumps(ECS)
    assert post(client, body, token, key="a").json()["accepted"] == 1
    assert post(client, body, token, key="b").json()["accepted"] == 1
    assert post(client, body, token).json()["accepted"] == 1  # no key: no deduplication
    assert drained(ingest_settings)[0] == 3


def test_key_reused_for_another_body_is_422_naming_the_header(
    client: StarletteClient, token: str, ingest_settings: Settings
) -> None:
    assert post(client, orjson.dumps(ECS), token, key="k1").status_code == 200
    other = orjson.dumps({**ECS, "message": "other"})
    response = post(client, other, token, key="k1")
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert "different body" in response.json()["detail"]
    bad = post(client, other, token, key="spaces are not allowed")
    assert bad.status_code == 400
    assert bad.json()["field"] == "Idempotency-Key"
    assert drained(ingest_settings)[0] == 1


def test_keys_expire_and_are_scoped(tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2025, 1, 31, 9, tzinfo=UTC))
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        once = OnceKey("zaaksysteem", "k", "f1", clock.now() + timedelta(hours=24))
        assert spool.append_once([dict(ECS)], source="s", dead=(), once=once, response=b"1") is None
        again = spool.append_once([dict(ECS)], source="s", dead=(), once=once, response=b"2")
        assert again is not None and again.response == b"1"
        other_scope = OnceKey("brp", "k", "f1", once.expires_at)
        assert (
            spool.append_once([dict(ECS)], source="s", dead=(), once=other_scope, response=b"")
            is None
        )
        assert spool.remembered(scope="zaaksysteem", key="k") is not None
        clock.advance(timedelta(hours=24))
        assert spool.remembered(scope="zaaksysteem", key="k") is None
        later = OnceKey("zaaksysteem", "k", "f2", clock.now() + timedelta(hours=24))
        assert (
            spool.append_once([dict(ECS)], source="s", dead=(), once=later, response=b"3") is None
        )
        assert spool.pending() == 3  # the repeat under "k" was not stored


def test_collector_serves_ingest_on_its_own_port(ingest_settings: Settings, token: str) -> None:
    settings = ingest_settings.model_copy(
        update={"syslog_enabled": False, "relp_enabled": False, "ingest_http_port": free_port()}
    )
    with running(settings) as ports:
        url = f"http://127.0.0.1:{ports['http']}/api/ingest/zaaksysteem"
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "e2e"}
        first = httpx.post(url, content=orjson.dumps(ECS), headers=headers)
        again = httpx.post(url, content=orjson.dumps(ECS), headers=headers)
        assert first.status_code == again.status_code == 200
        assert first.json()["accepted"] == 1
        with open_spool(settings) as spool:  # acknowledged means committed (counted with it)
            assert [(c.source, c.parsed) for c in spool.counters()] == [("http/zaaksysteem", 1)]
    with SqliteEventStore(settings.event_db_path) as store:
        assert store.count(EventQuery()) == 1


def test_dashboard_route_redirects_to_the_collector(ingest_settings: Settings, token: str) -> None:
    with TestClient(create_app(ingest_settings), follow_redirects=False) as dashboard:
        response = post(dashboard, orjson.dumps(ECS), token)
        assert response.status_code == 308
        assert response.headers["Location"] == "http://testserver:8123/api/ingest/zaaksysteem"
        assert post(dashboard, orjson.dumps(ECS), "dwi_wrong").status_code == 401
        assert post(dashboard, orjson.dumps(ECS), token, source="brp").status_code == 403
    assert drained(ingest_settings) == (0, 0)  # the dashboard stored nothing


def test_metrics_text_format(
    client: StarletteClient, token: str, ingest_settings: Settings
) -> None:
    """The collector part of /metrics (the route itself is admin-only: tests/dashboard)."""
    from datetime import timedelta

    from prometheus_client import CollectorRegistry, generate_latest

    from collectors.metrics import SourceCollector, source_status
    from collectors.spool import open_spool

    post(client, orjson.dumps(ECS) + b"\n{bad", token)
    silent_after = timedelta(minutes=ingest_settings.source_silent_minutes)
    with open_spool(ingest_settings) as spool:
        statuses = source_status(
            counters=spool.counters(), now=datetime.now(UTC), silent_after=silent_after
        )
        pending = spool.pending()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        SourceCollector(statuses=statuses, spool_pending=pending, silent_after=silent_after)
    )
    lines = generate_latest(registry).decode().splitlines()
    assert "# TYPE dijkwacht_collector_received_total counter" in lines
    # prometheus_client writes every value as a float (`2.0`); compare numbers, not text.
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line[0] != "#"
    }
    assert values['dijkwacht_collector_received_total{source="http/zaaksysteem"}'] == 2
    assert values['dijkwacht_collector_parsed_total{source="http/zaaksysteem"}'] == 1
    assert values['dijkwacht_collector_dead_lettered_total{source="http/zaaksysteem"}'] == 1
    assert values['dijkwacht_collector_source_silent{source="http/zaaksysteem"}'] == 0
    assert values["dijkwacht_spool_pending"] == 2
    for line in lines:  # every sample line is `name{labels} number`
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_port_in_use_names_the_setting(ingest_settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = ingest_settings.model_copy(update={"ingest_http_port": port})
        server = HttpIngestServer(settings=settings, enrich=None)
        with pytest.raises(
            ConfigError, match=f"ingest_http_port: cannot listen on 127.0.0.1:{port}"
        ):
            asyncio.run(server.start())
        server.worker.close()
