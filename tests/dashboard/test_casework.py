"""Case work pages: a refused change shows its problem next to the form, with the input kept."""

from __future__ import annotations

from core.accounts.models import Role
from playbooks.service import create_incident, timeline
from tests.dashboard.conftest import Env, add_user, login


def _case(env: Env) -> int:
    with env.write() as db:
        return create_incident(
            db=db, clock=env.clock, title="Phishing", severity="low", actor="a"
        ).id


def test_refused_changes_are_shown_next_to_the_form_with_the_input_kept(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    incident_id = _case(env)
    client = env.client()
    csrf = login(client, "ana")
    assigned = client.post(
        f"/incidents/{incident_id}/assign", data={"assignee": "nobody_xyz", "csrf_token": csrf}
    )
    assert assigned.status_code == 400
    # The service's problem goes through the catalogue with its value (dashboard/i18n.PROBLEMS).
    assert "Het veld assignee: er is geen account met de naam &#39;nobody_xyz&#39;" in assigned.text
    assert 'value="nobody_xyz"' in assigned.text
    illegal = client.post(
        f"/incidents/{incident_id}/status",
        data={"status": "resolved", "reason": "te snel", "csrf_token": csrf},
    )
    assert illegal.status_code == 409
    assert "van &#39;new&#39; naar &#39;resolved&#39; kan niet" in illegal.text
    client.get("/language/en", params={"next": "/"})
    again = client.post(
        f"/incidents/{incident_id}/status",
        data={"status": "resolved", "reason": "te snel", "csrf_token": csrf},
    )
    assert "cannot go from &#39;new&#39; to &#39;resolved&#39; (allowed: " in again.text
    client.get("/language/nl", params={"next": "/"})
    assert 'value="te snel"' in illegal.text
    empty = client.post(
        f"/incidents/{incident_id}/close",
        data={"close_reason": "resolved", "summary": " ", "csrf_token": csrf},
    )
    assert empty.status_code == 400 and "summary: mag niet leeg zijn" in empty.text  # nl catalogue


def test_changes_redirect_and_land_in_the_timeline_and_api(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    add_user(env, "cris", Role.CRISIS_TEAM)
    incident_id = _case(env)
    client = env.client()
    csrf = login(client, "ana")
    for path, data in (
        ("assign", {"assignee": "ana"}),
        ("status", {"status": "in_progress", "reason": "start"}),
        ("comments", {"body": "**Let op** <b>x</b>"}),
        ("observables", {"kind": "ip", "value": "192.0.2.7"}),
    ):
        response = client.post(
            f"/incidents/{incident_id}/{path}", data={**data, "csrf_token": csrf}
        )
        assert response.status_code == 303, response.text
    page = client.get(f"/incidents/{incident_id}").text
    assert "<strong>Let op</strong> &lt;b&gt;x&lt;/b&gt;" in page
    api = client.post(
        f"/api/incidents/{incident_id}/status",
        json={"status": "new", "reason": "back"},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert (
        api.status_code == 409 and "cannot go from 'in_progress' to 'new'" in api.json()["detail"]
    )
    actions = [e.action for e in timeline(db=env.db, incident_id=incident_id)]
    for action in (
        "incident.assigned",
        "incident.status_changed",
        "incident.commented",
        "incident.observable_added",
    ):
        assert action in actions
    crisis = env.client()
    crisis_csrf = login(crisis, "cris")
    assert "comment-form" not in crisis.get(f"/incidents/{incident_id}").text  # reads only
    refused = crisis.post(
        f"/incidents/{incident_id}/comments", data={"body": "x", "csrf_token": crisis_csrf}
    )
    assert refused.status_code == 403


def test_alerts_are_assigned_only_to_existing_enabled_accounts(env: Env) -> None:
    from core.store.base import NewAlert
    from core.store.factory import open_alert_store

    add_user(env, "ana", Role.ANALYST)
    store = open_alert_store(env.settings)
    try:
        (alert_id,) = store.add_batch(
            [NewAlert(created_at=env.clock.now(), rule_id="r", rule_title="R", level="low")]
        )
    finally:
        store.close()
    client = env.client()
    csrf = login(client, "ana")
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    body = {"ids": [alert_id], "action": "assign"}
    refused = client.post(
        "/api/alerts/bulk", json={**body, "assignee": "nobody_xyz"}, headers=headers
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "assignee: no account named 'nobody_xyz'",
        "field": "assignee",
    }
    done = client.post("/api/alerts/bulk", json={**body, "assignee": "ana"}, headers=headers)
    assert done.status_code == 200 and done.json()["changed"] == 1


def test_evidence_upload_shows_its_sha256(env: Env) -> None:
    import hashlib

    add_user(env, "ana", Role.ANALYST)
    incident_id = _case(env)
    client = env.client()
    csrf = login(client, "ana")
    content = b"GET /login 401 x 500\n"
    response = client.post(
        f"/incidents/{incident_id}/evidence",
        data={"description": "Toegangslog", "csrf_token": csrf},
        files={"file": ("access.log", content, "text/plain")},
    )
    assert response.status_code == 303, response.text
    page = client.get(f"/incidents/{incident_id}").text
    assert "access.log" in page and hashlib.sha256(content).hexdigest() in page
