"""/intel for analysts and admins: feeds, indicators with filters, the admin's import form."""

from __future__ import annotations

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
