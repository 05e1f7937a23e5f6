"""CSAF 2.0 advisories against the inventory: validation, matching, one incident, risks."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from advisories import csaf
from advisories.service import (
    Document,
    accept_risk,
    import_documents,
    import_inventory,
    overview,
)
from core.clock import FrozenClock, SystemClock
from core.config import Settings
from core.errors import ValidationError
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from playbooks.models import Incident
from playbooks.service import comments
from tests.advisories.samples import csaf_advisory, inventory_csv

GATEWAY = {
    "vendor": "Example",
    "product": "Gateway",
    "version": "2.3.0",
    "owner": "team-netwerk",
    "exposure": "internet",
    "cpe": "cpe:2.3:a:example:gateway:2.3.0:*:*:*:*:*:*:*",
}
PATCHED = {**GATEWAY, "version": "2.4.1", "cpe": "cpe:2.3:a:example:gateway:2.4.1:*:*:*:*:*:*:*"}
OTHER = {
    "vendor": "Other",
    "product": "Portal",
    "version": "1.0",
    "owner": "team-web",
    "exposure": "internal",
    "cpe": "cpe:2.3:a:other:portal:1.0:*:*:*:*:*:*:*",
}


def _inventory(db: Session, clock: FrozenClock, *rows: dict[str, str]) -> None:
    report = import_inventory(
        db=db, clock=clock, text=inventory_csv(list(rows)), source="inv.csv", actor="test"
    )
    assert report.issues == []


def _incidents(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Incident)) or 0


def test_the_sample_validates_against_the_csaf_schema() -> None:
    assert csaf.validate(csaf_advisory(), source="sample.json") == []


def test_an_advisory_for_an_inventory_item_opens_one_incident(
    db: Session, clock: FrozenClock
) -> None:
    _inventory(db, clock, GATEWAY, PATCHED, OTHER)
    doc = csaf_advisory()
    report = import_documents(db=db, clock=clock, documents=[Document("a.json", doc)], actor="test")
    assert report.issues == []
    [result] = report.results
    assert result.affected == 1 and result.incident_opened
    assert result.items == ["Example Gateway 2.3.0"]
    incident = db.get(Incident, result.incident_id)
    assert incident is not None and incident.severity == "high"
    assert "NCSC-2026-0421" in incident.title
    [note] = comments(db=db, incident_id=incident.id)
    assert "owner team-netwerk" in note.body and "Portal" not in note.body
    # The same advisory again (another file, a newer revision): still one incident.
    again = copy.deepcopy(doc)
    again["document"]["tracking"]["version"] = "2"
    again["document"]["tracking"]["revision_history"].append(
        {"date": "2026-11-30T12:00:00.000Z", "number": "2", "summary": "Update"}
    )
    again["document"]["tracking"]["current_release_date"] = "2026-11-30T12:00:00.000Z"
    second = import_documents(
        db=db, clock=clock, documents=[Document("b.json", again)], actor="test"
    )
    assert second.issues == [] and not second.results[0].incident_opened
    assert second.results[0].incident_id == result.incident_id
    assert _incidents(db) == 1
    rows = overview(db=db, clock=clock)
    assert [(r.item.version, r.status) for r in rows] == [("2.3.0", "affected")]
    assert rows[0].due_at == clock.now() + timedelta(days=14)
    closed = overview(db=db, clock=clock, include_closed=True)
    assert sorted((r.item.version, r.status) for r in closed) == [
        ("2.3.0", "affected"),
        ("2.4.1", "fixed"),
    ]


def test_an_advisory_for_software_not_in_the_inventory_opens_none(
    db: Session, clock: FrozenClock
) -> None:
    _inventory(db, clock, OTHER, PATCHED)  # the gateway only at the fixed version
    report = import_documents(
        db=db, clock=clock, documents=[Document("a.json", csaf_advisory())], actor="test"
    )
    assert report.issues == [] and report.results[0].affected == 0
    assert _incidents(db) == 0
    assert overview(db=db, clock=clock) == []


def test_a_medium_advisory_is_listed_but_opens_no_incident(db: Session, clock: FrozenClock) -> None:
    _inventory(db, clock, GATEWAY)
    doc = csaf_advisory(severity="Medium")
    report = import_documents(db=db, clock=clock, documents=[Document("m", doc)], actor="t")
    assert report.results[0].affected == 1 and _incidents(db) == 0
    assert len(overview(db=db, clock=clock)) == 1


def test_inventory_imported_after_the_advisory_still_opens_the_incident(
    db: Session, clock: FrozenClock
) -> None:
    import_documents(db=db, clock=clock, documents=[Document("a", csaf_advisory())], actor="t")
    assert _incidents(db) == 0
    _inventory(db, clock, GATEWAY)
    assert _incidents(db) == 1
    _inventory(db, clock, GATEWAY)  # importing the same list again changes nothing
    assert _incidents(db) == 1


def test_purl_and_vers_range_match(db: Session, clock: FrozenClock) -> None:
    leaf = {
        "category": "product_version_range",
        "name": "vers:pypi/>=1.0|<1.4.2",
        "product": {
            "product_id": "P1",
            "name": "libexample <1.4.2",
            "product_identification_helper": {"purl": "pkg:pypi/libexample"},
        },
    }
    in_range = {
        "vendor": "Example",
        "product": "libexample",
        "version": "1.4.1",
        "owner": "team-apps",
        "exposure": "internal",
        "purl": "pkg:pypi/libexample@1.4.1",
    }
    above = {**in_range, "version": "1.4.2", "purl": "pkg:pypi/libexample@1.4.2"}
    _inventory(db, clock, in_range, above)
    doc = csaf_advisory(products=[leaf], severity="Critical")
    assert csaf.validate(doc, source="p") == []
    report = import_documents(db=db, clock=clock, documents=[Document("p", doc)], actor="t")
    assert report.results[0].items == ["Example libexample 1.4.1"]
    assert db.get(Incident, report.results[0].incident_id).severity == "critical"  # type: ignore[union-attr]


def test_an_invalid_document_gives_located_errors_and_the_rest_loads(
    db: Session, clock: FrozenClock
) -> None:
    _inventory(db, clock, GATEWAY)
    bad = csaf_advisory(tracking_id="BAD-1")
    del bad["document"]["title"]
    bad["vulnerabilities"][0]["product_status"]["known_affected"] = ["CSAFPID-9999"]
    report = import_documents(
        db=db,
        clock=clock,
        documents=[Document("bad.json", bad), Document("good.json", csaf_advisory())],
        actor="t",
    )
    assert [r.tracking_id for r in report.results] == ["NCSC-2026-0421"]
    assert report.issues and all(i.source == "bad.json" for i in report.issues)
    assert any(i.field == "/document" and "title" in i.message for i in report.issues)
    wrong_version = csaf_advisory()
    wrong_version["document"]["csaf_version"] = "1.2"
    [issue] = csaf.validate(wrong_version, source="old.json")
    assert issue.field == "/document/csaf_version"


def test_accepted_risk_closes_the_row_until_it_expires(db: Session, clock: FrozenClock) -> None:
    _inventory(db, clock, GATEWAY)
    report = import_documents(
        db=db, clock=clock, documents=[Document("a", csaf_advisory())], actor="t"
    )
    [row] = overview(db=db, clock=clock)
    with pytest.raises(ValidationError, match="until"):
        accept_risk(
            db=db, clock=clock, advisory_id=report.results[0].advisory_id, item_id=row.item.id,
            reason="x", until=clock.now() - timedelta(days=1), actor="ana",
        )  # fmt: skip
    accept_risk(
        db=db,
        clock=clock,
        advisory_id=report.results[0].advisory_id,
        item_id=row.item.id,
        reason="Behind the VPN until the March upgrade",
        until=clock.now() + timedelta(days=30),
        actor="ana",
    )
    assert overview(db=db, clock=clock) == []
    [accepted] = overview(db=db, clock=clock, include_closed=True)
    assert accepted.accepted_by == "ana" and accepted.accepted
    clock.advance(timedelta(days=31))
    [reopened] = overview(db=db, clock=clock)
    assert not reopened.accepted and reopened.overdue


def test_the_scheduled_refresh_imports_a_folder_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from advisories.tasks import beat_entries, refresh
    from core.config import get_settings
    from dijkwacht.celery_app import beat_schedule

    folder = tmp_path / "csaf"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(csaf_advisory()), encoding="utf-8")
    assert beat_entries(settings) == {}
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(settings.resolved_data_dir))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    monkeypatch.setenv("DIJKWACHT_ADVISORY_SOURCES", json.dumps([str(folder)]))
    get_settings.cache_clear()
    configured = get_settings()
    assert beat_schedule(configured)["advisories-refresh"]["task"] == "advisories.refresh"
    migrate(configured)
    engine = create_db_engine(configured)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            import_inventory(
                db=db, clock=SystemClock(), text=inventory_csv([GATEWAY]), source="inv.csv",
                actor="t",
            )  # fmt: skip
    finally:
        engine.dispose()
    first = refresh()
    assert (first["read"], first["new_or_updated"], first["problems"]) == (1, 1, [])
    assert len(first["incidents_opened"]) == 1
    second = refresh()
    assert (second["new_or_updated"], second["incidents_opened"]) == (0, [])
