"""The indicator store on both relational backends (SQLite and PostgreSQL): import, update,
warninglist, list, expire, sightings."""

from __future__ import annotations

from datetime import timedelta

from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from intel import indicators, service
from intel.schemas import IndicatorRecord, Parsed, WarninglistRecord
from tests.intel.conftest import NOW


def test_indicator_life_cycle(db_settings: Settings) -> None:
    migrate(db_settings)
    engine = create_db_engine(db_settings)
    sessions = create_session_factory(engine)
    clock = FrozenClock(NOW)
    first = Parsed(
        records=[
            IndicatorRecord(type="ipv4", value="192.0.2.1", techniques=("T1071",), group_key="g"),
            IndicatorRecord(type="domain", value="a.example", group_key="g"),
        ]
    )
    again = Parsed(
        records=[IndicatorRecord(type="ipv4", value="192.0.2.1", techniques=("T1566",))],
        warninglists=[WarninglistRecord(name="w", kind="hostname", values=["a.example"])],
    )
    try:
        with unit_of_work(sessions) as db:
            report = indicators.apply_import(
                db=db, clock=clock, parsed=first, source="s", location="-", fmt="csv", actor="t"
            )
            assert (report.added, report.new_keys) == (2, ["ipv4:192.0.2.1", "domain:a.example"])
        clock.advance(timedelta(hours=1))
        with unit_of_work(sessions) as db:
            report = indicators.apply_import(
                db=db, clock=clock, parsed=again, source="s", location="-", fmt="csv", actor="t"
            )
            assert (report.updated, report.warninglisted, report.added) == (1, 1, 0)
        with unit_of_work(sessions, write=False) as db:
            rows, total = service.list_indicators(
                db=db, clock=clock, settings=db_settings, active=True
            )
            assert total == 1 and rows[0].techniques == ("T1071", "T1566")
            assert rows[0].last_seen == NOW + timedelta(hours=1)
            assert indicators.current_version(db=db) == 2
        with unit_of_work(sessions) as db:
            assert service.expire(db=db, clock=clock, settings=db_settings, source="s") == 1
        with unit_of_work(sessions, write=False) as db:
            assert indicators.build_matcher(db=db, clock=clock, settings=db_settings).size == 0
    finally:
        engine.dispose()
