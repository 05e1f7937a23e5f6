"""Routing, runs, approvals, SLAs, hand-offs and the exercise guard, in process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.accounts import Role, User
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ConflictError
from core.store.base import StoredAlert
from playbooks.models import ActionExecution
from playbooks.runs import Units
from playbooks.service import (
    accept_handoff,
    add_observable,
    approve_action,
    complete_task,
    create_incident,
    deliveries_of,
    execute_action,
    find_step,
    handoffs_pending,
    load_library,
    observables_of,
    overdue_steps,
    request_action,
    route_alert,
    runs_of,
    start_run,
)

LIBRARY = load_library()


def _alert(clock: FrozenClock, n: int, **overrides: Any) -> StoredAlert:
    values: dict[str, Any] = {
        "id": f"alert-{n}",
        "created_at": clock.now(),
        "updated_at": clock.now(),
        "rule_id": "dijkwacht-portal-bruteforce",
        "rule_title": "Brute force",
        "level": "medium",
        "status": "new",
        "assignee": None,
        "host_name": "portal-01",
        "user_name": None,
        "exercise_id": None,
        "body": {"source.ip": f"203.0.113.{n}"},
    }
    values.update(overrides)
    return StoredAlert(**values)


def test_alerts_group_within_the_window_and_attach_to_the_open_incident(
    db: Session, clock: FrozenClock
) -> None:
    first, work = route_alert(db=db, clock=clock, alert=_alert(clock, 1), playbooks=LIBRARY)
    assert first.created and first.run_id is not None
    # The source IP comes from log content (spoofable): the block waits for a person.
    assert work == []
    block = find_step(db=db, run_id=first.run_id, step_id="block-source")
    assert block.status == "awaiting_approval" and block.requested_by == "routing"
    assert first.reason.startswith(f"new incident #{first.incident_id} (playbook ")
    clock.advance(timedelta(minutes=30))
    second, work = route_alert(
        db=db, clock=clock, alert=_alert(clock, 2, level="high"), playbooks=LIBRARY
    )
    assert second.incident_id == first.incident_id and not second.created and work == []
    assert "added to open incident" in second.reason and "within 60 minutes" in second.reason
    again, _ = route_alert(db=db, clock=clock, alert=_alert(clock, 2), playbooks=LIBRARY)
    assert again.incident_id == first.incident_id  # routing the same alert twice is a no-op
    clock.advance(timedelta(minutes=61))
    third, _ = route_alert(db=db, clock=clock, alert=_alert(clock, 3), playbooks=LIBRARY)
    assert third.created and third.incident_id != first.incident_id
    values = {o.value for o in observables_of(db=db, incident_id=first.incident_id)}
    assert values == {"portal-01", "203.0.113.1", "203.0.113.2"}
    host = next(o for o in observables_of(db=db, incident_id=third.incident_id) if o.kind == "host")
    assert host.other_incidents == (first.incident_id,)


def test_alerts_no_playbook_selects_get_an_incident_without_a_run(
    db: Session, clock: FrozenClock
) -> None:
    result, work = route_alert(
        db=db, clock=clock, alert=_alert(clock, 1, rule_id="unknown-rule"), playbooks=LIBRARY
    )
    assert result.created and result.run_id is None and work == []


def test_privacy_snooping_hands_off_to_the_breach_workflow_and_notifies_the_dpo(
    db: Session, clock: FrozenClock, make_user: Callable[[str, Role], User]
) -> None:
    alert = _alert(
        clock,
        1,
        rule_id="dijkwacht-brp-snooping",
        user_name="m.devries",
        body={"dijkwacht.subject.pseudonym": "rp_00ff", "tags": ["dijkwacht.privacy.snooping"]},
    )
    result, _ = route_alert(db=db, clock=clock, alert=alert, playbooks=LIBRARY)
    analyst = make_user("analyst1", Role.ANALYST)
    step = find_step(db=db, run_id=result.run_id or 0, step_id="secure-logs")
    work = complete_task(db=db, clock=clock, run_step_id=step.id, user=analyst)
    assert [name for name, _ in work] == ["playbooks.deliver"]
    (handoff,) = handoffs_pending(db=db)
    assert handoff.incident_id == result.incident_id and handoff.target == "breach"
    assert handoff.details["personal_data"] is True
    accept_handoff(db=db, clock=clock, handoff_id=handoff.id, actor="dpo1")
    assert handoffs_pending(db=db) == []
    with pytest.raises(ConflictError):
        accept_handoff(db=db, clock=clock, handoff_id=handoff.id, actor="dpo1")
    pseudonyms = [
        o for o in observables_of(db=db, incident_id=result.incident_id) if o.kind == "pseudonym"
    ]
    assert [o.value for o in pseudonyms] == ["rp_00ff"]


def test_overdue_steps_follow_the_injected_clock(db: Session, clock: FrozenClock) -> None:
    alert = _alert(
        clock, 1, rule_id="dijkwacht-brp-snooping", body={"personal_data": True, "tags": []}
    )
    route_alert(db=db, clock=clock, alert=alert, playbooks=LIBRARY)
    assert overdue_steps(db=db, clock=clock) == []
    clock.advance(timedelta(minutes=61))
    (late,) = overdue_steps(db=db, clock=clock)
    assert late.step_id == "secure-logs" and late.owner_role == "analyst"
    assert late.overdue_by_seconds == 60


def test_exercise_incidents_never_reach_a_real_channel(db: Session, clock: FrozenClock) -> None:
    alert = _alert(
        clock,
        1,
        rule_id="dijkwacht-brp-snooping",
        exercise_id="drill-7",
        body={"personal_data": True},
    )
    result, _ = route_alert(db=db, clock=clock, alert=alert, playbooks=LIBRARY)
    incident_id = result.incident_id
    step = find_step(db=db, run_id=result.run_id or 0, step_id="secure-logs")
    admin_user = User(username="ctl", role=Role.ADMIN, active=True)
    work = complete_task(db=db, clock=clock, run_step_id=step.id, user=admin_user)
    assert not any(name == "playbooks.deliver" for name, _ in work)
    assert {d.status for d in deliveries_of(db=db, incident_id=incident_id)} == {"suppressed"}


def _approval_step(db: Session, clock: FrozenClock, starter: str) -> int:
    incident = create_incident(db=db, clock=clock, title="Takeover", severity="high", actor=starter)
    add_observable(
        db=db, clock=clock, incident_id=incident.id, kind="user", value="j.jansen", actor=starter
    )
    run, work = start_run(
        db=db,
        clock=clock,
        incident_id=incident.id,
        loaded=LIBRARY["account-compromise"],
        actor=starter,
    )
    assert work == []  # nothing runs before approval
    step = find_step(db=db, run_id=run.id, step_id="disable-account")
    assert step.status == "awaiting_approval" and step.requested_by == starter
    return step.id


def test_an_action_needing_approval_waits_for_a_second_person_with_the_role(
    db: Session,
    units: Units,
    clock: FrozenClock,
    settings: Settings,
    make_user: Callable[[str, Role], User],
) -> None:
    requester = make_user("im.one", Role.INCIDENT_MANAGER)
    analyst = make_user("an.one", Role.ANALYST)
    approver = make_user("im.two", Role.INCIDENT_MANAGER)
    step_id = _approval_step(db, clock, requester.username)
    db.commit()  # the test is the boundary of its setup; the task opens its own units
    # Before approval a (stray) task delivery does nothing: no execution, no Ansible run.
    outcome = execute_action(units=units, clock=clock, settings=settings, run_step_id=step_id)
    assert outcome.reused and outcome.status == "awaiting_approval"
    assert db.query(ActionExecution).count() == 0
    with pytest.raises(ConflictError, match="four-eyes"):
        approve_action(db=db, clock=clock, run_step_id=step_id, user=requester)
    with pytest.raises(ConflictError, match="needs role incident_manager"):
        approve_action(db=db, clock=clock, run_step_id=step_id, user=analyst)
    step, work = approve_action(db=db, clock=clock, run_step_id=step_id, user=approver)
    assert step.status == "queued" and step.approved_by == "im.two"
    assert work == [("playbooks.run_action", (step_id,))]
    with pytest.raises(ConflictError, match="not awaiting approval"):
        approve_action(db=db, clock=clock, run_step_id=step_id, user=approver)


def test_a_run_started_by_routing_needs_a_person_to_request_first(
    db: Session, clock: FrozenClock, make_user: Callable[[str, Role], User]
) -> None:
    first = make_user("im.one", Role.INCIDENT_MANAGER)
    second = make_user("im.two", Role.INCIDENT_MANAGER)
    step_id = _approval_step(db, clock, "routing")
    with pytest.raises(ConflictError, match="must request"):
        approve_action(db=db, clock=clock, run_step_id=step_id, user=first)
    request_action(db=db, clock=clock, run_step_id=step_id, user=first)
    with pytest.raises(ConflictError, match="four-eyes"):
        approve_action(db=db, clock=clock, run_step_id=step_id, user=first)
    step, _ = approve_action(db=db, clock=clock, run_step_id=step_id, user=second)
    assert step.requested_by == "im.one" and step.approved_by == "im.two"
    assert runs_of(db=db, incident_id=1)[0].status == "running"
