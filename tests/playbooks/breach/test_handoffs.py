"""Playbook hand-offs open a breach automatically, exactly once, keeping the exercise id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from playbooks import service
from playbooks.breach import register
from playbooks.breach.handoffs import accept_pending_handoffs, breach_for_incident
from playbooks.schemas import LoadedPlaybook

PLAYBOOK = """\
id: test-handoff
title: Test hand-off
version: 1
description: Hands the incident to the DPO at once.
severity: medium
auto_start: false
trigger:
  rule_ids: [test-rule]
  personal_data: true
steps:
  - id: dpo
    type: handoff
    title: Draag over aan de FG
    target: breach
    reason: Persoonsgegevens mogelijk ingezien
"""


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    migrate(settings)  # hand-offs need the playbooks tables (incidents: cases01) and more
    engine = create_db_engine(settings)
    with create_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def playbook(tmp_path: Path) -> LoadedPlaybook:
    path = tmp_path / "test_handoff.yml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return service.load_file(path)


def handoff_incident(
    db: Session, clock: FrozenClock, playbook: LoadedPlaybook, exercise_id: str | None = None
) -> int:
    incident = service.create_incident(
        db=db, clock=clock, title="Medewerker zocht BRP-gegevens op", severity="high",
        actor="ali", personal_data=True, exercise_id=exercise_id,
    )  # fmt: skip
    service.add_observable(
        db=db, clock=clock, incident_id=incident.id, kind="host", value="brp01", actor="ali"
    )
    service.start_run(db=db, clock=clock, incident_id=incident.id, loaded=playbook, actor="ali")
    return incident.id


def test_each_pending_handoff_opens_one_breach_once(
    db: Session, clock: FrozenClock, settings: Settings, playbook: LoadedPlaybook
) -> None:
    real = handoff_incident(db, clock, playbook)
    drill = handoff_incident(db, clock, playbook, exercise_id="drill-9")
    assert len(service.handoffs_pending(db=db)) == 2
    requested = clock.now()
    clock.advance(timedelta(minutes=2))
    taken = accept_pending_handoffs(db=db, clock=clock, settings=settings)
    assert [b.origin_ref for b in taken] == [str(real), str(drill)]
    assert service.handoffs_pending(db=db) == []
    for _ in range(3):
        assert accept_pending_handoffs(db=db, clock=clock, settings=settings) == []
    assert len(register.list_breaches(db=db)) == 2
    breach = breach_for_incident(db=db, incident_id=real)
    assert breach is not None and breach.exercise_id is None
    assert breach.reference.startswith("DL-") and breach.origin == "incident"
    assert breach.aware_at == requested  # the clock runs from the hand-off, not the pickup
    assert "brp01" in breach.systems and "Persoonsgegevens mogelijk ingezien" in breach.facts
    exercise = breach_for_incident(db=db, incident_id=drill)
    assert exercise is not None and exercise.exercise_id == "drill-9"
    assert exercise.reference.startswith("OEF-")
    actions = [c.action for c in register.history(db=db, breach_id=breach.id)]
    assert actions == ["opened", "handoff_accepted"]
    timeline = [e.action for e in service.timeline(db=db, incident_id=real)]
    assert "handoff.accepted" in str(timeline)


def test_an_incident_that_already_has_a_breach_is_linked_not_opened_twice(
    db: Session, clock: FrozenClock, settings: Settings, playbook: LoadedPlaybook
) -> None:
    incident_id = handoff_incident(db, clock, playbook)
    # As if an earlier attempt opened the breach and died before accepting the hand-off.
    first = register.open_from_incident(
        db=db, clock=clock, settings=settings, actor="fenna", incident_id=str(incident_id),
        summary="Al geopend",
    )  # fmt: skip
    assert [b.id for b in accept_pending_handoffs(db=db, clock=clock, settings=settings)] == [
        first.id
    ]
    assert len(register.list_breaches(db=db)) == 1
    assert service.handoffs_pending(db=db) == []
