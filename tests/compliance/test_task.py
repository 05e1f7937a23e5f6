"""The beat entry and the `compliance.check` task run in-process against a fresh platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import get_settings, load_settings
from dijkwacht.celery_app import beat_schedule


def test_beat_runs_the_compliance_check_at_the_configured_interval(tmp_path: Path) -> None:
    settings = load_settings(
        environment="test", data_dir=tmp_path / "data", compliance_check_every_seconds=900
    )
    entry = beat_schedule(settings)["compliance-check"]
    # Beat asks every 5 minutes; the task runs the check when the last one is 900 s old.
    assert entry["task"] == "compliance.check" and entry["schedule"].total_seconds() == 300


def test_the_task_verifies_the_chain_checks_and_delivers_one_alert_per_red_measure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.tasks import check
    from core.audit import verifications
    from core.store.base import AlertQuery
    from core.store.factory import open_alert_store
    from core.store.relational import create_db_engine, create_session_factory, migrate

    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    get_settings.cache_clear()
    migrate(get_settings())  # as `dijkwacht up` does before it starts the worker
    first = check()
    assert first["statuses"]["8.15.06"] == "met"  # the task's own verification counts
    assert first["statuses"]["5.30.01"] == "not_met" and "5.30.01" in first["alerted"]
    assert first["delivered"] == len(first["alerted"])
    assert "skipped" in check()  # the last check is younger than the interval
    second = check(force=True)
    assert second["alerted"] == [] and second["delivered"] == 0

    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            runs = verifications(db=db)
    finally:
        engine.dispose()
    assert [run.actor for run in runs] == ["scheduler", "scheduler"] and all(r.ok for r in runs)
    store = open_alert_store(settings)
    try:
        found = store.search(AlertQuery(rule_ids=["dijkwacht.compliance"], limit=50))
    finally:
        store.close()
    measures = sorted(a.body["dijkwacht.compliance"]["measure"] for a in found)
    assert measures == sorted(first["alerted"])
    continuity = next(a for a in found if a.body["dijkwacht.compliance"]["measure"] == "5.30.01")
    assert continuity.body["dijkwacht.compliance"]["owner"] == "crisis_team"
    assert continuity.rule_title.startswith("BIO2 5.30.01 niet voldaan")


def test_checks_and_the_auditor_role_on_both_backends(db_settings: object) -> None:
    """Migration bio2_01 widens the role check and adds the tables on SQLite and PostgreSQL."""
    from compliance import service
    from core.accounts.service import create_user
    from core.clock import SystemClock
    from core.config import Settings
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import unit_of_work

    assert isinstance(db_settings, Settings)
    migrate(db_settings)
    engine = create_db_engine(db_settings)
    sessions = create_session_factory(engine)
    try:
        with unit_of_work(sessions) as db:
            user = create_user(
                db=db, username="jan", password="een lang wachtwoord 123", role="auditor",
                clock=SystemClock(),
            )  # fmt: skip
            assert user.role.value == "auditor"
        for _ in range(2):
            with unit_of_work(sessions) as db:
                run = service.run_checks(
                    db=db, clock=SystemClock(), settings=db_settings, actor="t"
                )
        assert run.alerted == []  # the second run: still red, no new alert
        with unit_of_work(sessions, write=False) as db:
            _, views = service.measure_views(db=db, evidence=True)
        assert {v.measure.id: v.status for v in views}["5.30.01"] == "not_met"
    finally:
        engine.dispose()
