"""Alert queue grouping and alert detail extras: matched events from the event store (audited,
purpose when they name a resident), why each matched, and ATT&CK names from the catalog."""

from __future__ import annotations

from core.accounts.models import Role
from core.audit import entries
from core.events import new_event
from core.privacy.service import Pseudonymiser
from core.store.base import NewAlert
from core.store.factory import open_alert_store, open_event_store
from tests.dashboard.conftest import Env, add_user, login

XSS_RULE = "dd731efa-f6fa-5375-a46c-ccf9c877e6b9"  # detection/rules/exfiltration/web_xss.yml


def _alerts(env: Env, alerts: list[NewAlert]) -> list[str]:
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        return store.add_batch(alerts)
    finally:
        store.close()


def _alert(env: Env, rule: str, host: str, **body: object) -> NewAlert:
    return NewAlert(
        rule_id=rule,
        rule_title=f"Rule {rule}",
        level="medium",
        created_at=env.clock.now(),
        host_name=host,
        user_name="u1",
        body=dict(body),
    )


def test_queue_groups_by_rule_and_host_with_counts(env: Env) -> None:
    _alerts(
        env,
        [
            _alert(env, "r1", "ws-1"),
            _alert(env, "r1", "ws-2"),
            _alert(env, "r2", "ws-1"),
            _alert(env, "r1", "ws-1"),
        ],
    )
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    by_rule = client.get("/api/alerts", params={"group": "rule"}).json()["grouping"]
    assert [(g["key"], g["label"], g["count"]) for g in by_rule["groups"]] == [
        ("r1", "Rule r1", 3),
        ("r2", "Rule r2", 1),
    ]
    assert by_rule["partial"] is False and by_rule["scanned"] == 4
    by_host = client.get("/api/alerts", params={"group": "host", "rule": "r1"}).json()
    assert [(g["key"], g["count"]) for g in by_host["grouping"]["groups"]] == [
        ("ws-1", 2),
        ("ws-2", 1),
    ]
    only_host = client.get("/api/alerts", params={"host": "ws-2"}).json()
    assert [a["host_name"] for a in only_host["alerts"]] == ["ws-2"]
    page = client.get("/alerts", params={"group": "user"})
    assert page.status_code == 200 and 'data-testid="alert-groups"' in page.text
    assert "/alerts?user=u1" in page.text
    assert client.get("/api/alerts", params={"group": "nope"}).status_code == 422


def test_queue_filters_take_repeated_values_and_name_a_bad_one(env: Env) -> None:
    _alerts(env, [_alert(env, "r1", "ws-1"), _alert(env, "r2", "ws-2"), _alert(env, "r3", "ws-3")])
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    two = client.get("/api/alerts", params=[("rule", "r1"), ("rule", "r3"), ("sort", "oldest")])
    assert [a["rule_id"] for a in two.json()["alerts"]] == ["r1", "r3"]
    page = client.get("/alerts", params=[("rule", "r2"), ("host", "ws-2")])
    assert page.status_code == 200 and "ws-2" in page.text and "ws-1" not in page.text
    for params, field in (
        ({"page": "0"}, "page"),
        ({"sort": "random"}, "sort"),
        ({"host": "h" * 256}, "host"),
        ({"page": "two"}, "page"),
    ):
        refused = client.get("/api/alerts", params=params)
        assert refused.status_code == 422, params
        assert field in refused.text, (params, refused.text)


def test_detail_loads_matched_events_audited_with_purpose_and_explains(env: Env) -> None:
    pseudonym = Pseudonymiser(env.settings.secret("pseudonym_key").encode()).pseudonym("111222333")
    event = new_event(
        timestamp=env.clock.now(),
        dataset="nginx.access",
        original="GET /zoek?q=<script>",
        fields={"url.original": "/zoek?q=<script>", "dijkwacht.subject.pseudonym": pseudonym},
    )
    events = open_event_store(env.settings)
    try:
        (event_id,) = events.add_batch([event])
    finally:
        events.close()
    (alert_id,) = _alerts(
        env,
        [
            _alert(
                env,
                XSS_RULE,
                "portal",
                event_ids=[event_id, "gone"],
                selections=["selection_dataset", "selection_url"],
                tags=["attack.initial-access", "attack.t1190"],
            )
        ],
    )
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    # The alert body names nobody, but its event does: a purpose is still required.
    asked = client.get(f"/alerts/{alert_id}")
    assert asked.status_code == 200 and 'name="purpose"' in asked.text
    assert client.get(f"/api/alerts/{alert_id}").status_code == 400
    page = client.get(f"/alerts/{alert_id}", params={"purpose": "onderzoek XSS-poging"})
    assert page.status_code == 200
    assert event_id in page.text and "<code>gone</code>" in page.text
    assert "selection_url" in page.text and "/zoek?q=&lt;script&gt;" in page.text
    assert "Exploit Public-Facing Application" in page.text and "Initial Access" in page.text
    api = client.get(f"/api/alerts/{alert_id}", params={"purpose": "onderzoek XSS-poging"}).json()
    assert [e["id"] for e in api["events"]] == [event_id]
    assert api["attack_context"]["techniques"][0]["id"] == "T1190"
    reads = [e for e in entries(db=env.db, actor="ana") if e.object_type == "alert"]
    assert len(reads) == 2
    assert all(r.purpose == "onderzoek XSS-poging" for r in reads)
    assert all(r.details["subject_pseudonyms"] == [pseudonym] for r in reads)
    assert all(r.details["event_ids"] == [event_id] for r in reads)


def test_exercise_alert_is_marked(env: Env) -> None:
    alert = _alert(env, "r1", "ws-1")
    (alert_id,) = _alerts(
        env,
        [
            NewAlert(
                rule_id=alert.rule_id,
                rule_title=alert.rule_title,
                level="low",
                created_at=alert.created_at,
                exercise_id="oef-2026-1",
                body={},
            )
        ],
    )
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    assert "OEFENING / EXERCISE" in client.get(f"/alerts/{alert_id}").text
