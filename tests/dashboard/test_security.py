"""CSRF, stored XSS, session fixation, lock-out, token scopes and the admin token command."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from core.accounts.models import Role
from core.accounts.tokens import create_token
from core.store.base import NewAlert
from core.store.factory import open_alert_store
from dashboard.security import SESSION_COOKIE
from tests.dashboard.conftest import PASSWORD, Env, add_user, csrf_of, login

XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


def test_csrf_is_required_for_forms_and_json(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    csrf = login(client, "ana")
    body = {"ids": ["x"], "action": "acknowledge"}
    assert client.post("/api/alerts/bulk", json=body).status_code == 403
    assert (
        client.post("/api/alerts/bulk", json=body, headers={"X-CSRF-Token": "bad"}).status_code
        == 403
    )
    assert (
        client.post("/alerts/bulk", data={"ids": "x", "action": "acknowledge"}).status_code == 403
    )
    ok = client.post("/alerts/bulk", data={"ids": "x", "action": "acknowledge", "csrf_token": csrf})
    assert ok.status_code == 404  # past CSRF: the alert does not exist
    assert client.post("/logout").status_code == 403


def test_login_form_needs_its_csrf_token(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    client.get("/login")
    response = client.post("/login", data={"username": "ana", "password": PASSWORD})
    assert response.status_code == 403


def test_session_id_is_rotated_at_login(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    attacker = env.client()
    page = attacker.get("/login")
    planted = attacker.cookies.get(SESSION_COOKIE)
    assert planted
    victim = env.client()
    victim.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
    response = victim.post(
        "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 303
    fresh = response.cookies.get(SESSION_COOKIE)
    assert fresh and fresh != planted
    cookie_header = response.headers["set-cookie"].lower()
    assert "httponly" in cookie_header and "samesite=strict" in cookie_header
    # The planted (pre-login) id gives the attacker nothing.
    assert attacker.get("/api/me").status_code == 401
    assert victim.get("/api/me").json()["username"] == "ana"


def test_cookie_is_secure_off_localhost(env: Env) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(env.app, base_url="https://dijkwacht.example", follow_redirects=False)  # type: ignore[arg-type]
    response = client.get("/login")
    assert "secure" in response.headers["set-cookie"].lower()


def test_lockout_after_failures_and_admin_unlock(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    csrf = csrf_of(client.get("/login").text)
    for _ in range(5):
        bad = client.post(
            "/login", data={"username": "ana", "password": "wrong" * 3, "csrf_token": csrf}
        )
        assert bad.status_code == 401
        assert "geblokkeerd" in bad.text
    locked = client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf}
    )
    assert locked.status_code == 401  # right password, but locked
    env.clock.advance(timedelta(minutes=2))
    assert (
        client.post(
            "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf}
        ).status_code
        == 303
    )


def test_admin_sees_and_lifts_a_lock(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    add_user(env, "root", Role.ADMIN)
    anon = env.client()
    csrf = csrf_of(anon.get("/login").text)
    for _ in range(5):
        anon.post("/login", data={"username": "ana", "password": "x" * 15, "csrf_token": csrf})
    admin = env.client()
    admin_csrf = login(admin, "root")
    users = {u["username"]: u for u in admin.get("/api/admin/users").json()}
    assert users["ana"]["locked_until"] is not None
    response = admin.post("/admin/users/ana/unlock", data={"csrf_token": admin_csrf})
    assert response.status_code == 303
    assert login(env.client(), "ana")


def test_tokens_are_scoped(env: Env) -> None:
    add_user(env, "collector", Role.ANALYST)
    with env.write() as db:
        ingest = create_token(
            db=db, username="collector", name="c", scopes=["ingest"], clock=env.clock, actor="t"
        ).token
        reader = create_token(
            db=db,
            username="collector",
            name="r",
            scopes=["read:alerts"],
            clock=env.clock,
            actor="t",
        ).token
    client = env.client()
    assert (
        client.get("/api/alerts", headers={"Authorization": f"Bearer {ingest}"}).status_code == 403
    )
    assert (
        client.get("/api/alerts", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    )
    # read scope does not write, and a token is not a browser session (no CSRF needed, no pages)
    write = client.post(
        "/api/alerts/bulk",
        json={"ids": ["x"], "action": "acknowledge"},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert write.status_code == 403
    assert (
        client.get("/api/events", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    )
    assert (
        client.get("/api/alerts", headers={"Authorization": "Bearer dkw_nope"}).status_code == 401
    )


def test_token_cannot_exceed_its_users_role(env: Env) -> None:
    from core.errors import ValidationError

    add_user(env, "ana", Role.ANALYST)
    with pytest.raises(ValidationError), env.write() as db:
        create_token(db=db, username="ana", name="x", scopes=["admin"], clock=env.clock, actor="t")
    dpo_token_user = "dpo1"
    add_user(env, dpo_token_user, Role.DPO)
    with env.write() as db:
        token = create_token(
            db=db,
            username=dpo_token_user,
            name="x",
            scopes=["read:alerts"],
            clock=env.clock,
            actor="t",
        ).token
    # the scope is there, but a DPO may not read the alert queue
    response = env.client().get("/api/alerts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_stored_xss_is_escaped_everywhere_it_renders(env: Env) -> None:
    payload = " ".join(XSS)
    add_user(env, "ana", Role.ANALYST, display_name=payload)
    add_user(env, "root", Role.ADMIN, display_name=payload)
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        (alert_id,) = store.add_batch(
            [
                NewAlert(
                    rule_id=payload,
                    rule_title=payload,
                    level="high",
                    created_at=env.clock.now(),
                    host_name=payload,
                    user_name=payload,
                    body={
                        "selections": [payload],
                        "event_ids": [payload],
                        "attack": {"x": payload},
                    },
                )
            ]
        )
    finally:
        store.close()
    analyst = env.client()
    csrf = login(analyst, "ana")
    analyst.post(
        "/alerts/bulk",
        data={"ids": alert_id, "action": "assign", "assignee": payload, "csrf_token": csrf},
    )
    analyst.post(
        "/reidentification",
        data={"pseudonym": "rp_" + "a" * 32, "purpose": payload, "csrf_token": csrf},
    )
    admin = env.client()
    admin_csrf = login(admin, "root")
    admin.post(
        "/admin/tokens",
        data={
            "username": "ana",
            "name": payload,
            "scopes": "read:alerts",
            "csrf_token": admin_csrf,
        },
    )
    pages = [
        analyst.get("/alerts"),
        analyst.get(f"/alerts/{alert_id}"),
        analyst.get("/reidentification"),
        analyst.get("/events", params={"q": payload}),
        admin.get("/admin/users"),
        admin.get("/admin/tokens"),
        analyst.get("/login", params={"next": payload}),
    ]
    for page in pages:
        assert page.status_code == 200, page.request.url
        for raw in XSS:
            assert raw not in page.text, page.request.url
        assert (
            "&lt;script&gt;" in page.text
            or "&#34;&gt;&lt;img" in page.text
            or "&lt;img" in page.text
        )


def test_security_headers(env: Env) -> None:
    response = env.client().get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_create_token_command(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from dijkwacht.cli import app as cli

    add_user(env, "collector", Role.ANALYST)
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    result = CliRunner().invoke(
        cli, ["tokens", "create", "--user", "collector", "--scope", "read:alerts"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("dkw_")
    ok = env.client().get("/api/alerts", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    bad = CliRunner().invoke(cli, ["tokens", "create", "--user", "collector", "--scope", "root"])
    assert bad.exit_code == 1


def test_dead_and_collector_tokens_on_the_api(env: Env) -> None:
    """A revoked or expired token is refused with the reason; a collector's token (no user,
    only `ingest`) reaches no dashboard route."""
    add_user(env, "ana", Role.ANALYST)
    with env.write() as db:
        reader = create_token(
            db=db, username="ana", name="r", scopes=["read:alerts"], clock=env.clock, actor="t",
            expires_in=timedelta(days=1),
        )  # fmt: skip
        collector = create_token(
            db=db, username=None, name="zs", scopes=["ingest"], source="zaaksysteem",
            clock=env.clock, actor="t",
        )  # fmt: skip
    client = env.client()

    def get(token: str) -> tuple[int, str]:
        reply = client.get("/api/alerts", headers={"Authorization": f"Bearer {token}"})
        return reply.status_code, reply.json()["detail"] if reply.status_code != 200 else ""

    assert get(reader.token) == (200, "")
    assert get(collector.token) == (403, "this collector token only sends events (scope 'ingest')")
    env.clock.advance(timedelta(days=1))
    assert get(reader.token) == (
        401,
        f"Authorization: token {reader.id} expired at 2026-11-29T09:00:00+00:00",
    )
    admin = env.client()
    add_user(env, "root", Role.ADMIN)
    csrf = login(admin, "root")
    revoked = admin.post(f"/admin/tokens/{collector.id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    status, detail = get(collector.token)
    assert status == 401 and f"token {collector.id} was revoked at" in detail


def test_admin_page_makes_and_lists_collector_tokens(env: Env) -> None:
    add_user(env, "root", Role.ADMIN)
    admin = env.client()
    csrf = login(admin, "root")
    made = admin.post(
        "/admin/tokens",
        data={"username": "", "name": "zaaksysteem", "source": "zaaksysteem",
              "scopes": "ingest", "csrf_token": csrf},
    )  # fmt: skip
    assert made.status_code == 200
    assert 'data-testid="new-token">dkw_' in made.text
    listed = {t["name"]: t for t in admin.get("/api/admin/tokens").json()}
    assert listed["zaaksysteem"]["user"] is None
    assert listed["zaaksysteem"]["source"] == "zaaksysteem"
    assert listed["zaaksysteem"]["scopes"] == ["ingest"]
    refused = admin.post(
        "/api/admin/tokens",
        json={"name": "x", "scopes": ["read:alerts"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 400 and refused.json()["field"] == "scope"
    nl = admin.get("/admin/tokens", headers={"Accept-Language": "nl"})
    assert "Leeg laten voor een collector" in nl.text
