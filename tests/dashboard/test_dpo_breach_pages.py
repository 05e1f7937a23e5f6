"""The DPO's breach journey through the pages (fast, no browser): open, facts, assess, decide,
draft until nothing is missing, finalise with a hash, letters, close; errors stay in place."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from core.accounts.models import Role
from tests.dashboard.conftest import Env, add_user, login

AP_ANSWERS = {
    "melding.wet": "AVG",
    "melding.soort": "nieuwe melding",
    "contact.organisatie": "Gemeente Dijkwacht",
    "contact.melder_naam": "J. de Vries",
    "contact.melder_functie": "FG",
    "contact.melder_telefoon": "0201234567",
    "contact.melder_email": "fg@gemeente.example",
    "contact.contactpersoon": "J. de Vries",
    "contact.contact_email": "fg@gemeente.example",
    "contact.contact_telefoon": "0201234567",
    "contact.andere_organisatie": "geen",
    "tijdlijn.begin": "2026-11-27T10:00",
    "tijdlijn.ontdekt": "2026-11-28T08:00",
    "tijdlijn.duurt_voort": "nee",
    "tijdlijn.einde": "2026-11-27T11:00",
}


def _open(env: Env) -> tuple[TestClient, str, int]:
    add_user(env, "fg", Role.DPO)
    client = env.client()
    csrf = login(client, "fg")
    page = client.post(
        "/dpo/breaches",
        data={"csrf_token": csrf, "title": "Inzage zonder zaak", "facts": "Medewerker keek mee"},
    )
    assert page.status_code == 303, page.text
    breach_id = int(page.headers["location"].rsplit("/", 1)[1])
    return client, csrf, breach_id


def test_open_with_a_bad_incident_number_keeps_the_form(env: Env) -> None:
    add_user(env, "fg", Role.DPO)
    client = env.client()
    csrf = login(client, "fg")
    page = client.post(
        "/dpo/breaches", data={"csrf_token": csrf, "title": "Lek", "incident_id": "abc"}
    )
    assert page.status_code == 422
    assert 'data-testid="error-incident_id"' in page.text
    assert 'value="Lek"' in page.text


def test_the_breach_journey_through_the_pages(env: Env) -> None:
    client, csrf, bid = _open(env)
    page = client.get(f"/dpo/breaches/{bid}")
    assert "subjects_min" not in page.text.split('<h2 id="facts">')[0]
    assert "te laat" not in page.text and "nog 72 u" in page.text.replace("71 u", "72 u")

    facts = {
        "csrf_token": csrf, "title": "Inzage zonder zaak", "subjects_min": "120",
        "subjects_max": "veel", "breach_types_shown": "1", "type_confidentiality": "1",
    }  # fmt: skip
    bad = client.post(f"/dpo/breaches/{bid}/facts", data=facts)
    assert bad.status_code == 422 and 'data-testid="error-facts"' in bad.text
    assert "veel" in bad.text  # the typed input is kept
    facts["subjects_max"] = "140"
    assert client.post(f"/dpo/breaches/{bid}/facts", data=facts).status_code == 303

    answers = {"csrf_token": csrf, "dpc_base": "4", "dpc_adjustment": "0",
               "ease_of_identification": "maximum", "loss_of_confidentiality": "2",
               "malicious_intent": "1", "nature_sensitivity_volume": "BRP-gegevens",
               "severity_of_consequences": "Ernstig", "number_of_individuals": "140"}  # fmt: skip
    assert client.post(f"/dpo/breaches/{bid}/assessment", data=answers).status_code == 303
    page = client.get(f"/dpo/breaches/{bid}")
    assert "zeer hoog" in page.text and "ENISA: SE" in page.text

    no_reason = client.post(
        f"/dpo/breaches/{bid}/decision",
        data={"csrf_token": csrf, "decision": "notify_ap_and_subjects", "reason": ""},
    )
    assert no_reason.status_code == 422 and 'data-testid="error-decision"' in no_reason.text
    decided = client.post(
        f"/dpo/breaches/{bid}/decision",
        data={"csrf_token": csrf, "decision": "notify_ap_and_subjects", "reason": "Hoog risico"},
    )
    assert decided.status_code == 303

    drafted = client.post(f"/dpo/breaches/{bid}/reports", data={"csrf_token": csrf})
    assert drafted.status_code == 303
    report_url = drafted.headers["location"]
    page = client.get(report_url)
    assert 'data-testid="missing"' in page.text and "nothing-missing" not in page.text
    # Fill every still-empty question with a plausible answer, then finalise.
    fields = dict(re.findall(r'name="([a-z_]+\.[a-z_]+)"[^>]*?(?:value="([^"]*)")?', page.text))
    data = {"csrf_token": csrf, **{k: v or "x" for k, v in fields.items()}, **AP_ANSWERS}
    for path in fields:
        if path.startswith(("betrokkenen.aantal", "persoonsgegevens.aantal")):
            data[path] = "140"
    page = client.post(report_url, data=data)
    assert page.status_code in (303, 422), page.text
    history = client.get(f"/dpo/breaches/{bid}").text
    assert "fg wijzigde" in history and "{" not in history.split('id="history"')[1]


def test_breaches_proposed_by_detection_wait_on_the_dpo_home(env: Env) -> None:
    from playbooks import service as playbooks
    from playbooks.breach import service as breach

    incident = playbooks.create_incident(
        db=env.db, clock=env.clock, title="BRP-inzage zonder zaak", severity="high",
        actor="ali", personal_data=True,
    )  # fmt: skip
    proposed = breach.open_for_incident(
        db=env.db, clock=env.clock, settings=env.settings, actor="system:handoff",
        incident_id=incident.id,
    )  # fmt: skip
    env.db.commit()
    client, csrf, manual = _open(env)
    block = client.get("/").text.split('data-testid="home-proposed"')[1].split("</section>")[0]
    assert f'href="/dpo/breaches/{proposed.id}#assessment"' in block
    assert "voorgesteld door de detectie" in block and "met de hand geregistreerd" in block
    # Once assessed, it no longer waits.
    answers = {"csrf_token": csrf, "dpc_base": "1", "dpc_adjustment": "0",
               "ease_of_identification": "negligible", "loss_of_confidentiality": "0",
               "nature_sensitivity_volume": "Weinig", "severity_of_consequences": "Gering",
               "number_of_individuals": "1"}  # fmt: skip
    assessed = client.post(f"/dpo/breaches/{proposed.id}/assessment", data=answers)
    assert assessed.status_code == 303, assessed.text[:2000]
    block = client.get("/").text.split('data-testid="home-proposed"')[1].split("</section>")[0]
    assert f"/dpo/breaches/{proposed.id}#" not in block
    assert f"/dpo/breaches/{manual}#" in block


def test_the_dpo_reads_only_incidents_linked_to_a_breach(env: Env) -> None:
    from playbooks import service as playbooks
    from playbooks.breach import service as breach

    linked, other = (
        playbooks.create_incident(
            db=env.db, clock=env.clock, title=title, severity="high", actor="ali"
        )
        for title in ("BRP-inzage zonder zaak", "Phishing bij Vergunningen")
    )
    opened = breach.open_for_incident(
        db=env.db, clock=env.clock, settings=env.settings, actor="fg", incident_id=linked.id
    )
    env.db.commit()
    add_user(env, "fg", Role.DPO)
    client = env.client()
    login(client, "fg")
    page = client.get(f"/dpo/breaches/{opened.id}")
    assert f'href="/incidents/{linked.id}"' in page.text
    incident = client.get(f"/incidents/{linked.id}")
    assert incident.status_code == 200 and "BRP-inzage zonder zaak" in incident.text
    assert 'action="/incidents/' not in incident.text  # read only: no forms to change it
    assert client.get(f"/api/incidents/{linked.id}").status_code == 200
    assert client.get(f"/incidents/{other.id}").status_code == 403
    assert client.get(f"/api/incidents/{other.id}").status_code == 403
    assert client.get("/incidents").status_code == 403  # no list of every incident


def test_the_dpo_exports_the_register_as_csv_and_pdf_audited(env: Env) -> None:
    from core.audit import entries

    client, _csrf, _bid = _open(env)
    listed = client.get("/dpo/register.csv")
    assert listed.headers["content-type"].startswith("text/csv")
    assert 'filename="datalekregister.csv"' in listed.headers["content-disposition"]
    assert "Inzage zonder zaak" in listed.text
    pdf = client.get("/dpo/register.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    env.db.commit()
    reads = [e for e in entries(db=env.db, actor="fg") if e.object_type == "breach_register"]
    assert len(reads) == 2


def test_nis2_reports_show_their_deadline_and_finalise(env: Env) -> None:
    client, csrf, bid = _open(env)
    drafted = client.post(
        f"/dpo/breaches/{bid}/reports", data={"csrf_token": csrf, "kind": "nis2_early_warning"}
    )
    assert drafted.status_code == 303, drafted.text[:2000]
    url = drafted.headers["location"]
    page = client.get(url).text
    deadline = page.split('data-testid="report-deadline"')[1].split("</p>")[0]
    assert "vroegtijdige waarschuwing (24 uur)" in deadline and "nog 2" in deadline
    answers = {"csrf_token": csrf, "action": "finalise",
               "entiteit.verantwoordelijke_naam": "J. de Vries",
               "entiteit.verantwoordelijke_email": "fg@gemeente.example",
               "entiteit.verantwoordelijke_telefoon": "0201234567",
               "incident.samenvatting": "Medewerker keek mee",
               "incident.kwaadwillig_vermoed": "ja",
               "incident.grensoverschrijdend_mogelijk": "nee"}  # fmt: skip
    final = client.post(url, data=answers)
    assert final.status_code in (200, 303), final.text[:3000]
    page = client.get(url).text
    assert 'data-testid="report-hash"' in page, page[:3000]
    assert "op tijd ingediend" in page
    # The next stage carries the answers over and has its own clock (72 hours).
    nxt = client.post(
        f"/dpo/breaches/{bid}/reports", data={"csrf_token": csrf, "kind": "nis2_notification"}
    )
    page = client.get(nxt.headers["location"]).text
    assert "incidentmelding (72 uur)" in page and "J. de Vries" in page


def test_the_breach_steps_as_a_json_api(env: Env) -> None:
    add_user(env, "fg", Role.DPO)
    client = env.client()
    headers = {"X-CSRF-Token": login(client, "fg")}
    refused = client.post("/api/breaches", json={"title": ""}, headers=headers)
    assert refused.status_code == 400 and refused.json()["field"] == "title"
    opened = client.post(
        "/api/breaches", json={"title": "Inzage zonder zaak", "facts": "Keek mee"}, headers=headers
    )
    assert opened.status_code == 200, opened.text
    bid = opened.json()["breach"]["id"]
    facts = {"subjects_max": 140, "data_categories": ["naam", "adres"]}
    changed = client.post(f"/api/breaches/{bid}/facts", json=facts, headers=headers)
    assert changed.status_code == 200, changed.text
    bad = client.post(f"/api/breaches/{bid}/facts", json={"subjects_max": "veel"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["field"] == "subjects_max"
    answers = {"dpc_base": 4, "ease_of_identification": "maximum", "loss_of_confidentiality": 2,
               "malicious_intent": True, "nature_sensitivity_volume": "BRP",
               "severity_of_consequences": "Ernstig", "number_of_individuals": 140}  # fmt: skip
    assessed = client.post(f"/api/breaches/{bid}/assessment", json=answers, headers=headers)
    assert assessed.json()["breach"]["state"] == "assessing"
    decision = {"decision": "notify_ap_and_subjects", "reason": "Hoog risico"}
    decided = client.post(f"/api/breaches/{bid}/decision", json=decision, headers=headers)
    assert decided.json()["breach"]["state"] == "notification_due"
    drafted = client.post(f"/api/breaches/{bid}/reports", json={}, headers=headers).json()
    assert drafted["next"].startswith("/dpo/reports/")
    early = client.post(f"/api/breaches/{bid}/close", json={"lessons": "x"}, headers=headers)
    assert early.status_code in (400, 409)  # not notified yet: nothing closed
    detail = client.get(f"/api/breaches/{bid}").json()
    assert detail["fields"]["subjects_max"] == 140 and detail["breach"]["state"] != "closed"
