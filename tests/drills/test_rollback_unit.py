"""A drill rollback is one unit of work: a fault half-way leaves every relational row in place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import audit
from core.clock import FrozenClock
from core.config import Settings
from core.store.factory import open_alert_store, open_event_store
from core.store.relational import create_session_factory
from core.store.unit_of_work import unit_of_work
from drills import control, service
from playbooks import service as playbooks

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Fault(Exception):
    """Raised by the audit write: the last step of the rollback."""


def _stopped_exercise_with_an_incident(db: Session, clock: FrozenClock) -> tuple[str, int]:
    exercise = control.create_exercise(
        db=db,
        clock=clock,
        loaded=service.get_scenario("insider-datalek"),
        mode="tabletop",
        controller="oefenleider",
        participants=[],
        actor="test",
    )
    service.start(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    incident = playbooks.create_incident(
        db=db, clock=clock, title="Oefenincident", severity="low", actor="test",
        exercise_id=exercise.id,
    )  # fmt: skip
    service.stop(db=db, clock=clock, exercise_id=exercise.id, actor="test")
    return exercise.id, incident.id


def _state(factory: Any, exercise_id: str, incident_id: int) -> tuple[str, bool]:
    with unit_of_work(factory, write=False) as db:
        status = service.get_exercise(db=db, exercise_id=exercise_id).status
        found = any(i.id == incident_id for i in playbooks.list_incidents(db=db))
        return status, found


def test_a_fault_during_rollback_removes_nothing_and_a_retry_removes_everything(
    db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock(START)
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    factory = create_session_factory(engine)
    with unit_of_work(factory) as setup:
        exercise_id, incident_id = _stopped_exercise_with_an_incident(setup, clock)
    events, alerts = open_event_store(settings), open_alert_store(settings)
    try:

        def rollback() -> dict[str, int]:
            with unit_of_work(factory) as unit:  # what `dijkwacht drills rollback` opens
                return service.rollback(
                    db=unit, clock=clock, exercise_id=exercise_id, events=events,
                    alerts=alerts, actor="test",
                )  # fmt: skip

        def fail(**_: Any) -> None:
            raise Fault("audit log unavailable")

        with monkeypatch.context() as patch:
            patch.setattr(audit, "record", fail)
            with pytest.raises(Fault):
                rollback()
        # The incident was deleted and the exercise marked in the session, then rolled back.
        assert _state(factory, exercise_id, incident_id) == ("stopped", True)
        removed = rollback()
        assert removed["incidents"] == 1
        assert _state(factory, exercise_id, incident_id) == ("rolled_back", False)
    finally:
        events.close()
        alerts.close()
