"""Authority package (PDF + ZIP with a SHA-256 manifest), evidence hashing and MTTA/MTTC/MTTR."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from playbooks.evidence import read_evidence, stored_path
from playbooks.export import export_incident
from playbooks.metrics import incident_metrics, monthly_metrics
from playbooks.service import (
    add_evidence,
    add_observable,
    change_status,
    create_incident,
    list_evidence,
    timeline,
)


def test_evidence_is_stored_with_its_hash_and_who_added_it(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = create_incident(db=db, clock=clock, title="Phish", severity="low", actor="ana")
    item = add_evidence(
        db=db, clock=clock, settings=settings, incident_id=incident.id,
        filename="../../mail.eml", content=b"From: x", actor="ana",
    )  # fmt: skip
    assert item.filename == "mail.eml" and item.added_by == "ana"
    assert item.sha256 == hashlib.sha256(b"From: x").hexdigest()
    assert read_evidence(settings=settings, item=item) == b"From: x"
    stored_path(settings, item).write_bytes(b"tampered")
    with pytest.raises(ValidationError, match="altered"):
        read_evidence(settings=settings, item=item)


def test_export_gives_a_pdf_and_a_zip_with_a_manifest(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = create_incident(
        db=db,
        clock=clock,
        title="Ransomware op ws-042 (€ schade)",
        severity="critical",
        actor="ana",
    )
    add_observable(
        db=db, clock=clock, incident_id=incident.id, kind="host", value="ws-042", actor="a"
    )
    add_evidence(
        db=db, clock=clock, settings=settings, incident_id=incident.id,
        filename="note.txt", content=b"pay <b>now</b>", actor="ana",
    )  # fmt: skip
    package = export_incident(
        db=db, clock=clock, settings=settings, incident_id=incident.id, actor="ana"
    )
    assert package.pdf.startswith(b"%PDF")
    with zipfile.ZipFile(io.BytesIO(package.zip)) as archive:
        names = set(archive.namelist())
        manifest = archive.read("MANIFEST.sha256").decode().splitlines()
        for line in manifest:
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert names == {"incident-1-report.pdf", "evidence/0001-note.txt", "MANIFEST.sha256"}
    assert len(manifest) == 2 and len(list_evidence(db=db, incident_id=incident.id)) == 1
    assert timeline(db=db, incident_id=incident.id)[-1].action == "incident.exported"


def test_mtta_mttc_mttr_per_incident_and_month(db: Session, clock: FrozenClock) -> None:
    ids = []
    for ack, contain in ((10, 60), (30, 120)):
        incident = create_incident(db=db, clock=clock, title="Case", severity="low", actor="a")
        ids.append(incident.id)
        clock.advance(timedelta(minutes=ack))
        change_status(
            db=db, clock=clock, incident_id=incident.id, status="in_progress", reason="r", actor="a"
        )
        clock.advance(timedelta(minutes=contain - ack))
        change_status(
            db=db, clock=clock, incident_id=incident.id, status="contained", reason="r", actor="a"
        )
    change_status(db=db, clock=clock, incident_id=ids[1], status="closed", reason="done", actor="a")
    first = incident_metrics(db=db, incident_id=ids[0])
    assert (first.time_to_acknowledge, first.time_to_contain, first.time_to_close) == (
        600,
        3600,
        None,
    )
    (month,) = monthly_metrics(db=db)
    assert month.month == "2026-11" and month.incidents == 2
    assert month.mtta == 1200 and month.mttc == 5400 and month.mttr == 7200
