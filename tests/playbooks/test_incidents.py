"""Incidents: the status workflow (every legal and illegal transition), timeline, comments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from core.accounts import Role, User
from core.clock import FrozenClock
from core.errors import ConflictError, ValidationError
from playbooks.incidents import STATUSES, TRANSITIONS
from playbooks.service import (
    add_comment,
    add_observable,
    assign,
    change_status,
    create_incident,
    created_per_slice,
    observables_of,
    timeline,
)

LEGAL = [(a, b) for a in STATUSES for b in sorted(TRANSITIONS[a])]
ILLEGAL = [(a, b) for a in STATUSES for b in STATUSES if b not in TRANSITIONS[a]]
# The shortest legal path from `new` to each status.
PATH = {
    "new": [],
    "in_progress": ["in_progress"],
    "contained": ["in_progress", "contained"],
    "resolved": ["in_progress", "contained", "resolved"],
    "closed": ["closed"],
}


def _at(db: Session, clock: FrozenClock, status: str) -> int:
    incident = create_incident(db=db, clock=clock, title="Test", severity="low", actor="ana")
    for step in PATH[status]:
        change_status(
            db=db, clock=clock, incident_id=incident.id, status=step, reason="r", actor="ana"
        )
    return incident.id


@pytest.mark.parametrize(("start", "end"), LEGAL)
def test_every_legal_transition(db: Session, clock: FrozenClock, start: str, end: str) -> None:
    incident_id = _at(db, clock, start)
    changed = change_status(
        db=db, clock=clock, incident_id=incident_id, status=end, reason="why", actor="bob"
    )
    assert changed.status == end
    last = timeline(db=db, incident_id=incident_id)[-1]
    if end == "closed":  # closing keeps a closing reason and the summary
        assert last.action == "incident.closed" and last.actor == "bob"
        assert last.details == {
            "from": start,
            "to": end,
            "close_reason": "resolved",
            "summary": "why",
        }
        return
    assert last.action == "incident.status_changed" and last.actor == "bob"
    assert last.details == {"from": start, "to": end, "reason": "why"}


@pytest.mark.parametrize(("start", "end"), ILLEGAL)
def test_illegal_transitions_are_refused_naming_from_and_to(
    db: Session, clock: FrozenClock, start: str, end: str
) -> None:
    incident_id = _at(db, clock, start)
    with pytest.raises(ConflictError, match=f"from '{start}' to '{end}'"):
        change_status(
            db=db, clock=clock, incident_id=incident_id, status=end, reason="x", actor="bob"
        )


def test_a_reason_is_required_and_status_must_be_known(db: Session, clock: FrozenClock) -> None:
    incident_id = _at(db, clock, "new")
    with pytest.raises(ValidationError, match="reason"):
        change_status(
            db=db, clock=clock, incident_id=incident_id, status="in_progress", reason=" ", actor="a"
        )
    with pytest.raises(ValidationError, match="status"):
        change_status(
            db=db, clock=clock, incident_id=incident_id, status="done", reason="r", actor="a"
        )


def test_milestones_timeline_comments_and_assignee(
    db: Session, clock: FrozenClock, make_user: Callable[[str, Role], User]
) -> None:
    make_user("bob", Role.ANALYST)
    incident = create_incident(db=db, clock=clock, title="Phish", severity="medium", actor="ana")
    clock.advance(timedelta(minutes=5))
    change_status(
        db=db,
        clock=clock,
        incident_id=incident.id,
        status="in_progress",
        reason="look",
        actor="ana",
    )
    clock.advance(timedelta(minutes=30))
    for status in ("contained",):
        change_status(
            db=db, clock=clock, incident_id=incident.id, status=status, reason="go", actor="ana"
        )
    assign(db=db, clock=clock, incident_id=incident.id, assignee="bob", actor="ana")
    add_comment(db=db, clock=clock, incident_id=incident.id, body="Mail purged", actor="bob")
    assert incident.acknowledged_at is not None and incident.contained_at is not None
    assert (incident.contained_at - incident.created_at) == timedelta(minutes=35)
    actions = [
        entry.action
        for entry in timeline(db=db, incident_id=incident.id)
        if entry.action.startswith("incident.")
    ]
    assert actions == [
        "incident.created",
        "incident.status_changed",
        "incident.status_changed",
        "incident.assigned",
        "incident.commented",
    ]


def test_observables_are_linked_across_incidents(db: Session, clock: FrozenClock) -> None:
    ids = [
        create_incident(db=db, clock=clock, title=f"Case {n}", severity="low", actor="a").id
        for n in range(4)
    ]
    for incident_id in ids:
        add_observable(
            db=db, clock=clock, incident_id=incident_id, kind="ip", value="198.51.100.7", actor="a"
        )
    link = add_observable(
        db=db, clock=clock, incident_id=ids[0], kind="domain", value="Evil.Example.", actor="a"
    )
    assert link.value == "evil.example" and link.seen_elsewhere == 0
    ip = next(o for o in observables_of(db=db, incident_id=ids[0]) if o.kind == "ip")
    assert ip.other_incidents == tuple(ids[1:]) and ip.seen_elsewhere == 3
    with pytest.raises(ValidationError, match="value"):
        add_observable(
            db=db, clock=clock, incident_id=ids[0], kind="ip", value="999.1.1.1", actor="a"
        )


def test_created_per_slice_counts_each_incident_in_its_slice_and_severity(
    db: Session, clock: FrozenClock
) -> None:
    start = clock.now()
    step = timedelta(hours=1)
    placed = [(0, "low"), (0, "high"), (59, "low"), (60, "critical"), (179, "low"), (180, "low")]
    for minutes, severity in placed:  # 180 min lies past the last of three slices
        clock.set(start + timedelta(minutes=minutes))
        create_incident(db=db, clock=clock, title="t", severity=severity, actor="ana")
    clock.set(start - timedelta(minutes=1))  # before the first slice: not counted
    closed = create_incident(db=db, clock=clock, title="t", severity="low", actor="ana")
    change_status(
        db=db, clock=clock, incident_id=closed.id, status="closed", reason="r", actor="ana"
    )
    starts = [start + step * i for i in range(3)]
    counts = created_per_slice(db=db, starts=starts, step=step)
    assert counts["low"] == [2, 0, 1]
    assert counts["high"] == [1, 0, 0]
    assert counts["critical"] == [0, 1, 0]
    only_new = created_per_slice(db=db, starts=starts, step=step, statuses=["closed"])
    assert sum(sum(series) for series in only_new.values()) == 0
    with pytest.raises(ValidationError):
        created_per_slice(db=db, starts=starts, step=step, statuses=["gone"])
