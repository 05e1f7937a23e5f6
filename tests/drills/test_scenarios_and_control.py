"""Scenario validation with located errors, frozen criteria, the run lock, pause and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.errors import ConflictError
from drills import control, criteria, scenarios, service
from drills.models import Exercise
from drills.scenarios import SCENARIO_DIR, parse
from tests.drills.conftest import PARTICIPANTS

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_library_has_the_eight_required_scenarios_and_is_valid() -> None:
    library = service.load_library()
    assert {
        "ransomware-fileservers",
        "ddos-inwonersportaal",
        "digid-storing",
        "brand-datacentrum",
        "insider-datalek",
        "phishinggolf",
        "saas-leverancier",
        "ethische-hacker-afpersing",
    } <= set(library)
    for loaded in library.values():
        scenario = loaded.scenario
        assert scenario.objectives and scenario.msel and scenario.expectations
        assert {
            "burgemeester",
            "gemeentesecretaris",
            "ciso",
            "fg",
            "communicatie",
            "it",
            "veiligheidsregio",
        } <= set(scenario.roles)
        assert {i.kind for i in scenario.msel} & {"press", "social", "phone"}


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    text = (SCENARIO_DIR / "digid_storing.yml").read_text(encoding="utf-8")
    broken = text.replace(
        "    to: [communicatie]\n    from: KCC", "    to: [wethouder]\n    from: KCC", 1
    )
    broken = broken.replace("within_minutes: 90", "within_minutes: -5", 1)
    path = tmp_path / "kapot.yml"
    path.write_text(broken, encoding="utf-8")
    issues = scenarios.check_directory(tmp_path)
    lines = broken.splitlines()
    by_field = {issue.field: issue for issue in issues}
    assert "msel[1].to[0]" in by_field and "expectations[1].within_minutes" in by_field
    for field, needle in (("msel[1].to[0]", "wethouder"), ("expectations[1].within_minutes", "-5")):
        issue = by_field[field]
        assert issue.source == str(path)
        assert issue.line is not None and needle in lines[issue.line - 1]
        assert str(issue).startswith(f"{path}:{issue.line}: {field}: ")


def test_cross_field_check_reports_unknown_role_at_its_line() -> None:
    text = (SCENARIO_DIR / "digid_storing.yml").read_text(encoding="utf-8")
    text = text.replace(
        "roles: [burgemeester, gemeentesecretaris, ciso, fg, communicatie, it, veiligheidsregio]",
        "roles: [burgemeester, ciso, fg, communicatie, it]",
    )
    loaded, issues = parse(text, file="x.yml")
    assert loaded is None
    assert any(
        i.field == "expectations[2].role" and "gemeentesecretaris" in i.message for i in issues
    )
    issue = next(i for i in issues if i.field == "expectations[2].role")
    assert (
        issue.line is not None and "role: gemeentesecretaris" in text.splitlines()[issue.line - 1]
    )


def _exercise(db: Session, clock: FrozenClock, scenario: str = "digid-storing") -> Exercise:
    return control.create_exercise(
        db=db,
        clock=clock,
        loaded=service.get_scenario(scenario),
        mode="tabletop",
        controller="oefenleider",
        participants=PARTICIPANTS,
        actor="test",
    )


def test_criteria_are_frozen_at_start_and_changes_are_refused(db: Session) -> None:
    clock = FrozenClock(START)
    exercise = _exercise(db, clock)
    new = [
        {
            "id": "c1",
            "metric": "communicate",
            "limit_minutes": 60,
            "text": "Bericht binnen een uur.",
        }
    ]
    service.declare_criteria(
        db=db, clock=clock, exercise_id=exercise.id, criteria=new, actor="test"
    )
    started = service.start(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    assert started.criteria_sha256 and len(started.criteria_sha256) == 64
    with pytest.raises(ConflictError, match="criteria: frozen"):
        service.declare_criteria(
            db=db, clock=clock, exercise_id=exercise.id, criteria=new * 1, actor="x"
        )
    assert criteria.verify(service.get_exercise(db=db, exercise_id=exercise.id))
    # A change made behind the service's back is caught by the hash.
    db.execute(
        update(Exercise)
        .where(Exercise.id == exercise.id)
        .values(criteria=[{**new[0], "limit_minutes": 600}])
    )
    db.commit()
    db.expire_all()
    assert not criteria.verify(service.get_exercise(db=db, exercise_id=exercise.id))


def test_the_same_exercise_cannot_run_twice_and_the_clock_pauses(db: Session) -> None:
    clock = FrozenClock(START)
    exercise = _exercise(db, clock)
    service.start(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    with pytest.raises(ConflictError):
        service.start(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    # A second exercise of the same series (same schedule) is refused by the lock row.
    twin = _exercise(db, clock)
    db.execute(update(Exercise).where(Exercise.id == twin.id).values(series=exercise.series))
    db.commit()
    with pytest.raises(ConflictError, match="already running"):
        service.start(db=db, clock=clock, exercise_id=twin.id, actor="test")
    clock.advance(timedelta(minutes=10))
    service.pause(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    clock.advance(timedelta(hours=3))
    paused = service.get_exercise(db=db, exercise_id=exercise.id)
    assert service.scenario_minutes(paused, clock.now()) == pytest.approx(10)
    service.resume(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    service.advance(db=db, clock=clock, exercise_id=exercise.id, actor="test", at_minute=60)
    assert (
        service.scenario_minutes(service.get_exercise(db=db, exercise_id=exercise.id), clock.now())
        == 60
    )
    service.stop(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    db.execute(update(Exercise).where(Exercise.id == twin.id).values(status="planned"))
    db.commit()
    assert service.start(db=db, clock=clock, exercise_id=twin.id, actor="test").status == "running"
