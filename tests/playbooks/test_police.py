"""The police package: Dutch PDF, evidence with SHA-256, chain of custody, signed manifest."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.config import Settings
from core.errors import ConflictError
from playbooks.service import (
    add_evidence,
    add_observable,
    create_incident,
    export_police_package,
    timeline,
    verify_police_package,
)


def test_package_is_signed_and_a_change_is_visible(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = create_incident(db=db, clock=clock, title="Ransomware", severity="high", actor="a")
    add_observable(
        db=db, clock=clock, incident_id=incident.id, kind="ip", value="203.0.113.9", actor="a"
    )
    add_evidence(
        db=db,
        clock=clock,
        settings=settings,
        incident_id=incident.id,
        filename="note.txt",
        content=b"YOUR FILES ARE ENCRYPTED",
        actor="ana",
    )
    package = export_police_package(
        db=db, clock=clock, settings=settings, incident_id=incident.id, actor="ivo"
    )
    assert verify_police_package(package.zip, public_key=package.public_key) == []
    with zipfile.ZipFile(io.BytesIO(package.zip)) as archive:
        names = set(archive.namelist())
        custody = archive.read("CHAIN_OF_CUSTODY.txt").decode()
        members = {name: archive.read(name) for name in names}
    assert {"MANIFEST.sha256", "MANIFEST.sha256.sig", "PUBLIC_KEY.txt"} <= names
    assert f"aangifte-incident-{incident.id}.pdf" in names and members[
        f"aangifte-incident-{incident.id}.pdf"
    ].startswith(b"%PDF")
    assert "collected by ana: note.txt" in custody and "exported by ivo" in custody
    assert "incident.police_exported" in [
        e.action for e in timeline(db=db, incident_id=incident.id)
    ]
    # Change one evidence file after the export: the manifest check names it.
    evidence = next(name for name in names if name.startswith("evidence/"))
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, b"changed" if name == evidence else data)
    assert verify_police_package(tampered.getvalue(), public_key=package.public_key) == [
        f"{evidence}: changed since the export (SHA-256 differs)"
    ]
    other_key = "00" * 32
    assert "signature" in verify_police_package(package.zip, public_key=other_key)[0]


def test_exercise_incidents_are_never_exported_for_the_police(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    drill = create_incident(
        db=db, clock=clock, title="Drill", severity="low", actor="a", exercise_id="oef-1"
    )
    with pytest.raises(ConflictError, match="never exported for the police"):
        export_police_package(
            db=db, clock=clock, settings=settings, incident_id=drill.id, actor="a"
        )
