"""Case work: assignment to real accounts only, merge, safe markdown, action target origins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from core.accounts import Role, User
from core.clock import FrozenClock
from core.errors import ConflictError, ValidationError
from playbooks.service import (
    add_comment,
    add_observable,
    alert_ids,
    assign,
    close,
    create_incident,
    get_incident,
    merge,
    observables_of,
    render_markdown,
    timeline,
)


def test_assign_only_to_existing_enabled_accounts(
    db: Session, clock: FrozenClock, make_user: Callable[[str, Role], User]
) -> None:
    make_user("ana", Role.ANALYST)
    gone = make_user("old", Role.ANALYST)
    gone.active = False
    db.commit()
    incident = create_incident(db=db, clock=clock, title="Case", severity="low", actor="a")
    with pytest.raises(ValidationError, match="assignee: no account named 'nobody_xyz'"):
        assign(db=db, clock=clock, incident_id=incident.id, assignee="nobody_xyz", actor="a")
    with pytest.raises(ValidationError, match="assignee: account 'old' is disabled"):
        assign(db=db, clock=clock, incident_id=incident.id, assignee="old", actor="a")
    assert assign(db=db, clock=clock, incident_id=incident.id, assignee="ana", actor="a").assignee


def test_close_needs_a_known_reason_and_a_summary(db: Session, clock: FrozenClock) -> None:
    incident = create_incident(db=db, clock=clock, title="Case", severity="low", actor="a")
    with pytest.raises(ValidationError, match="close_reason: must be one of"):
        close(db=db, clock=clock, incident_id=incident.id, reason="meh", summary="x", actor="a")
    with pytest.raises(ValidationError, match="summary: must not be empty"):
        close(
            db=db, clock=clock, incident_id=incident.id, reason="resolved", summary=" ", actor="a"
        )
    closed = close(
        db=db,
        clock=clock,
        incident_id=incident.id,
        reason="false_positive",
        summary="Test",
        actor="a",
    )
    assert (closed.status, closed.close_reason, closed.closed_at) == (
        "closed",
        "false_positive",
        clock.now(),
    )


def test_merge_moves_observables_comments_and_points_to_the_survivor(
    db: Session, clock: FrozenClock
) -> None:
    keep = create_incident(db=db, clock=clock, title="Keep", severity="low", actor="a")
    gone = create_incident(db=db, clock=clock, title="Gone", severity="high", actor="a")
    for incident, value in ((keep, "192.0.2.1"), (gone, "192.0.2.1"), (gone, "192.0.2.2")):
        add_observable(
            db=db, clock=clock, incident_id=incident.id, kind="ip", value=value, actor="a"
        )
    add_comment(db=db, clock=clock, incident_id=gone.id, body="seen", actor="a")
    merge(db=db, clock=clock, source_id=gone.id, target_id=keep.id, actor="bob")
    assert get_incident(db=db, incident_id=gone.id).merged_into == keep.id
    assert gone.status == "closed" and gone.close_reason == "merged"
    assert keep.severity == "high"
    assert sorted(o.value for o in observables_of(db=db, incident_id=keep.id)) == [
        "192.0.2.1",
        "192.0.2.2",
    ]
    assert alert_ids(db=db, incident_id=keep.id) == []
    actions = [entry.action for entry in timeline(db=db, incident_id=keep.id)]
    assert "incident.merged_in" in actions and "incident.merged_into" in actions
    with pytest.raises(ConflictError, match="closed"):
        merge(db=db, clock=clock, source_id=gone.id, target_id=keep.id, actor="bob")
    with pytest.raises(ValidationError, match="itself"):
        merge(db=db, clock=clock, source_id=keep.id, target_id=keep.id, actor="bob")


def test_exercise_and_real_incidents_never_merge(db: Session, clock: FrozenClock) -> None:
    real = create_incident(db=db, clock=clock, title="Real", severity="low", actor="a")
    drill = create_incident(
        db=db, clock=clock, title="Drill", severity="low", actor="a", exercise_id="oef-1"
    )
    with pytest.raises(ConflictError, match="exercise"):
        merge(db=db, clock=clock, source_id=drill.id, target_id=real.id, actor="bob")


def test_markdown_is_rendered_from_escaped_text_only() -> None:
    html = str(render_markdown('**bold** *it* `x<y`\n- one\n- <img src=x onerror="a()">'))
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert "<code>x&lt;y</code>" in html
    assert "<li>&lt;img src=x onerror=&#34;a()&#34;&gt;</li>" in html
    assert "<img" not in html and "<script" not in str(render_markdown("<script>1</script>"))


def test_merge_stops_the_merged_incidents_playbook(db: Session, clock: FrozenClock) -> None:
    from playbooks.service import route_alert, runs_of, steps_of
    from tests.playbooks.test_runs import LIBRARY, _alert

    keep, _ = route_alert(db=db, clock=clock, alert=_alert(clock, 1), playbooks=LIBRARY)
    gone, _ = route_alert(
        db=db, clock=clock, alert=_alert(clock, 2, host_name="portal-02"), playbooks=LIBRARY
    )
    assert keep.created and gone.created and keep.incident_id != gone.incident_id
    merge(db=db, clock=clock, source_id=gone.incident_id, target_id=keep.incident_id, actor="b")
    runs = runs_of(db=db, incident_id=keep.incident_id)
    assert sorted(run.status for run in runs) == ["cancelled", "running"]
    cancelled = next(run for run in runs if run.status == "cancelled")
    assert {step.status for step in steps_of(db=db, run_id=cancelled.id)} == {"skipped"}
    assert alert_ids(db=db, incident_id=keep.incident_id) == ["alert-1", "alert-2"]
