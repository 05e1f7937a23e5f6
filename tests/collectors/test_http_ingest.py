"""HTTP batch ingest and /metrics through the real app (FastAPI TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from collectors.consumer import SpoolConsumer
from collectors.http_ingest import create_token
from collectors.models import CollectorToken
from collectors.spool import open_spool
from core.config import Settings, load_settings
from core.store.base import EventQuery
from core.store.relational import create_db_engine, create_session_factory
from core.store.sqlite_events import SqliteEventStore
from core.store.unit_of_work import unit_of_work
from dashboard.app import create_app


@pytest.fixture
def ingest_settings(tmp_path: Path) -> Settings:
    return load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        ingest_max_body_bytes=64 * 1024,
        ingest_max_line_bytes=1024,
        spool_max_pending=50,
    )


@pytest.fixture
def token(ingest_settings: Settings) -> str:
    engine = create_db_engine(ingest_settings)
    # Only this test's table: other domains' migrations are not this suite's subject.
    CollectorToken.__table__.create(engine)  # type: ignore[attr-defined]
    with unit_of_work(create_session_factory(engine)) as db:
        value = create_token(db=db, source="zaaksysteem", now=datetime.now(UTC))
    engine.dispose()
    return value


@pytest.fixture
def client(ingest_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(ingest_settings)) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, token: str, source: str = "zaaksysteem") -> object:
    return client.post(
        f"/api/ingest/{source}",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )


ECS = {"@timestamp": "2025-01-31T09:15:00Z", "event": {"kind": "event", "dataset": "zs"}}


def test_good_lines_accepted_bad_lines_reported(
    client: TestClient, token: str, ingest_settings: Settings
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
    assert response.status_code == 200  # type: ignore[attr-defined]
    report = response.json()  # type: ignore[attr-defined]
    assert report["accepted"] == 2
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (3, "line"),
        (4, "@timestamp"),
        (6, "line"),
        (7, "line"),
        (8, "line"),
    ]
    with (
        open_spool(ingest_settings) as spool,
        SqliteEventStore(ingest_settings.event_db_path) as store,
    ):
        SpoolConsumer(spool=spool, store=store, batch_size=10).drain()
        assert store.count(EventQuery()) == 2
        assert len(store.list_dead_letters(source="http/zaaksysteem")) == 5
        (counter,) = spool.counters()
        assert (counter.source, counter.parsed, counter.dead_lettered) == ("http/zaaksysteem", 2, 5)


def test_wrong_token_and_wrong_source_are_401(client: TestClient, token: str) -> None:
    body = orjson.dumps(ECS)
    assert post(client, body, "dwi_wrong").status_code == 401  # type: ignore[attr-defined]
    assert post(client, body, token, source="brp").status_code == 401  # type: ignore[attr-defined]
    no_header = client.post("/api/ingest/zaaksysteem", content=body)
    assert no_header.status_code == 401
    assert token not in no_header.text


def test_oversized_body_is_413(client: TestClient, token: str) -> None:
    body = b"\n".join([orjson.dumps(ECS)] * 2000)  # > 64 KiB
    response = post(client, body, token)
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert "body" in response.json()["detail"]  # type: ignore[attr-defined]


def test_full_spool_is_503_with_retry_after(client: TestClient, token: str) -> None:
    body = b"\n".join([orjson.dumps(ECS)] * 60)
    assert post(client, body, token).status_code == 200  # type: ignore[attr-defined]
    response = post(client, orjson.dumps(ECS), token)
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert int(response.headers["Retry-After"]) > 0  # type: ignore[attr-defined]


def test_metrics_text_format(client: TestClient, token: str) -> None:
    post(client, orjson.dumps(ECS) + b"\n{bad", token)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert "# TYPE dijkwacht_collector_received_total counter" in lines
    assert 'dijkwacht_collector_received_total{source="http/zaaksysteem"} 2' in lines
    assert 'dijkwacht_collector_parsed_total{source="http/zaaksysteem"} 1' in lines
    assert 'dijkwacht_collector_dead_lettered_total{source="http/zaaksysteem"} 1' in lines
    assert 'dijkwacht_collector_source_silent{source="http/zaaksysteem"} 0' in lines
    assert "dijkwacht_spool_pending 2" in lines
    for line in lines:  # every sample line is `name{labels} number`
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])
