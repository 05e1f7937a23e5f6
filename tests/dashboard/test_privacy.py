"""Audited reads with purpose, the resident access report (property test, PDF), re-ident."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from core.accounts.models import Role
from core.audit import entries
from core.privacy.service import Pseudonymiser
from core.store.base import NewAlert
from core.store.factory import open_alert_store, open_event_store
from tests.core.privacy.support import app_audit_event
from tests.dashboard.conftest import Env, add_user, login

BSN_A, BSN_B = "111222333", "123456782"


def _pseudonymiser(env: Env) -> Pseudonymiser:
    return Pseudonymiser(env.settings.secret("pseudonym_key").encode("utf-8"))


def _alert_naming(env: Env, pseudonym: str) -> str:
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        (alert_id,) = store.add_batch(
            [
                NewAlert(
                    rule_id="r1",
                    rule_title="Bulk BRP lookups",
                    level="high",
                    created_at=env.clock.now(),
                    body={"group_by": {"dijkwacht.subject.pseudonym": pseudonym}},
                )
            ]
        )
    finally:
        store.close()
    return alert_id


def test_alert_with_a_resident_needs_a_purpose_and_is_audited(env: Env) -> None:
    pseudonym = _pseudonymiser(env).pseudonym(BSN_A)
    alert_id = _alert_naming(env, pseudonym)
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    asked = client.get(f"/alerts/{alert_id}")
    assert asked.status_code == 200 and 'name="purpose"' in asked.text
    assert client.get(f"/api/alerts/{alert_id}").status_code == 400
    shown = client.get(f"/api/alerts/{alert_id}", params={"purpose": "onderzoek incident 42"})
    assert shown.status_code == 200
    reads = [e for e in entries(db=env.db, actor="ana") if e.action == "data.read"]
    detail = [e for e in reads if e.object_type == "alert"]
    assert len(detail) == 1
    assert detail[0].purpose == "onderzoek incident 42"
    assert detail[0].details["subject_pseudonyms"] == [pseudonym]
    assert detail[0].details["role"] == "analyst"


def test_queue_list_is_audited_only_when_it_shows_personal_data(env: Env) -> None:
    """The default queue shows no account names and writes nothing; asking for them (user
    filter, grouping by user) is an audited read, as is the API list, which always has them;
    a resident pseudonym in a shown field is named in the entry."""
    pseudonym = _pseudonymiser(env).pseudonym(BSN_B)
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        store.add_batch(
            [
                NewAlert(
                    rule_id="r1",
                    rule_title="Login failures",
                    level="high",
                    created_at=env.clock.now(),
                    host_name="gm-ws-01",
                    user_name="j.jansen",
                )
            ]
        )
    finally:
        store.close()
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")

    def lists() -> list[Any]:
        env.db.rollback()  # end the read snapshot: see what the requests committed since
        return [
            e
            for e in entries(db=env.db, actor="ana")
            if e.action == "data.read" and e.object_type == "alert_list"
        ]

    page = client.get("/alerts")
    assert page.status_code == 200 and "gm-ws-01" in page.text
    assert "j.jansen" not in page.text
    assert lists() == []
    by_user = client.get("/alerts", params={"group": "user"})
    assert "j.jansen" in by_user.text
    assert "j.jansen" in client.get("/alerts", params={"user": "j.jansen"}).text
    assert client.get("/api/alerts").json()["alerts"][0]["user_name"] == "j.jansen"
    assert len(lists()) == 3
    _alert_naming(env, pseudonym)
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        store.add_batch(
            [
                NewAlert(
                    rule_id="r2",
                    rule_title="Portal",
                    level="low",
                    created_at=env.clock.now(),
                    host_name=pseudonym,
                )
            ]
        )
    finally:
        store.close()
    client.get("/alerts")
    assert lists()[-1].details["subject_pseudonyms"] == [pseudonym]
    assert len(lists()) == 4


def test_access_report_lists_both_sources_and_only_that_resident(env: Env) -> None:
    p = _pseudonymiser(env)
    mine, other = p.pseudonym(BSN_A), p.pseudonym(BSN_B)
    events = open_event_store(env.settings)
    try:
        events.add_batch(
            [
                app_audit_event(mine, "E1", env.clock.now() - timedelta(days=2)),
                app_audit_event(other, "E2", env.clock.now() - timedelta(days=1)),
            ]
        )
    finally:
        events.close()
    alert_id = _alert_naming(env, mine)
    add_user(env, "ana", Role.ANALYST)
    add_user(env, "fg", Role.DPO)
    analyst = env.client()
    login(analyst, "ana")
    analyst.get(f"/api/alerts/{alert_id}", params={"purpose": "onderzoek incident 42"})
    dpo = env.client()
    csrf = login(dpo, "fg")
    body = {"bsn": BSN_A, "include_names": False}
    report = dpo.post("/api/access-report", json=body, headers={"X-CSRF-Token": csrf}).json()
    assert [r["source"] for r in report["records"]] == ["brp", "dijkwacht"]
    assert all(r["employee"] is None for r in report["records"])
    assert report["records"][0]["department"] == "Burgerzaken"
    assert report["records"][1]["purpose"] == "onderzoek incident 42"
    assert BSN_A not in str(report)
    named = dpo.post(
        "/api/access-report",
        json={**body, "include_names": True},
        headers={"X-CSRF-Token": csrf},
    )
    assert named.status_code == 400 and named.json()["field"] == "names_reason"
    named = dpo.post(
        "/api/access-report",
        json={**body, "include_names": True, "names_reason": "verzoek inwoner, besluit FG"},
        headers={"X-CSRF-Token": csrf},
    ).json()
    assert {r["employee"] for r in named["records"]} == {"E1", "ana"}
    generated = [e for e in entries(db=env.db, actor="fg") if e.action == "access_report.generated"]
    assert generated[-1].details["names_reason"] == "verzoek inwoner, besluit FG"
    for lang in ("nl", "en"):
        pdf = dpo.post(
            "/api/access-report/pdf",
            params={"lang": lang},
            json=body,
            headers={"X-CSRF-Token": csrf},
        )
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_reidentification_needs_two_different_approvers_and_expires(env: Env) -> None:
    p = _pseudonymiser(env)
    pseudonym = p.pseudonym(BSN_A)
    for name, role in (("ana", Role.ANALYST), ("fg", Role.DPO), ("im", Role.INCIDENT_MANAGER)):
        add_user(env, name, role)
    analyst, dpo, manager = env.client(), env.client(), env.client()
    tokens = {"ana": login(analyst, "ana"), "fg": login(dpo, "fg"), "im": login(manager, "im")}

    def call(client, who, path, body=None):  # type: ignore[no-untyped-def]
        return client.post(path, json=body or {}, headers={"X-CSRF-Token": tokens[who]})

    created = call(
        analyst,
        "ana",
        "/api/reidentification",
        {"pseudonym": pseudonym, "purpose": "incident 42: phishing victim"},
    ).json()
    rid = created["id"]
    verify = f"/api/reidentification/{rid}/verify"
    assert call(analyst, "ana", verify, {"bsn": BSN_A}).status_code == 409  # not approved yet
    assert call(analyst, "ana", f"/api/reidentification/{rid}/approve").status_code == 403
    assert call(dpo, "fg", f"/api/reidentification/{rid}/approve").json()["status"] == "pending"
    assert call(dpo, "fg", f"/api/reidentification/{rid}/approve").status_code == 409
    assert (
        call(manager, "im", f"/api/reidentification/{rid}/approve").json()["status"] == "approved"
    )
    assert call(analyst, "ana", verify, {"bsn": BSN_B}).json() == {"match": False}
    assert call(analyst, "ana", verify, {"bsn": BSN_A}).json() == {"match": True}
    assert call(manager, "im", verify, {"bsn": BSN_A}).status_code == 409  # not requester/DPO
    verified = [e for e in entries(db=env.db) if e.action == "reidentification.verified"]
    assert len(verified) == 2 and BSN_A not in str([e.details for e in verified])
    env.clock.advance(timedelta(hours=25))
    assert call(analyst, "ana", verify, {"bsn": BSN_A}).status_code == 401  # session expired too
    tokens["ana"] = login(analyst, "ana")
    assert call(analyst, "ana", verify, {"bsn": BSN_A}).status_code == 409  # expired


def test_access_report_names_roles_and_record_types_in_words(env: Env) -> None:
    """A resident reads 'security analyst' and 'security alert', not `analyst`/`alert`."""
    from pypdf import PdfReader

    p = _pseudonymiser(env)
    mine = p.pseudonym(BSN_A)
    events = open_event_store(env.settings)
    try:
        event = app_audit_event(mine, "E1", env.clock.now() - timedelta(days=2))
        event["dijkwacht"]["subject"]["record_type"] = "persoonslijst"
        events.add_batch([event])
    finally:
        events.close()
    alert_id = _alert_naming(env, mine)
    add_user(env, "ana", Role.ANALYST)
    add_user(env, "fg", Role.DPO)
    analyst = env.client()
    login(analyst, "ana")
    analyst.get(f"/api/alerts/{alert_id}", params={"purpose": "onderzoek incident 42"})
    dpo = env.client()
    csrf = login(dpo, "fg")
    expected = {
        "nl": ("beveiligingsanalist", "beveiligingsmelding", "medewerker burgerzaken",
               "persoonslijst (BRP)"),
        "en": ("security analyst", "security alert", "civil affairs officer",
               "personal record (population register)"),
    }  # fmt: skip
    for lang, words in expected.items():
        form = {"bsn": BSN_A, "lang": lang, "csrf_token": csrf}
        page = dpo.post("/dpo/access-report", data=form)
        assert page.status_code == 200, page.text[:500]
        table = page.text.split('data-testid="report-table"', 1)[1].split("</table>", 1)[0]
        for word in words:
            assert word in table, (lang, word)
        for code in ("<td>analyst</td>", "<td>alert</td>", "medewerker-burgerzaken"):
            assert code not in table, (lang, code)
        pdf = dpo.post("/dpo/access-report", data={**form, "format": "pdf"})
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        text = " ".join(
            " ".join(page.extract_text().split())
            for page in PdfReader(io.BytesIO(pdf.content)).pages
        )
        assert words[0] in text and words[1] in text, (lang, text[:800])
