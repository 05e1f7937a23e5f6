"""Elasticsearch specifics: index layout, ECS mappings, partial failures, back-off, factory.

The contract every backend shares is in contract/. Everything here runs against
the real server from scripts/test-services.sh, except the 429 back-off test: a real cluster
cannot be made to refuse with 429 on demand, so that one drives `bulk` (with the real client)
against a scripted HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.config import load_settings
from core.errors import ConfigError
from core.events import new_event
from core.store import es_common
from core.store.base import EventQuery
from core.store.elasticsearch import ElasticsearchEventStore
from tests.services import unique_name

T0 = datetime(2024, 9, 1, 23, 59, tzinfo=UTC)


@pytest.fixture
def store(es_url: str) -> Iterator[ElasticsearchEventStore]:
    prefix = unique_name("estest-")
    opened = ElasticsearchEventStore.open(es_url, prefix=prefix, refresh="wait_for")
    try:
        yield opened
    finally:
        opened.client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        opened.client.indices.delete_index_template(name=f"{prefix}-*")
        opened.close()


def event(minute: int, **fields: Any) -> dict[str, Any]:
    return new_event(
        timestamp=T0 + timedelta(minutes=minute),
        dataset="system.auth",
        original=f"event {minute}",
        fields={"host.name": "web-01", **fields},
    )


def test_daily_indices_behind_the_read_alias_with_ecs_types(
    store: ElasticsearchEventStore,
) -> None:
    store.add_batch([event(0, **{"source.ip": "10.0.0.5"}), event(2), event(60 * 24 + 2)])
    indices = store.client.indices.get_alias(name=store.alias)
    assert sorted(indices) == [
        f"{store.alias}-2024.09.01",
        f"{store.alias}-2024.09.02",
        f"{store.alias}-2024.09.03",
    ]
    mapping = store.client.indices.get_mapping(index=f"{store.alias}-2024.09.01")
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["source"]["properties"]["ip"]["type"] == "ip"
    assert properties["@timestamp"]["type"] == "date"
    assert properties["event"]["properties"]["original"]["type"] == "text"
    assert properties["event"]["properties"]["ingested"]["type"] == "date"
    assert properties["process"]["properties"]["pid"]["type"] == "long"
    assert store.count(EventQuery()) == 3


def test_unknown_fields_are_keywords_whatever_their_json_type(
    store: ElasticsearchEventStore,
) -> None:
    # Raw Windows fields arrive as a number in one event and a string in the next.
    store.add_batch([event(0, **{"winlog.event_data.LogonType": 3})])
    store.add_batch([event(1, **{"winlog.event_data.LogonType": "Network"})])
    assert store.count(EventQuery(filters={"winlog.event_data.LogonType": "3"})) == 1
    assert store.list_dead_letters() == []


def test_refused_documents_go_to_dead_letters_with_the_reason(
    store: ElasticsearchEventStore,
) -> None:
    ids = store.add_batch([event(0), event(1, **{"source.ip": "not-an-ip"}), event(2)])
    assert len(ids) == 3
    assert store.count(EventQuery()) == 2
    [letter] = store.list_dead_letters()
    assert letter.source == f"elasticsearch:{store.alias}"
    assert ids[1] in letter.reason and "source.ip" in letter.reason
    assert b"not-an-ip" in letter.raw


def test_event_ingested_is_set_at_write(store: ElasticsearchEventStore) -> None:
    before = datetime.now(UTC)
    [event_id] = store.add_batch([event(0)])
    ingested = datetime.fromisoformat(store.get(event_id).event["event"]["ingested"])
    assert before - timedelta(seconds=1) <= ingested <= datetime.now(UTC)


class _Busy(ThreadingHTTPServer):
    """A scripted Elasticsearch on 127.0.0.1: `_bulk` refuses even positions with 429 for
    `times` rounds. The real client talks to it over HTTP."""

    def __init__(self, times: int) -> None:
        super().__init__(("127.0.0.1", 0), _BusyHandler)
        self.times = times
        self.calls: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _BusyHandler(BaseHTTPRequestHandler):
    server: _Busy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        lines = body.strip().split(b"\n")
        count = len(lines) // 2
        self.server.calls.append(count)
        busy = len(self.server.calls) <= self.server.times
        items = [
            {
                "create": {
                    "_id": json.loads(lines[2 * i])["create"]["_id"],
                    "status": 429 if busy and i % 2 == 0 else 201,
                }
            }
            for i in range(count)
        ]
        answer = json.dumps({"errors": busy, "took": 1, "items": items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_PUT = do_POST  # the client sends `_bulk` as PUT

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def busy_cluster(times: int) -> Iterator[tuple[_Busy, Any]]:
    from elasticsearch import Elasticsearch

    server = _Busy(times)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = Elasticsearch(server.url, max_retries=0)
    try:
        yield server, client
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def _creates(count: int) -> list[tuple[bytes, bytes | None]]:
    return [(f'{{"create":{{"_id":"d{i}"}}}}'.encode(), b"{}") for i in range(count)]


def test_bulk_retries_429_with_back_off_until_accepted() -> None:
    delays: list[float] = []
    with busy_cluster(times=2) as (server, client):
        failures = es_common.bulk(client, _creates(6), sleep=delays.append)
    assert failures == []
    # Only refused documents are sent again: 6, then 3 (positions 0, 2, 4), then 2 (0 and 4).
    assert server.calls == [6, 3, 2]
    assert len(delays) == 2


def test_bulk_gives_up_after_the_retry_budget() -> None:
    policy = es_common.RetryPolicy(attempts=3, first_delay_s=0.0)
    refused = pytest.raises(es_common.StoreUnavailableError, match="429")
    with busy_cluster(times=100) as (server, client), refused:
        es_common.bulk(client, _creates(2), policy=policy)
    assert len(server.calls) == 3


def test_bulk_backs_off_while_the_cluster_is_unreachable() -> None:
    from elasticsearch import Elasticsearch

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Elasticsearch(f"http://127.0.0.1:{port}", max_retries=0)
    delays: list[float] = []
    policy = es_common.RetryPolicy(attempts=3, first_delay_s=0.0)
    with pytest.raises(es_common.StoreUnavailableError, match="after 3 attempts"):
        es_common.bulk(client, _creates(2), policy=policy, sleep=delays.append)
    client.close()
    assert len(delays) == 2


def test_factory_opens_elasticsearch_stores(es_url: str, tmp_path: Path) -> None:
    from core.store.elasticsearch_alerts import ElasticsearchAlertStore
    from core.store.factory import open_alert_store, open_event_store

    prefix = unique_name("factory-")
    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        event_store="elasticsearch",
        elasticsearch_url=es_url,
        elasticsearch_prefix=prefix,
    )
    events, alerts = open_event_store(settings), open_alert_store(settings)
    try:
        assert isinstance(events, ElasticsearchEventStore)
        assert isinstance(alerts, ElasticsearchAlertStore)
        assert events.alias == f"{prefix}-events" and alerts.alias == f"{prefix}-alerts"
    finally:
        assert isinstance(events, ElasticsearchEventStore)
        events.client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        events.client.indices.delete_index_template(name=f"{prefix}-*")
        events.close()
        alerts.close()


def test_unreachable_elasticsearch_is_a_clear_config_error(tmp_path: Path) -> None:
    from core.store.factory import open_event_store

    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        event_store="elasticsearch",
        elasticsearch_url="http://127.0.0.1:1",
    )
    with pytest.raises(ConfigError, match="DIJKWACHT_ELASTICSEARCH_URL"):
        open_event_store(settings)
