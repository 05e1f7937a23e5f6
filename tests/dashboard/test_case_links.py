"""Linking more alerts to an incident and ad-hoc tasks: page, API, audit and timeline (#17)."""

from __future__ import annotations

from sqlalchemy import select

from core.accounts.models import Role
from core.audit import AuditEntry
from core.store.base import NewAlert
from core.store.factory import open_alert_store
from playbooks.service import create_incident, timeline
from tests.dashboard.conftest import Env, add_user, login

JSON = {"Accept": "application/json"}


def _alerts(env: Env, *specs: tuple[str, str | None]) -> list[str]:
    """Alerts (level, exercise id) in the test's alert store."""
    store = open_alert_store(env.settings)
    try:
        return store.add_batch(
            [
                NewAlert(
                    created_at=env.clock.now(),
                    rule_id="dijkwacht-portal-bruteforce",
                    rule_title="Brute force",
                    level=level,  # type: ignore[arg-type]
                    host_name="web01",
                    exercise_id=exercise,
                )
                for level, exercise in specs
            ]
        )
    finally:
        store.close()


def _status(env: Env, alert_id: str) -> str:
    store = open_alert_store(env.settings)
    try:
        return store.get(alert_id).status
    finally:
        store.close()


def _case(env: Env, title: str = "Brute force op het portaal") -> int:
    with env.write() as db:
        return create_incident(db=db, clock=env.clock, title=title, severity="low", actor="ana").id


