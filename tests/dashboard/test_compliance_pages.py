"""BIO2 pages for the auditor: measures, a red measure's evidence, report, package; audited."""

from __future__ import annotations

import io
import zipfile

from compliance import service, status
from core.accounts.models import Role
from core.audit import entries
from tests.dashboard.conftest import Env, add_user, login


def _checked(env: Env) -> None:
    with env.write() as db:
        service.run_checks(db=db, clock=env.clock, settings=env.settings, actor="scheduler")


def test_the_auditor_reads_measures_evidence_report_and_package_every_read_audited(
    env: Env,
) -> None:
    add_user(env, "auditor", Role.AUDITOR)
    _checked(env)
    client = env.client()
    login(client, "auditor")

    home = client.get("/")
    assert home.status_code == 200 and 'data-testid="home-compliance"' in home.text
    assert "/compliance/bio2/measures/5.30.01" in home.text
    page = client.get("/compliance/bio2")
    assert page.status_code == 200
    assert 'data-status="not_met"' in page.text and "niet voldaan" in page.text
    assert "Continuïteitsplannen worden elk jaar getest" in page.text
    assert client.get("/alerts").status_code == 403  # read-only: compliance only

    measure = client.get("/compliance/bio2/measures/8.15.06")
    assert measure.status_code == 200
    assert "de auditketen is in de laatste 31 dagen niet gecontroleerd" in measure.text
    assert client.get("/compliance/bio2/measures/9.99.99").status_code == 404

    csv = client.get("/compliance/bio2/report", params={"format": "csv", "lang": "en"})
    assert csv.status_code == 200 and csv.text.startswith("framework,edition,measure")
    refused = client.get("/compliance/bio2/report", params={"format": "docx"})
    assert refused.status_code == 400 and "format" in refused.text

    package = client.get("/compliance/bio2/package", params={"year": 2026})
    assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
    key = service.public_key_hex(env.settings)
    assert service.verify_package(package.content, public_key=key) == []
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        assert "bio2-1.3-2026-nl.pdf" in archive.namelist()

    env.db.expire_all()
    reads = [e for e in entries(db=env.db, actor="auditor") if e.action == "data.read"]
    kinds = [e.object_type for e in reads]
    assert kinds == [
        "compliance", "compliance", "compliance_measure", "compliance_report", "compliance_package"
    ]  # fmt: skip
    assert reads[0].object_id == "home"
    assert reads[-1].details["manifest_sha256"]


def test_the_page_speaks_english_with_the_switch(env: Env) -> None:
    add_user(env, "auditor", Role.AUDITOR)
    _checked(env)
    client = env.client()
    login(client, "auditor")
    client.cookies.set("dijkwacht_lang", "en")
    page = client.get("/compliance/bio2")
    assert "Continuity plans are tested every year" in page.text and "not met" in page.text
    assert "no continuity exercise played in the last 365 days" in page.text


def test_a_red_measure_alert_opens_in_the_analysts_queue(env: Env) -> None:
    from core.store.base import AlertQuery
    from core.store.factory import open_alert_store
    from detection.service import deliver_outbox

    add_user(env, "analist", Role.ANALYST)
    _checked(env)
    store = open_alert_store(env.settings)
    try:
        with env.write() as db:
            deliver_outbox(db=db, alert_store=store, clock=env.clock)
        [alert] = [
            a
            for a in store.search(AlertQuery(rule_ids=[status.ALERT_RULE_ID], limit=50))
            if a.body["dijkwacht.compliance"]["measure"] == "5.30.01"
        ]
    finally:
        store.close()
    client = env.client()
    login(client, "analist")
    page = client.get(f"/alerts/{alert.id}")
    assert page.status_code == 200, page.text[-500:]
    assert "BIO2 5.30.01 niet voldaan" in page.text
