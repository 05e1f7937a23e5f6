"""Admins change roles and reset passwords on the users page; the last admin stays an admin."""

from __future__ import annotations

from core.accounts import get_user
from core.accounts.models import Role
from core.audit import entries
from tests.dashboard.conftest import PASSWORD, Env, add_user, login


def _admin_client(env: Env):  # type: ignore[no-untyped-def]
    add_user(env, "beheer", Role.ADMIN)
    add_user(env, "pieter", Role.ANALYST)
    client = env.client()
    csrf = login(client, "beheer")
    return client, csrf


def test_role_change_and_password_reset_are_audited(env: Env) -> None:
    client, csrf = _admin_client(env)
    page = client.get("/admin/users")
    assert 'action="/admin/users/pieter/role"' in page.text
    done = client.post("/admin/users/pieter/role", data={"role": "dpo", "csrf_token": csrf})
    assert done.status_code == 303
    new = "nieuw-wachtwoord-pieter-2026"
    done = client.post("/admin/users/pieter/password", data={"password": new, "csrf_token": csrf})
    assert done.status_code == 303
    env.db.expire_all()
    assert get_user(db=env.db, username="pieter").role is Role.DPO
    actions = [(e.action, e.actor) for e in entries(db=env.db, object_id="pieter")]
    assert ("user.role_changed", "beheer") in actions
    assert ("user.password_reset", "beheer") in actions
    other = env.client()
    login(other, "pieter", new)  # the new password works (login asserts the 303)


def test_refusals_show_next_to_the_field_with_the_input_kept(env: Env) -> None:
    client, csrf = _admin_client(env)
    demote = client.post("/admin/users/beheer/role", data={"role": "analyst", "csrf_token": csrf})
    assert demote.status_code == 409
    assert 'id="role-error-beheer"' in demote.text and "at least one active admin" in demote.text
    assert '<option value="analyst" selected>' in demote.text  # what the admin chose
    short = client.post(
        "/admin/users/pieter/password", data={"password": "kort", "csrf_token": csrf}
    )
    assert short.status_code == 422
    assert 'id="password-error-pieter"' in short.text and "at least 12" in short.text
    assert "kort" not in short.text.split('id="password-error-pieter"')[1][:200]
    own = client.post("/admin/users/beheer/active", data={"active": "false", "csrf_token": csrf})
    assert own.status_code == 409 and "your own account" in own.text
    env.db.expire_all()
    beheer = get_user(db=env.db, username="beheer")
    assert beheer.role is Role.ADMIN and beheer.active


def test_json_api_and_roles(env: Env) -> None:
    client, csrf = _admin_client(env)
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    ok = client.post("/api/admin/users/pieter/role", json={"role": "crisis_team"}, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["role"] == "crisis_team"
    refused = client.post("/api/admin/users/beheer/role", json={"role": "dpo"}, headers=headers)
    assert refused.status_code == 409
    bad = client.post("/api/admin/users/pieter/password", json={"password": "x"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["field"] == "password"
    analyst = env.client()
    token = login(analyst, "pieter", PASSWORD)
    forbidden = analyst.post("/admin/users/beheer/role", data={"role": "dpo", "csrf_token": token})
    assert forbidden.status_code == 403