def test_link_alerts_from_incident_and_alert_pages_and_api(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    first, second, third, drill = _alerts(
        env, ("high", None), ("low", None), ("low", None), ("low", "oef-1")
    )
    incident_id = _case(env)
    other_id = _case(env, "Ander incident")
    client = env.client()
    csrf = login(client, "ana")
    page = client.get(f"/incidents/{incident_id}").text
    assert 'data-testid="link-form"' in page
    linked = client.post(
        f"/incidents/{incident_id}/alerts",
        data={"alert_ids": f"{first}, {first}\n", "csrf_token": csrf},
    )
    assert linked.status_code == 303, linked.text
    assert _status(env, first) == "in_incident"
    page = client.get(f"/incidents/{incident_id}").text
    assert f'href="/alerts/{first}"' in page and "linked by hand by ana" in page
    # the alert page offers the open incidents; picking one links the alert
    alert_page = client.get(f"/alerts/{second}").text
    assert 'data-testid="link-to-incident"' in alert_page and f'value="{incident_id}"' in alert_page
    picked = client.post(
        f"/alerts/{second}/link", data={"incident": str(incident_id), "csrf_token": csrf}
    )
    assert picked.status_code == 303 and picked.headers["location"].startswith(
        f"/incidents/{incident_id}"
    )
    # an alert in another incident is refused, with the problem named next to the form
    taken = client.post(
        f"/incidents/{other_id}/alerts", data={"alert_ids": first, "csrf_token": csrf}
    )
    assert taken.status_code == 409
    assert f"alert {first} is already in incident #{incident_id}" in taken.text
    assert f'value="{first}"' in taken.text  # the input is kept
    drill_refused = client.post(
        f"/api/incidents/{incident_id}/alerts",
        json={"alert_ids": [drill]},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert drill_refused.status_code == 409 and "exercise" in drill_refused.json()["detail"]
    unknown = client.post(
        f"/api/incidents/{incident_id}/alerts",
        json={"alert_ids": ["no-such-alert"]},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert unknown.status_code == 404
    api = client.post(
        f"/api/incidents/{incident_id}/alerts",
        json={"alert_ids": [third, first]},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert api.status_code == 200 and api.json() == {"linked": [third]}
    detail = client.get(f"/api/incidents/{incident_id}", headers=JSON).json()
    assert set(detail["alert_ids"]) == {first, second, third}
    assert detail["incident"]["severity"] == "high"  # raised by the high alert
    assert {"kind": "host", "value": "web01", "other_incidents": []} in detail["observables"]
    entries = [e for e in timeline(db=env.db, incident_id=incident_id)]
    linked_entries = [e for e in entries if e.action == "incident.alert_linked"]
    assert [(e.actor, e.details["alert_id"]) for e in linked_entries] == [
        ("ana", first),
        ("ana", second),
        ("ana", third),
    ]
    audited = env.db.scalars(
        select(AuditEntry.object_id).where(AuditEntry.action == "incident.alert_linked")
    ).all()
    assert audited == [str(incident_id)] * 3


def test_adhoc_task_added_and_completed_with_a_note(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    add_user(env, "cris", Role.CRISIS_TEAM)
    incident_id = _case(env)
    client = env.client()
    csrf = login(client, "ana")
    refused = client.post(
        f"/incidents/{incident_id}/tasks",
        data={"title": "Wachtwoorden resetten", "assignee": "nobody_xyz", "csrf_token": csrf},
    )
    assert refused.status_code == 400 and "geen account met de naam" in refused.text
    assert 'value="Wachtwoorden resetten"' in refused.text
    added = client.post(
        f"/incidents/{incident_id}/tasks",
        data={"title": "Wachtwoorden resetten", "assignee": "ana", "csrf_token": csrf},
    )
    assert added.status_code == 303, added.text
    api = client.post(
        f"/api/incidents/{incident_id}/tasks",
        json={"title": "Leverancier bellen"},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert api.status_code == 201 and api.json()["assignee"] is None
    detail = client.get(f"/api/incidents/{incident_id}", headers=JSON).json()
    (first, second) = detail["tasks"]
    assert (first["title"], first["assignee"], first["completed_by"]) == (
        "Wachtwoorden resetten",
        "ana",
        None,
    )
    empty = client.post(
        f"/incidents/{incident_id}/adhoc/{first['id']}/complete",
        data={"note": "  ", "csrf_token": csrf},
    )
    assert empty.status_code == 400 and "zeg wat er gedaan is" in empty.text  # nl catalogue
    client.get("/language/en", params={"next": "/"})
    english = client.post(
        f"/incidents/{incident_id}/adhoc/{first['id']}/complete",
        data={"note": "  ", "csrf_token": csrf},
    )
    assert "The field note: say what was done" in english.text
    client.get("/language/nl", params={"next": "/"})
    done = client.post(
        f"/incidents/{incident_id}/adhoc/{first['id']}/complete",
        data={"note": "12 accounts gereset", "csrf_token": csrf},
    )
    assert done.status_code == 303
    page = client.get(f"/incidents/{incident_id}").text
    assert f'data-testid="adhoc-done-{first["id"]}"' in page and "12 accounts gereset" in page
    again = client.post(
        f"/api/tasks/{first['id']}/complete",
        json={"note": "nog eens"},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert again.status_code == 409 and "already completed by ana" in again.json()["detail"]
    finished = client.post(
        f"/api/tasks/{second['id']}/complete",
        json={"note": "gebeld"},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert finished.status_code == 200 and finished.json()["completed_by"] == "ana"
    actions = [
        (e.action, e.details.get("task")) for e in timeline(db=env.db, incident_id=incident_id)
    ]
    assert ("incident.task_added", "Wachtwoorden resetten") in actions
    assert ("incident.task_completed", "Wachtwoorden resetten") in actions
    assert ("incident.task_completed", "Leverancier bellen") in actions
    crisis = env.client()
    crisis_csrf = login(crisis, "cris")
    assert 'data-testid="task-form"' not in crisis.get(f"/incidents/{incident_id}").text
    assert (
        crisis.post(
            f"/incidents/{incident_id}/tasks", data={"title": "x", "csrf_token": crisis_csrf}
        ).status_code
        == 403
    )


def test_tasks_move_with_a_merge(env: Env) -> None:
    from playbooks.service import add_task, merge, tasks_of

    source, target = _case(env), _case(env, "Overlevende")
    with env.write() as db:
        add_task(db=db, clock=env.clock, incident_id=source, title="Logs veiligstellen", actor="a")
        merge(db=db, clock=env.clock, source_id=source, target_id=target, actor="a")
    assert [t.title for t in tasks_of(db=env.db, incident_id=target)] == ["Logs veiligstellen"]
    assert tasks_of(db=env.db, incident_id=source) == []


def test_severity_and_evidence_through_the_api(env: Env) -> None:
    import hashlib

    add_user(env, "ana", Role.ANALYST)
    incident_id = _case(env)
    client = env.client()
    csrf = login(client, "ana")
    headers = {**JSON, "X-CSRF-Token": csrf}
    bad = client.post(
        f"/api/incidents/{incident_id}/severity",
        json={"severity": "huge", "reason": "x"},
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json()["field"] == "severity"
    raised = client.post(
        f"/api/incidents/{incident_id}/severity",
        json={"severity": "critical", "reason": "Beheeraccount geraakt"},
        headers=headers,
    )
    assert raised.status_code == 200 and raised.json()["severity"] == "critical"
    content = b"Failed password for root from 198.51.100.23\n"
    uploaded = client.post(
        f"/api/incidents/{incident_id}/evidence",
        files={"file": ("auth.log", content)},
        data={"description": "syslog van web01"},
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["sha256"] == hashlib.sha256(content).hexdigest()
    actions = [e.action for e in timeline(db=env.db, incident_id=incident_id)]
    assert "incident.severity_changed" in actions and "incident.evidence_added" in actions
    refused = client.post("/api/steps/999999/decide", json={"option": "no"}, headers=headers)
    assert refused.status_code == 404
