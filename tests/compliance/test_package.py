"""The BIO2 report (html, csv, pdf; nl and en) and the signed evidence package."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy.orm import Session

from compliance import service
from core.audit import entries
from core.clock import FrozenClock
from core.config import Settings
from core.errors import NotFoundError, ValidationError

YEAR = 2026


def _checked(db: Session, clock: FrozenClock, settings: Settings) -> None:
    service.run_checks(db=db, clock=clock, settings=settings, actor="test")
    db.commit()


def test_report_says_per_measure_what_when_by_what_result_and_ensia(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    _checked(db, clock, settings)
    nl = service.build_report(
        db=db, clock=clock, framework="bio2", year=YEAR, fmt="html", lang="nl", actor="jan"
    ).content.decode()
    en = service.build_report(
        db=db, clock=clock, framework="bio2", year=YEAR, fmt="html", lang="en", actor="jan"
    ).content.decode()
    assert "Continuïteitsplannen worden elk jaar getest" in nl and "niet voldaan" in nl
    assert "Continuity plans are tested every year" in en and "not met" in en
    assert "ENSIA BIO 5.30" in nl and "continuity_exercise" in nl
    rows = list(csv.DictReader(io.StringIO(service.build_report(
        db=db, clock=clock, framework="bio2", year=YEAR, fmt="csv", lang="en", actor="jan"
    ).content.decode())))  # fmt: skip
    by_id = {row["measure"]: row for row in rows}
    assert by_id["5.30.01"]["status"] == "not_met" and by_id["5.30.01"]["checked_by"] == "test"
    with pytest.raises(ValidationError) as error:
        service.build_report(
            db=db, clock=clock, framework="bio2", year=YEAR, fmt="docx", lang="nl", actor="jan"
        )
    assert error.value.field == "format"
    with pytest.raises(NotFoundError):  # a framework name is never a path
        service.build_report(
            db=db, clock=clock, framework="../bio2", year=YEAR, fmt="csv", lang="nl", actor="j"
        )
    with pytest.raises(ValidationError) as error:
        service.build_report(
            db=db, clock=clock, framework="bio2", year=99999, fmt="csv", lang="nl", actor="j"
        )
    assert error.value.field == "year"


def test_the_package_manifest_verifies_and_detects_a_changed_file(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    _checked(db, clock, settings)
    package = service.evidence_package(
        db=db, clock=clock, settings=settings, framework="bio2", year=YEAR, actor="jan"
    )
    service.record_package_export(
        db=db, clock=clock, actor="jan", framework="bio2", year=YEAR, package=package
    )
    db.commit()
    key = service.public_key_hex(settings)
    assert package.public_key == key
    assert service.verify_package(package.zip, public_key=key) == []
    with zipfile.ZipFile(io.BytesIO(package.zip)) as archive:
        names = archive.namelist()
        members = {name: archive.read(name) for name in names}
    assert "bio2-1.3-2026-nl.pdf" in names and members["bio2-1.3-2026-en.pdf"][:4] == b"%PDF"
    evidence = [n for n in names if n.startswith("evidence/")]
    assert evidence, names
    # Each evidence file hashes to the item's hash shown on the page and in the report.
    _, views = service.measure_views(db=db, framework="bio2", evidence=True)
    hashes = {item.sha256 for view in views for item in view.evidence}
    assert {hashlib.sha256(members[n]).hexdigest() for n in evidence} == hashes
    assert [e.action for e in entries(db=db, object_type="compliance_package")] == [
        "compliance.package_exported"
    ]

    changed = evidence[0]
    document = json.loads(members[changed])
    document["summary"] = "nothing to see here"
    members[changed] = json.dumps(document).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    problems = service.verify_package(buffer.getvalue(), public_key=key)
    assert problems == [f"{changed}: changed since the export (SHA-256 differs)"]
    other_key = "00" * 32
    assert any("signature" in p for p in service.verify_package(package.zip, public_key=other_key))
