"""The DPO's LDV pages: volumes per activity against the register, partners and evidence,
and the resident access report naming the partner."""

from __future__ import annotations

from pathlib import Path

from collectors.context import load_context
from core.accounts.models import Role
from core.store.sqlite_events import SqliteEventStore
from playbooks.breach.processing_register import load_file
from tests.dashboard.conftest import Env, add_user, login
from tests.ldv.support import ACTIVITY, BSN_A, BSN_B, ldv_event

OTHER = "https://register.groningen.nl/verwerkingen/belasting/v1"
PARTNER = "https://wij.groningen.nl"
REGISTER = f"""
systems:
  - name: BRP-bevraging
    sources: [brp-bevraging]
    activities:
      - name: Inzage persoonslijst
        uri: {ACTIVITY}
        legal_basis: Wet BRP art. 3.1
        retention: 2 jaar
      - name: Inzage persoonslijst (oud)
        uri: https://register.groningen.nl/verwerkingen/brp-inzage/v1
        retired: true
"""


def _load(env: Env, tmp_path: Path) -> None:
    register = tmp_path / "register.yaml"
    register.write_text(REGISTER)
    with env.write() as db:
        load_file(db=db, clock=env.clock, actor="fg", path=register)
    key = env.settings.secret("pseudonym_key").encode()
    ms = int(env.clock.now().timestamp() * 1000) - 3_600_000
    events = [
        ldv_event(key=key, span="0000000000000001", start_ms=ms, purpose="zaak Z-1"),
        ldv_event(key=key, span="0000000000000002", start_ms=ms, entity=PARTNER),
        ldv_event(key=key, span="0000000000000003", start_ms=ms, bsn=BSN_B, activity=OTHER,
                  entity=PARTNER),
    ]  # fmt: skip
    with SqliteEventStore(env.settings.event_db_path) as store:
        store.add_batch(events)


def test_overview_partners_and_evidence(env: Env, tmp_path: Path) -> None:
    _load(env, tmp_path)
    add_user(env, "fg", Role.DPO)
    client = env.client()
    csrf = login(client, "fg")
    page = client.get("/dpo/ldv")
    assert page.status_code == 200
    text = page.text
    assert "Inzage persoonslijst" in text and "Wet BRP art. 3.1" in text
    assert "niet in register" in text and "vervallen versie" in text  # Dutch by default
    assert "1 (50%)" in text  # one of the two records of the activity carried a purpose

    refused = client.post("/dpo/ldv/partners", data={"csrf_token": csrf, "name": "WIJ"})
    assert refused.status_code == 422 and 'data-testid="error-entity_uri"' in refused.text
    made = client.post(
        "/dpo/ldv/partners",
        data={
            "csrf_token": csrf, "name": "WIJ Groningen", "entity_uri": PARTNER,
            "contact": "privacy@wij.nl", "agreed_activities": ACTIVITY,
        },
    )  # fmt: skip
    assert made.status_code == 303
    partner = client.get(made.headers["location"])
    assert partner.status_code == 200
    assert 'data-testid="ldv-partner-records">2<' in partner.text
    assert 'data-testid="ldv-partner-share">1 (50%)' in partner.text
    evidence = client.get(made.headers["location"] + "/evidence.csv")
    assert evidence.status_code == 200
    assert f"{OTHER},1,no" in evidence.text and f"{ACTIVITY},1,yes" in evidence.text
    assert BSN_A not in evidence.text
    pdf = client.get(made.headers["location"] + "/evidence.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    stream = client.post(
        "/dpo/ldv/streams",
        data={"csrf_token": csrf, "system": "brp-bevraging", "expected_per_hour": "40"},
    )
    assert stream.status_code == 303
    assert "brp-bevraging" in client.get("/dpo/ldv").text
    bad = client.post(
        "/dpo/ldv/streams", data={"csrf_token": csrf, "system": "x y", "expected_per_hour": "1"}
    )
    assert bad.status_code == 422 and 'data-testid="error-system"' in bad.text

    report = client.post(
        "/dpo/access-report", data={"csrf_token": csrf, "bsn": BSN_A, "format": "html"}
    )
    assert report.status_code == 200
    assert 'data-testid="report-count">2<' in report.text
    assert 'data-testid="report-partner">WIJ Groningen<' in report.text


def test_export_context_feeds_enrichment(env: Env, tmp_path: Path) -> None:
    from ldv.service import PartnerInput, export_context, save_partner

    _load(env, tmp_path)
    with env.write() as db:
        save_partner(
            db=db, clock=env.clock, actor="fg",
            spec=PartnerInput("WIJ Groningen", PARTNER, "privacy@wij.nl", [ACTIVITY]),
        )  # fmt: skip
        assert export_context(db=db, directory=tmp_path / "context") == (2, 1)
    tables = load_context(directory=tmp_path / "context", key=b"k" * 32)
    assert tables.ldv_activities[ACTIVITY] == (False, True)
    assert tables.ldv_activities["https://register.groningen.nl/verwerkingen/brp-inzage/v1"][0]
    assert tables.ldv_partners[PARTNER] == ("WIJ Groningen", frozenset({ACTIVITY}))
