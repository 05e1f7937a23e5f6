"""/inventory, /advisories and the collectors page: admins import and edit, an incident
manager accepts a risk, an expected source never seen is red on the collectors page."""

from __future__ import annotations

import json

from core.accounts.models import Role
from tests.advisories.samples import csaf_advisory, cyclonedx_sbom, inventory_csv, library
from tests.dashboard.conftest import Env, add_user, login

GATEWAY = {
    "vendor": "Example", "product": "Gateway", "version": "2.3.0", "owner": "team-netwerk",
    "exposure": "internet", "cpe": "cpe:2.3:a:example:gateway:2.3.0:*:*:*:*:*:*:*",
    "log_source": "syslog:gw01",
}  # fmt: skip


def test_admin_imports_inventory_and_advisory_and_a_manager_accepts_the_risk(env: Env) -> None:
    add_user(env, "beheer", Role.ADMIN)
    add_user(env, "manager", Role.INCIDENT_MANAGER)
    admin = env.client()
    token = login(admin, "beheer")
    bad_row = {**GATEWAY, "version": "1", "exposure": "dmz"}
    upload = admin.post(
        "/inventory/import",
        data={"csrf_token": token, "kind": "csv"},
        files={"file": ("inv.csv", inventory_csv([GATEWAY, bad_row]), "text/csv")},
    )
    assert upload.status_code == 400  # one row refused; the other is stored
    assert "inv.csv:3: exposure: must be internet or internal" in upload.text
    assert "1 toegevoegd" in upload.text and "Example" in upload.text
    sbom = cyclonedx_sbom([library("requests", "2.31.0", group="psf")])
    upload = admin.post(
        "/inventory/import",
        data={"csrf_token": token, "kind": "cyclonedx", "owner": "team-apps"},
        files={"file": ("app.cdx.json", sbom, "application/json")},
    )
    assert upload.status_code == 200 and "pkg:pypi/requests@2.31.0" in upload.text
    sources = admin.get("/api/expected-sources").json()
    assert [(s["name"], s["origin"]) for s in sources] == [("syslog:gw01", "inventory")]

    doc = csaf_advisory()
    advisory = admin.post(
        "/advisories/import",
        data={"csrf_token": token},
        files={"file": ("ncsc.json", json.dumps(doc), "application/json")},
    )
    assert advisory.status_code == 200, advisory.text
    assert "incident #1 geopend" in advisory.text
    bad = dict(doc, document={**doc["document"], "csaf_version": "1.2"})
    refused = admin.post(
        "/advisories/import",
        data={"csrf_token": token},
        files={"file": ("old.json", json.dumps(bad), "application/json")},
    )
    assert refused.status_code == 400 and "old.json: /document/csaf_version" in refused.text

    manager = env.client()
    manager_token = login(manager, "manager")
    [row] = manager.get("/api/advisories").json()
    assert (row["item"], row["owner"], row["incident_id"]) == (
        "Example Gateway 2.3.0",
        "team-netwerk",
        1,
    )
    page = manager.get("/advisories")
    assert "NCSC-2026-0421" in page.text and 'action="/advisories/1/items/1/accept"' in page.text
    accepted = manager.post(
        "/advisories/1/items/1/accept",
        data={"csrf_token": manager_token, "reason": "VPN only", "until": "2027-01-31T12:00"},
    )
    assert accepted.status_code == 303
    assert manager.get("/api/advisories").json() == []
    [closed] = manager.get("/api/advisories?all=true").json()
    assert closed["accepted_by"] == "manager" and closed["accepted_reason"] == "VPN only"
    # An analyst reads but cannot import.
    add_user(env, "analist", Role.ANALYST)
    analyst = env.client()
    analyst_token = login(analyst, "analist")
    assert analyst.get("/inventory").status_code == 200
    forbidden = analyst.post(
        "/inventory/sources",
        data={"csrf_token": analyst_token, "name": "x", "max_silence_minutes": "5"},
    )
    assert forbidden.status_code == 403


def test_an_expected_source_never_seen_is_red_on_the_collectors_page(env: Env) -> None:
    add_user(env, "beheer", Role.ADMIN)
    client = env.client()
    token = login(client, "beheer")
    bad = client.post(
        "/inventory/sources",
        data={"csrf_token": token, "name": "exchange01", "max_silence_minutes": "nu"},
    )
    assert bad.status_code == 400 and "max_silence_minutes: not a whole number" in bad.text
    added = client.post(
        "/inventory/sources",
        data={"csrf_token": token, "name": "exchange01", "max_silence_minutes": "30"},
    )
    assert added.status_code == 303
    api = client.get("/api/collectors").json()
    [source] = api["sources"]
    assert (source["source"], source["missing"], source["silent"]) == ("exchange01", True, True)
    page = client.get("/collectors")
    assert '<tr class="alarm" data-testid="source-exchange01">' in page.text
    assert "NOOIT ONTVANGEN" in page.text
    forget = client.post(
        "/inventory/sources/forget", data={"csrf_token": token, "name": "exchange01"}
    )
    assert forget.status_code == 303
    assert client.get("/api/collectors").json()["sources"] == []
