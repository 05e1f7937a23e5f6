"""/intel for analysts and admins: feeds, indicators with filters, the admin's import form."""

from __future__ import annotations

import re

from core.accounts.models import Role
from tests.dashboard.conftest import Env, add_user, csrf_of, login
from tests.intel.conftest import stix_bundle


def test_admin_imports_a_bundle_and_analyst_filters_indicators(env: Env) -> None:
    add_user(env, "beheer", Role.ADMIN)
    add_user(env, "analist", Role.ANALYST)
    admin = env.client()
    token = login(admin, "beheer")
    page = admin.get("/intel")
    assert page.status_code == 200 and 'data-testid="import-form"' in page.text
    imported = admin.post(
        "/intel/import",
        data={"csrf_token": csrf_of(page.text), "format": "stix", "source": "ncsc"},
        files={"file": ("bundle.json", stix_bundle().encode(), "application/json")},
    )
    assert imported.status_code == 200, imported.text
    assert 'data-testid="count-added">2<' in imported.text
    assert "203.0.113.0/24" in imported.text

    refused = admin.post(
        "/intel/import",
        data={"csrf_token": token, "format": "csv", "source": "x", "location": "/etc/passwd"},
    )
    assert refused.status_code == 400 and "server paths: use the CLI" in refused.text

    analyst = env.client()
    login(analyst, "analist")
    listing = analyst.get("/intel", params={"type": "user_agent"})
    assert listing.status_code == 200
    assert "EvilLoader/2.0" in listing.text and "203.0.113.0/24" not in listing.text
    assert 'data-testid="import-form"' not in listing.text
    api = analyst.get("/api/intel/indicators", params={"type": "cidr"}).json()
    assert api["total"] == 1 and api["indicators"][0]["tlp"] == "amber"
    assert api["indicators"][0]["techniques"] == ["T1566"]
    sources = analyst.get("/api/intel/sources").json()
    assert [(s["name"], s["last_counts"]["added"], s["unexpired"]) for s in sources] == [
        ("ncsc", 2, 2)
    ]
    bad = analyst.get("/intel", params={"type": "ip"})
    assert bad.status_code == 400 and "unknown &#39;ip&#39;" in bad.text
    assert analyst.post("/intel/import", data={"csrf_token": token}).status_code == 403


def test_incident_observables_are_shared_as_stix_by_case_workers(env: Env) -> None:
    from playbooks import service as playbooks

    add_user(env, "manager", Role.INCIDENT_MANAGER)
    with env.write() as db:
        incident = playbooks.create_incident(
            db=db, clock=env.clock, title="Phishing", severity="high", actor="manager"
        )
        for kind, value in (("domain", "phish.example"), ("user", "jjansen")):
            playbooks.add_observable(
                db=db, clock=env.clock, incident_id=incident.id, kind=kind, value=value,
                actor="manager",
            )  # fmt: skip
        drill = playbooks.create_incident(
            db=db, clock=env.clock, title="OEF", severity="low", actor="m", exercise_id="oef-1"
        )
        ids = incident.id, drill.id
    client = env.client()
    token = login(client, "manager")
    shared = client.post(
        f"/api/intel/export/{ids[0]}?format=stix&tlp=green", headers={"X-CSRF-Token": token}
    )
    assert shared.status_code == 200, shared.text
    assert shared.headers["content-type"].startswith("application/stix+json")
    assert (shared.headers["x-dijkwacht-shared"], shared.headers["x-dijkwacht-withheld"]) == (
        "1",
        "1",
    )
    assert "phish.example" in shared.text and "jjansen" not in shared.text
    refused = client.post(f"/api/intel/export/{ids[1]}", headers={"X-CSRF-Token": token})
    assert refused.status_code == 400 and "exercise" in refused.text


def test_an_intel_alerts_rule_link_explains_the_matcher_and_leads_to_intel(env: Env) -> None:
    from core.store.base import NewAlert
    from core.store.factory import open_alert_store
    from intel.alerting import RULE_ID

    store = open_alert_store(env.settings, clock=env.clock)
    try:
        (alert_id,) = store.add_batch(
            [
                NewAlert(
                    rule_id=RULE_ID,
                    rule_title="Threat-intel indicator seen: domain phish.example",
                    level="high",
                    created_at=env.clock.now(),
                    host_name="ws-1",
                    user_name=None,
                    body={},
                )
            ]
        )
    finally:
        store.close()
    add_user(env, "analist", Role.ANALYST)
    client = env.client()
    login(client, "analist")
    alert = client.get(f"/alerts/{alert_id}")
    assert alert.status_code == 200, alert.text
    link = re.search(r'<th scope="row">[^<]*</th><td><a href="([^"]+)"', alert.text)
    assert link is not None and link.group(1) == f"/rules/{RULE_ID}"
    rule = client.get(link.group(1))
    assert rule.status_code == 200, rule.text
    assert 'data-testid="intel-rule-text"' in rule.text and 'href="/intel"' in rule.text
    assert client.get("/rules/intel-indicator-match-x").status_code == 404
    assert client.get("/intel").status_code == 200


def test_the_incident_page_offers_sharing_to_case_workers_but_not_for_exercises(
    env: Env,
) -> None:
    from playbooks import service as playbooks

    add_user(env, "manager", Role.INCIDENT_MANAGER)
    add_user(env, "fg", Role.DPO)
    with env.write() as db:
        incident = playbooks.create_incident(
            db=db, clock=env.clock, title="Phishing", severity="high", actor="manager"
        )
        playbooks.add_observable(
            db=db, clock=env.clock, incident_id=incident.id, kind="domain",
            value="phish.example", actor="manager",
        )  # fmt: skip
        drill = playbooks.create_incident(
            db=db, clock=env.clock, title="OEF", severity="low", actor="m", exercise_id="oef-1"
        )
        ids = incident.id, drill.id
    client = env.client()
    login(client, "manager")
    client.cookies.set("dijkwacht_lang", "en")
    page = client.get(f"/incidents/{ids[0]}")
    assert page.status_code == 200 and 'data-testid="share-form"' in page.text
    form = page.text[page.text.index('data-testid="share-form"') :]
    form = form[: form.index("</form>")]
    misp = re.search(r'formaction="([^"]+)"', form)
    assert misp is not None and misp.group(1) == f"/api/intel/export/{ids[0]}?format=misp"
    # The browser posts the form: the page's CSRF token as a form field, the format in the URL.
    shared = client.post(misp.group(1), data={"csrf_token": csrf_of(page.text)})
    assert shared.status_code == 200, shared.text
    assert shared.headers["content-disposition"].startswith("attachment;")
    assert "phish.example" in shared.text and '"Attribute"' in shared.text
    stix = client.post(
        f"/api/intel/export/{ids[0]}?format=stix", data={"csrf_token": csrf_of(page.text)}
    )
    assert stix.status_code == 200 and stix.headers["content-type"].startswith(
        "application/stix+json"
    )

    drill_page = client.get(f"/incidents/{ids[1]}")
    assert 'data-testid="share-form"' not in drill_page.text
    assert "Exercise incidents are never shared" in drill_page.text
    refused = client.post(
        f"/api/intel/export/{ids[1]}?format=misp", data={"csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 400 and "exercise" in refused.text

    reader = env.client()
    login(reader, "fg")
    dpo_page = reader.get(f"/incidents/{ids[0]}")
    assert dpo_page.status_code in (200, 403), dpo_page.status_code
    assert 'data-testid="share-form"' not in dpo_page.text
