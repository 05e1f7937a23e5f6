"""Rules pages and API: list with state, enable/disable (CSRF, audited), test on pasted events,
rule detail with YAML and Lucene, and the ATT&CK coverage matrix over enabled rules only."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from core.accounts.models import Role
from core.audit import AuditEntry
from detection.management import LuceneResult, store_lucene
from tests.dashboard.conftest import Env, add_user, login

XSS_RULE = "dd731efa-f6fa-5375-a46c-ccf9c877e6b9"  # detection/rules/exfiltration/web_xss.yml


def _client(env: Env, username: str, role: Role) -> tuple[object, str]:
    add_user(env, username, role)
    client = env.client()
    return client, login(client, username)


def test_rule_list_shows_state_tags_and_switch_only_for_switchers(env: Env) -> None:
    analyst, _ = _client(env, "ana", Role.ANALYST)
    page = analyst.get("/rules")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert "Cross-site scripting attempt in portal access log" in page.text
    assert "attack.t1190" in page.text
    assert "/enabled" not in page.text  # analysts read, they do not switch
    api = analyst.get("/api/rules").json()  # type: ignore[attr-defined]
    rule = next(r for r in api["rules"] if r["rule_id"] == XSS_RULE)
    assert rule["enabled"] is True and rule["level"] == "medium" and rule["hits"] == 0
    only = analyst.get("/api/rules", params={"technique": "T1190"}).json()  # type: ignore[attr-defined]
    assert {r["rule_id"] for r in only["rules"]} >= {XSS_RULE}
    assert all(any("t1190" in t for t in r["tags"]) for r in only["rules"])


def test_disable_needs_csrf_is_audited_and_leaves_the_coverage(env: Env) -> None:
    manager, csrf = _client(env, "mgr", Role.INCIDENT_MANAGER)
    refused = manager.post(f"/rules/{XSS_RULE}/enabled", data={"enabled": "false"})  # type: ignore[attr-defined]
    assert refused.status_code == 403
    before = manager.get("/api/attack/coverage").json()  # type: ignore[attr-defined]
    done = manager.post(  # type: ignore[attr-defined]
        f"/rules/{XSS_RULE}/enabled", data={"enabled": "false", "csrf_token": csrf}
    )
    assert done.status_code == 303
    detail = manager.get(f"/api/rules/{XSS_RULE}").json()  # type: ignore[attr-defined]
    assert detail["enabled"] is False
    entries = env.db.scalars(
        select(AuditEntry).where(AuditEntry.action == "detection.rule.disable")
    ).all()
    assert [(e.actor, e.object_id) for e in entries] == [("mgr", XSS_RULE)]
    after = manager.get("/api/attack/coverage").json()  # type: ignore[attr-defined]

    def t1190(data: dict[str, object]) -> list[str]:
        for column in data["tactics"]:  # type: ignore[attr-defined]
            for cell in column["techniques"]:
                if cell["technique_id"] == "T1190":
                    return list(cell["rule_ids"])
        raise AssertionError("T1190 not in the matrix")

    assert XSS_RULE in t1190(before) and XSS_RULE not in t1190(after)
    assert after["enabled_rules"] == before["enabled_rules"] - 1
    switched = manager.post(  # type: ignore[attr-defined]
        f"/api/rules/{XSS_RULE}/enabled", json={"enabled": True}, headers={"X-CSRF-Token": csrf}
    )
    assert switched.status_code == 200 and switched.json()["enabled"] is True


def test_rule_test_on_pasted_events_explains_the_match(env: Env) -> None:
    analyst, csrf = _client(env, "ana", Role.ANALYST)
    hit = {
        "event": {"dataset": "nginx.access"},
        "url": {"original": "/zoek?q=<script>alert(1)</script>"},
    }
    miss = {"event": {"dataset": "nginx.access"}, "url": {"original": "/zoek?q=afval"}}
    text = "\n".join([json.dumps(miss), "", json.dumps(hit)])
    page = analyst.post(  # type: ignore[attr-defined]
        f"/rules/{XSS_RULE}/test", data={"events": text, "csrf_token": csrf}
    )
    assert page.status_code == 200
    assert "1 van 2 events" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # escaped, never raw
    assert "<script>alert(1)" not in page.text
    api = analyst.post(  # type: ignore[attr-defined]
        f"/api/rules/{XSS_RULE}/test", json={"events": text}, headers={"X-CSRF-Token": csrf}
    ).json()
    assert api["events"] == 2
    [match] = api["matches"]
    assert match["line"] == 3
    assert set(match["selections"]) == {"selection_dataset", "selection_url"}
    assert "<script>" in match["values"]["selection_url"]["url.original"]
    bad = analyst.post(  # type: ignore[attr-defined]
        f"/api/rules/{XSS_RULE}/test", json={"events": "{not json"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status_code == 400 and "line 1" in bad.json()["detail"]


def test_rule_detail_shows_yaml_and_stored_lucene(env: Env) -> None:
    with env.write() as db:
        store_lucene(
            db=db,
            clock=env.clock,
            results=[LuceneResult(XSS_RULE, "url.original:*\\<script*")],
        )
    admin, _ = _client(env, "adm", Role.ADMIN)
    page = admin.get(f"/rules/{XSS_RULE}")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert "selection_url:" in page.text and "url.original:*\\&lt;script*" in page.text
    assert 'data-testid="rule-switch"' in page.text
    assert admin.get("/rules/no-such-rule").status_code == 404  # type: ignore[attr-defined]


def test_coverage_page_prints_counts_in_text(env: Env) -> None:
    analyst, _ = _client(env, "ana", Role.ANALYST)
    page = analyst.get("/attack")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert 'href="/rules?technique=T1190"' in page.text
    assert "Initial Access" in page.text
    assert re.search(r"\d+ regels?<", page.text)  # the count is text, not colour alone
