"""One contract for every event and alert store backend: SQLite and Elasticsearch.

The same tests run against each backend (parametrised fixtures, here). Backend-specific
behaviour (SQLite pragmas and query plans, Elasticsearch index layout) is tested next to each
backend. `test_contract_coverage.py` fails when a method of `EventStore` or `AlertStore` is
called by no test in this folder. Elasticsearch stores here write with `refresh="wait_for"` so
a write is visible to the next read, as in SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import FrozenClock
from core.store.base import AlertStore, EventStore
from tests.core.store.contract.backend import BACKENDS, Backend
from tests.core.store.sample import T0, sample_events
from tests.services import unique_name


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0 + timedelta(days=1))


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Backend]:
    if request.param == "sqlite":
        from core.store.sqlite_alerts import SqliteAlertStore
        from core.store.sqlite_events import SqliteEventStore

        def open_sqlite() -> tuple[EventStore, AlertStore]:
            return (
                SqliteEventStore(tmp_path / "events.sqlite", clock=clock),
                SqliteAlertStore(tmp_path / "alerts.sqlite", clock=clock),
            )

        sqlite = Backend("sqlite", open_sqlite)
        yield sqlite
        for events, alerts in sqlite.opened:
            events.close()
            alerts.close()
        return
    from core.store import es_common
    from core.store.elasticsearch import ElasticsearchEventStore
    from core.store.elasticsearch_alerts import ElasticsearchAlertStore

    url = request.getfixturevalue("es_url")
    prefix = unique_name("contract-")

    def open_es() -> tuple[EventStore, AlertStore]:
        client = es_common.connect(url)  # each pair owns its client (closing one closes it)
        return (
            ElasticsearchEventStore(client, prefix=prefix, clock=clock, refresh="wait_for"),
            ElasticsearchAlertStore(client, prefix=prefix, clock=clock),
        )

    es = Backend("elasticsearch", open_es)
    try:
        yield es
    finally:
        for events, _ in es.opened:
            events.close()  # the pair's one client
        client = es_common.connect(url)
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        client.indices.delete_index_template(name=f"{prefix}-*")
        client.close()


@pytest.fixture
def stores(backend: Backend) -> tuple[EventStore, AlertStore]:
    return backend.pair()


@pytest.fixture
def store(stores: tuple[EventStore, AlertStore]) -> EventStore:
    return stores[0]


@pytest.fixture
def alerts(stores: tuple[EventStore, AlertStore]) -> AlertStore:
    return stores[1]


@pytest.fixture
def filled(store: EventStore) -> EventStore:
    store.add_batch(sample_events())
    return store
