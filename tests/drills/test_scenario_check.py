"""`drills check` proves the shipped scenarios can pass, and every technical scenario does pass.

The check runs each scenario's synthetic events through the rule pack in memory; the end-to-end
test plays every shipped technical scenario through the real pipeline (spool, event store,
detection hook, alert store, playbook routing, automatic checks) and asserts each automatic
expectation is met in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from collectors.consumer import SpoolConsumer
from collectors.spool import open_spool
from core.clock import SystemClock
from core.config import Settings, load_settings
from core.store.factory import open_alert_store, open_event_store
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.cli import app as cli_app
from dijkwacht.detection_runtime import DetectionHook
from drills import control, service
from drills.scenarios import SCENARIO_DIR
from playbooks.library import load_library
from playbooks.service import route_new_alerts

TECHNICAL = sorted(
    scenario_id
    for scenario_id, loaded in service.load_library().items()
    if "technical" in loaded.scenario.modes
)


def test_shipped_scenarios_pass_the_check_and_every_detection_is_proven() -> None:
    report = service.check_scenarios(SCENARIO_DIR)
    assert report.ok, [str(issue) for issue in report.issues]
    for scenario_id in TECHNICAL:
        assert any(line.startswith(f"{scenario_id} E1: ") for line in report.checked)
        assert any(
            "synthetic events fire rule" in line and scenario_id in line for line in report.checked
        )


def _copy_with(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    text = (SCENARIO_DIR / "ransomware_fileservers.yml").read_text(encoding="utf-8")
    assert old in text
    (folder / "ransomware_fileservers.yml").write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_unknown_rule_is_located_and_named(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "b19c5e86-81df-56a4-91cb-80ce24589421", "drill-ransomware-rename")
    result = CliRunner().invoke(cli_app, ["drills", "check", str(folder)])
    assert result.exit_code == 1
    assert "ransomware_fileservers.yml:" in result.output
    assert "expectations[0].rule_id: rule 'drill-ransomware-rename' does not exist" in result.output


def test_too_few_events_for_the_rule_threshold_fail_the_check(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "count: 40", "count: 10")
    report = service.check_scenarios(folder)
    assert not report.ok
    (issue,) = report.issues
    assert issue.field == "expectations[0].rule_id" and issue.line and issue.line > 90
    assert "10 synthetic events do not fire rule" in issue.message


def test_inject_after_the_last_expectation_is_reported(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, "at_minute: 300", "at_minute: 2000")
    report = service.check_scenarios(folder)
    assert [i.field for i in report.issues] == ["msel[5].at_minute"]


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[Settings, SpoolConsumer, object, object]]:
    settings = load_settings(environment="test", data_dir=tmp_path / "data")
    migrate(settings)
    events, alerts = open_event_store(settings), open_alert_store(settings)
    consumer = SpoolConsumer(
        spool=open_spool(settings),
        store=events,
        batch_size=500,
        on_batch=DetectionHook(settings=settings),
    )
    try:
        yield settings, consumer, events, alerts
    finally:
        events.close()
        alerts.close()


@pytest.mark.parametrize("scenario_id", TECHNICAL)
def test_every_shipped_technical_scenario_passes_through_the_real_pipeline(
    pipeline: tuple[Settings, SpoolConsumer, object, object], scenario_id: str
) -> None:
    settings, consumer, _events, alerts = pipeline
    clock = SystemClock()
    factory = create_session_factory(create_db_engine(settings))

    def units() -> AbstractContextManager[Session]:
        return unit_of_work(factory)

    with units() as db:
        exercise = control.create_exercise(
            db=db,
            clock=clock,
            loaded=service.get_scenario(scenario_id),
            mode="technical",
            controller="oefenleider",
            participants=[],
            time_scale=60.0,
            actor="oefenleider",
        )
        exercise_id = exercise.id
        service.start(db=db, clock=clock, exercise_id=exercise_id, actor="oefenleider")
    sink = service.spool_sink(settings)
    outcome = service.tick(units=units, clock=clock, settings=settings, alerts=alerts, sink=sink)
    assert "I1" in outcome["released"][exercise_id]
    consumer.drain()
    with units() as db:
        route_new_alerts(db=db, clock=clock, store=alerts, playbooks=load_library())
    service.tick(units=units, clock=clock, settings=settings, alerts=alerts, sink=None)
    with factory() as db:
        automatic = [
            e
            for e in service.expectations(db=db, exercise_id=exercise_id)
            if e.kind in ("detection", "incident")
        ]
        assert any(e.kind == "detection" for e in automatic)
        for expectation in automatic:
            assert expectation.status == "met", (expectation.expectation_id, expectation.note)
            assert expectation.minutes_taken is not None
            assert expectation.minutes_taken <= expectation.within_minutes


def test_a_text_without_english_is_a_located_warning(tmp_path: Path) -> None:
    folder = _copy_with(tmp_path, '    text_en: "Encryption is detected within 15 minutes."\n', "")
    report = service.check_scenarios(folder)
    assert report.ok  # a warning: the English report then shows the Dutch text
    (issue,) = report.issues
    assert issue.severity == "warning" and issue.field == "criteria[0].text"
    assert "detect has no text_en" in issue.message and issue.line
    shipped = service.check_scenarios(SCENARIO_DIR)
    assert not shipped.issues  # every shipped scenario reads in English too
    assert sum("in English too" in line for line in shipped.checked) == 8
