"""Expected log sources: a source that never arrives or goes silent raises one alert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from collectors.expected import RULE_ID as SILENT_SOURCE_RULE_ID
from collectors.metrics import source_status
from collectors.service import (
    check_expected,
    expect_source,
    forget_source,
)
from collectors.spool import SourceCounters
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from core.store.base import AlertQuery, AlertStore
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory, migrate

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SILENT_AFTER = timedelta(minutes=15)


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def alerts(settings: Settings) -> Iterator[AlertStore]:
    store = open_alert_store(settings)
    try:
        yield store
    finally:
        store.close()


def _silent_alerts(store: AlertStore) -> list[str]:
    found = store.search(AlertQuery(rule_ids=[SILENT_SOURCE_RULE_ID], limit=100))
    return sorted(str(a.body["source"]) for a in found)


def test_status_lists_an_expected_source_never_seen_as_missing() -> None:
    seen = SourceCounters("syslog:fw01", 10, 10, 0, 0, NOW - timedelta(minutes=20))
    statuses = source_status(
        counters=[seen],
        now=NOW,
        silent_after=SILENT_AFTER,
        expected={"syslog:fw01": timedelta(minutes=30), "exchange01": SILENT_AFTER},
    )
    by_name = {s.counters.source: s for s in statuses}
    assert not by_name["syslog:fw01"].silent  # 20 min, but its own limit is 30
    assert by_name["exchange01"].missing and by_name["exchange01"].silent
    # Without the list nothing changes: unseen sources are not listed, 20 min is silent.
    [plain] = source_status(counters=[seen], now=NOW, silent_after=SILENT_AFTER)
    assert plain.silent and not plain.expected


def test_a_source_that_never_arrives_raises_one_alert(db: Session, alerts: AlertStore) -> None:
    clock = FrozenClock(NOW)
    expect_source(db=db, clock=clock, name="exchange01", max_silence_minutes=30, actor="t")
    expect_source(db=db, clock=clock, name="syslog:fw01", max_silence_minutes=30, actor="t")
    fresh = [SourceCounters("syslog:fw01", 5, 5, 0, 0, NOW - timedelta(minutes=1))]
    report = check_expected(
        db=db, clock=clock, counters=fresh, alert_store=alerts, silent_after=SILENT_AFTER
    )
    assert report.alerted == ["exchange01"]
    [alert] = alerts.search(AlertQuery(rule_ids=[SILENT_SOURCE_RULE_ID]))
    assert alert.level == "high" and alert.body["never_seen"] is True
    assert "never arrived" in alert.rule_title
    again = check_expected(
        db=db, clock=clock, counters=fresh, alert_store=alerts, silent_after=SILENT_AFTER
    )
    assert again.alerted == [] and again.still_silent == ["exchange01"]
    assert _silent_alerts(alerts) == ["exchange01"]


def test_a_silent_source_alerts_again_only_after_it_came_back(
    db: Session, alerts: AlertStore
) -> None:
    clock = FrozenClock(NOW)
    expect_source(db=db, clock=clock, name="syslog:fw01", max_silence_minutes=30, actor="t")

    def check(last_seen: datetime) -> list[str]:
        counters = [SourceCounters("syslog:fw01", 5, 5, 0, 0, last_seen)]
        report = check_expected(
            db=db, clock=clock, counters=counters, alert_store=alerts, silent_after=SILENT_AFTER
        )
        return report.alerted

    assert check(NOW - timedelta(minutes=29)) == []
    assert check(NOW - timedelta(minutes=31)) == ["syslog:fw01"]
    assert check(NOW - timedelta(minutes=45)) == []  # the same silence
    assert check(NOW) == []  # back
    clock.advance(timedelta(hours=1))
    assert check(NOW) == ["syslog:fw01"]  # a new silence
    assert _silent_alerts(alerts) == ["syslog:fw01", "syslog:fw01"]


def test_bad_input_names_the_field_and_forgetting_stops_alerts(
    db: Session, alerts: AlertStore
) -> None:
    clock = FrozenClock(NOW)
    with pytest.raises(ValidationError, match="max_silence_minutes"):
        expect_source(db=db, clock=clock, name="x", max_silence_minutes=0, actor="t")
    with pytest.raises(ValidationError, match="name"):
        expect_source(db=db, clock=clock, name=" ", max_silence_minutes=5, actor="t")
    expect_source(db=db, clock=clock, name="gone", max_silence_minutes=5, actor="t")
    forget_source(db=db, clock=clock, name="gone", actor="t")
    report = check_expected(
        db=db, clock=clock, counters=[], alert_store=alerts, silent_after=SILENT_AFTER
    )
    assert report.alerted == []


def test_the_beat_schedule_checks_expected_sources(settings: Settings) -> None:
    from dijkwacht.celery_app import beat_schedule

    entry = beat_schedule(settings)["collectors-check-expected-sources"]
    assert entry["task"] == "collectors.check_expected_sources"
    assert entry["schedule"] == timedelta(seconds=settings.expected_source_check_seconds)


def test_the_task_alerts_on_a_source_the_spool_never_saw(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectors.spool import open_spool
    from collectors.tasks import check_expected_sources
    from core.clock import SystemClock
    from core.config import get_settings
    from core.store.unit_of_work import unit_of_work

    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(settings.resolved_data_dir))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    get_settings.cache_clear()
    migrate(settings)
    with open_spool(settings) as spool:
        spool.append([{"message": "hello"}], source="syslog:fw01")
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            for name in ("syslog:fw01", "exchange01"):
                expect_source(
                    db=db, clock=SystemClock(), name=name, max_silence_minutes=30, actor="t"
                )
    finally:
        engine.dispose()
    assert check_expected_sources() == {"alerted": ["exchange01"], "recovered": []}
    assert check_expected_sources() == {"alerted": [], "recovered": []}
    store = open_alert_store(settings)
    try:
        assert _silent_alerts(store) == ["exchange01"]
    finally:
        store.close()


def test_too_few_records_per_hour_raise_one_low_volume_alert(
    db: Session, alerts: AlertStore
) -> None:
    from collectors.expected import LOW_VOLUME_RULE_ID

    clock = FrozenClock(NOW)
    expect_source(
        db=db, clock=clock, name="syslog:fw01", max_silence_minutes=30, expected_per_hour=100,
        actor="t",
    )  # fmt: skip

    def check(received: int) -> list[str]:
        counters = [SourceCounters("syslog:fw01", received, received, 0, 0, clock.now())]
        report = check_expected(
            db=db, clock=clock, counters=counters, alert_store=alerts, silent_after=SILENT_AFTER
        )
        clock.advance(timedelta(minutes=61))
        return report.low_volume

    assert check(1000) == []  # the first look sets the mark
    assert check(1120) == []  # 120 in an hour: fine
    assert check(1150) == ["syslog:fw01"]  # 30 in an hour: fewer than half
    assert check(1170) == []  # still low, already said
    assert check(1300) == []  # back to normal
    assert check(1310) == ["syslog:fw01"]  # a new low spell
    found = alerts.search(AlertQuery(rule_ids=[LOW_VOLUME_RULE_ID]))
    assert len(found) == 2 and found[0].body["expected_per_hour"] == 100
