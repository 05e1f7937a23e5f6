"""Exceptions and maintenance windows pages: create, refuse with the input kept, expire, audit."""

from __future__ import annotations

from sqlalchemy import select

from core.accounts.models import Role
from core.audit import AuditEntry
from tests.dashboard.conftest import Env, add_user, login


def test_create_refuse_and_expire_an_exception(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    csrf = login(client, "ana")
    form = {
        "rule_id": "dijkwacht-portal-bruteforce",
        "field": "host.name",
        "value": "scanner-01",
        "reason": "Geautoriseerde pentest",
        "csrf_token": csrf,
    }
    past = client.post("/exceptions", data={**form, "expires_at": "2026-11-01T09:00"})
    assert past.status_code == 400 and "expires_at: moet in de toekomst liggen" in past.text
    assert 'value="scanner-01"' in past.text and 'value="Geautoriseerde pentest"' in past.text
    made = client.post("/exceptions", data={**form, "expires_at": "2026-12-28T09:00"})
    assert made.status_code == 303, made.text
    listed = client.get("/api/exceptions", headers={"Accept": "application/json"}).json()
    assert [(e["owner"], e["active"], e["suppressed"]) for e in listed] == [("ana", True, 0)]
    assert listed[0]["conditions"] == {"host.name": ["scanner-01"]}
    expired = client.post(
        f"/exceptions/{listed[0]['id']}/expire",
        data={"reason": "Pentest klaar", "csrf_token": csrf},
    )
    assert expired.status_code == 303
    again = client.get("/api/exceptions", headers={"Accept": "application/json"}).json()
    assert again[0]["active"] is False
    actions = set(
        env.db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("detection.%")))
    )
    assert {"detection.exception.add", "detection.exception.expire"} <= actions


def test_maintenance_window_needs_an_end_after_its_start(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    csrf = login(client, "ana")
    data = {"starts_at": "2026-11-29T22:00", "reason": "Patches", "csrf_token": csrf}
    bad = client.post("/maintenance", data={**data, "ends_at": "2026-11-29T21:00"})
    assert bad.status_code == 400 and "ends_at: moet na starts_at liggen" in bad.text
    good = client.post("/maintenance", data={**data, "ends_at": "2026-11-30T02:00"})
    assert good.status_code == 303
    assert "Patches" in client.get("/exceptions").text


def test_edit_an_exception_and_end_a_window_from_the_page_and_api(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    csrf = login(client, "ana")
    made = client.post(
        "/exceptions",
        data={
            "rule_id": "dijkwacht-portal-bruteforce",
            "field": "host.name",
            "value": "scanner-01",
            "reason": "Pentest",
            "expires_at": "2026-12-28T09:00",
            "csrf_token": csrf,
        },
    )
    assert made.status_code == 303
    (row,) = client.get("/api/exceptions", headers={"Accept": "application/json"}).json()
    page = client.get("/exceptions").text
    assert f'data-testid="edit-form-{row["id"]}"' in page
    queue = client.get("/alerts").text  # the queue says what each exception kept out of it
    assert f'data-testid="queue-exception-{row["id"]}"' in queue and "scanner-01" in queue
    past = client.post(
        f"/exceptions/{row['id']}/edit",
        data={"reason": "Pentest verlengd", "expires_at": "2026-01-01T09:00", "csrf_token": csrf},
    )
    assert past.status_code == 400 and "expires_at" in past.text
    assert 'value="Pentest verlengd"' in past.text  # the input is kept
    edited = client.post(
        f"/exceptions/{row['id']}/edit",
        data={"reason": "Pentest verlengd", "expires_at": "2027-01-04T09:00", "csrf_token": csrf},
    )
    assert edited.status_code == 303
    (after,) = client.get("/api/exceptions", headers={"Accept": "application/json"}).json()
    assert after["reason"] == "Pentest verlengd" and after["expires_at"].startswith("2027-01-04")
    api = client.post(
        f"/api/exceptions/{row['id']}/edit",
        json={"reason": "", "expires_at": "2027-01-05T09:00:00Z"},
        headers={"Accept": "application/json", "X-CSRF-Token": csrf},
    )
    assert api.status_code == 400 and api.json()["field"] == "reason"
    window = client.post(
        "/api/maintenance",
        json={
            "starts_at": "2026-11-29T22:00:00Z",
            "ends_at": "2027-01-01T02:00:00Z",
            "reason": "Patches",
        },
        headers={"Accept": "application/json", "X-CSRF-Token": csrf},
    ).json()
    assert window["active"] is True
    assert f'data-testid="end-window-form-{window["id"]}"' in client.get("/exceptions").text
    no_reason = client.post(
        f"/maintenance/{window['id']}/end", data={"reason": " ", "csrf_token": csrf}
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.text
    ended = client.post(
        f"/maintenance/{window['id']}/end", data={"reason": "Klaar", "csrf_token": csrf}
    )
    assert ended.status_code == 303
    (w,) = client.get("/api/maintenance", headers={"Accept": "application/json"}).json()
    assert w["active"] is False
    twice = client.post(
        f"/api/maintenance/{window['id']}/end",
        json={"reason": "nog eens"},
        headers={"Accept": "application/json", "X-CSRF-Token": csrf},
    )
    assert twice.status_code == 400 and "already ended" in twice.json()["detail"]
    actions = set(
        env.db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("detection.%")))
    )
    assert {"detection.exception.edit", "detection.maintenance.end"} <= actions
