"""Retro-hunt over the Elasticsearch event store (the scale-out backend), on the test server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.clock import FrozenClock
from core.config import load_settings
from core.events import new_event
from core.store.elasticsearch import ElasticsearchEventStore
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from intel import indicators
from intel.flows import hunt_keys
from intel.schemas import IndicatorRecord, Parsed
from tests.intel.conftest import NOW
from tests.services import unique_name


def test_hunt_reads_elasticsearch_and_alerts_once(es_url: str, tmp_path: Path) -> None:
    prefix = unique_name("intelhunt-")
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        event_store="elasticsearch",
        elasticsearch_url=es_url,
        elasticsearch_prefix=prefix,
    )
    clock = FrozenClock(NOW)
    store = ElasticsearchEventStore.open(es_url, prefix=prefix, refresh="wait_for")
    try:
        store.add_batch(
            [
                new_event(
                    timestamp=NOW - timedelta(hours=hours),
                    dataset="dns",
                    original="q",
                    fields={"dns.question.name": name},
                )
                for hours, name in ((1, "x.bad.example"), (2, "good.example"), (100, "bad.example"))
            ]
        )
        migrate(settings)
        engine = create_db_engine(settings)
        sessions = create_session_factory(engine)
        parsed = Parsed(records=[IndicatorRecord(type="domain", value="bad.example")])
        with unit_of_work(sessions) as db:
            indicators.apply_import(
                db=db, clock=clock, parsed=parsed, source="s", location="-", fmt="csv", actor="t"
            )
        report, ids = hunt_keys(settings=settings, clock=clock, sessions=sessions, keys=None)
        assert (report.events, report.matches, report.alerts, len(ids)) == (2, 1, 1, 1)
        again, ids = hunt_keys(settings=settings, clock=clock, sessions=sessions, keys=None)
        assert (again.matches, again.alerts, ids) == (1, 0, [])  # 100 h ago: outside 72 h
        engine.dispose()
    finally:
        store.client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        store.client.indices.delete_index_template(name=f"{prefix}-*")
        store.close()
