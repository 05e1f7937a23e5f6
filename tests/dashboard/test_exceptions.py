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
    assert past.status_code == 400 and "expires_at: must be in the future" in past.text
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
    assert bad.status_code == 400 and "ends_at: must be after starts_at" in bad.text
    good = client.post("/maintenance", data={**data, "ends_at": "2026-11-30T02:00"})
    assert good.status_code == 303
    assert "Patches" in client.get("/exceptions").text
