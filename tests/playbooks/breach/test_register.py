"""Register, opening from alerts and incidents with the processing register, exports, and
exercise isolation."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from core.store.base import NewAlert
from core.store.factory import open_alert_store
from playbooks.breach import (
    ap_notification,
    assessment,
    export,
    letters,
    processing_register,
    register,
    reports,
)
from playbooks.breach.states import State
from tests.playbooks.breach.support import complete_ap_draft, walk_to
from tests.playbooks.breach.test_letters import CSV, TEXTS
from tests.playbooks.breach.test_reports import pdf_text

REGISTER_YAML = """\
systems:
  - name: Zaaksysteem
    sources: [zaak-app01, zaken]
    activities:
      - name: Wmo-aanvragen
        data_categories: [naam, adres, BSN]
        special_categories: [gezondheid]
        subject_categories: [inwoners]
        typical_subjects: 12000
        typical_records: 40000
      - name: Bezwaarschriften
        data_categories: [naam, e-mailadres]
        subject_categories: [inwoners, ondernemers]
        typical_subjects: 300
        typical_records: 900
"""


def test_processing_register_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = REGISTER_YAML.replace("typical_records: 900", "typical_records: veel")
    with pytest.raises(processing_register.RegisterFileError) as caught:
        processing_register.parse_yaml(bad, "verwerkingen.yaml")
    assert caught.value.field == "systems[0].activities[1].typical_records"
    # The bad field's own line (15), not the line where its activity starts (11).
    assert caught.value.line == 15 and "verwerkingen.yaml:15" in str(caught.value)
    assert caught.value.location.startswith("verwerkingen.yaml:15: systems[0].activities[1]")
    typo = REGISTER_YAML.replace("        typical_subjects: 300", "        typicl_subjects: 300")
    with pytest.raises(processing_register.RegisterFileError) as caught:
        processing_register.parse_yaml(typo, "verwerkingen.yaml")
    assert caught.value.field.endswith("typicl_subjects") and caught.value.line == 14
    sources = REGISTER_YAML.replace("sources: [zaak-app01, zaken]", "sources: 12")
    with pytest.raises(processing_register.RegisterFileError) as caught:
        processing_register.parse_yaml(sources, "verwerkingen.yaml")
    assert caught.value.field == "systems[0].sources" and caught.value.line == 3
    rows = "system,sources,activity,typical_subjects\nZaken,zaken,Wmo,-3\n"
    with pytest.raises(processing_register.RegisterFileError, match=r"register.csv:2"):
        processing_register.parse_csv(rows, "register.csv")


def test_breach_from_alert_arrives_with_data_categories_and_estimates(
    db: Session, clock: FrozenClock, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "verwerkingen.yaml"
    path.write_text(REGISTER_YAML, encoding="utf-8")
    assert processing_register.load_file(db=db, clock=clock, actor="fenna", path=path) == 2
    store = open_alert_store(settings)
    try:
        flagged, plain = store.add_batch(
            [
                NewAlert(
                    rule_id="r1", rule_title="Massale export uit zaaksysteem", level="high",
                    created_at=clock.now(), host_name="zaak-app01",
                    body={"dijkwacht.personal_data": True},
                ),
                NewAlert(
                    rule_id="r2", rule_title="Poortscan", level="low", created_at=clock.now(),
                    host_name="fw01", body={},
                ),
            ]
        )  # fmt: skip
        breach = register.open_from_alert(
            db=db, clock=clock, settings=settings, actor="ali", alerts=store, alert_id=flagged
        )
        with pytest.raises(ValidationError, match="personal data"):
            register.open_from_alert(
                db=db, clock=clock, settings=settings, actor="ali", alerts=store, alert_id=plain
            )
    finally:
        store.close()
    assert breach.origin == "alert" and breach.origin_ref == flagged
    assert breach.systems == ["Zaaksysteem"]
    assert sorted(breach.data_categories) == ["BSN", "adres", "e-mailadres", "naam"]
    assert breach.special_categories == ["gezondheid"]
    assert breach.subjects_max == 12300 and breach.records_estimate == 40900
    assert breach.reference == "DL-2026-0001"


def test_breach_from_incident_and_change_history(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    breach = register.open_from_incident(
        db=db, clock=clock, settings=settings, actor="ali", incident_id="INC-42",
        summary="Ransomware op fileserver\nDetails volgen",
        aware_at=clock.now() - timedelta(hours=2),
    )  # fmt: skip
    assert breach.title == "Ransomware op fileserver" and breach.origin_ref == "INC-42"
    clock.advance(timedelta(minutes=10))
    register.update_breach(
        db=db, clock=clock, settings=settings, actor="fenna", breach_id=breach.id,
        changes={"subjects_max": 500, "breach_types": ["availability"]}, note="Eerste schatting",
    )  # fmt: skip
    changes = register.history(db=db, breach_id=breach.id)
    assert [c.action for c in changes] == ["opened", "updated", "updated"]
    by_field = {c.field: c for c in changes[1:]}
    assert by_field["subjects_max"].before is None and by_field["subjects_max"].after == 500
    assert by_field["breach_types"].before == [] and by_field["breach_types"].actor == "fenna"
    assert by_field["breach_types"].at == clock.now()
    with pytest.raises(ValidationError) as caught:
        register.update_breach(
            db=db, clock=clock, settings=settings, actor="x", breach_id=breach.id,
            changes={"breach_types": ["gestolen"]},
        )  # fmt: skip
    assert caught.value.field.startswith("breach_types")
    with pytest.raises(ValidationError, match="future"):
        register.open_breach(
            db=db, clock=clock, settings=settings, actor="x", title="t",
            aware_at=clock.now() + timedelta(hours=1),
        )  # fmt: skip


def _evaluate(**answers: object) -> assessment.Outcome:
    from playbooks.breach.schemas import AssessmentInput

    base = {"nature_sensitivity_volume": "x", "severity_of_consequences": "y"}
    return assessment.evaluate(AssessmentInput.model_validate({**base, **answers}))


def test_assessment_scores_follow_enisa() -> None:
    low = _evaluate(dpc_base=1, ease_of_identification="limited")
    assert (low.score, low.band, low.recommendation) == (0.5, "low", "no_notification")
    many = _evaluate(dpc_base=1, ease_of_identification="maximum", number_of_individuals=500)
    assert many.recommendation == "notify_ap"
    medium = _evaluate(dpc_base=3, ease_of_identification="significant", loss_of_confidentiality=1)
    assert (medium.score, medium.band, medium.recommendation) == (2.5, "medium", "notify_ap")
    high = {"dpc_base": 4, "ease_of_identification": "maximum", "malicious_intent": True}
    very = _evaluate(**high)
    assert (very.score, very.band) == (4.5, "very_high")
    assert very.recommendation == "notify_ap_and_subjects"
    encrypted = _evaluate(**high, data_unintelligible=True)
    assert encrypted.recommendation == "notify_ap"
    assert any("34(3)(a)" in r for r in encrypted.reasons)
    public = _evaluate(**high, disproportionate_effort=True)
    assert public.public_communication and public.recommendation == "notify_ap_and_subjects"


def test_register_exports(db: Session, clock: FrozenClock, settings: Settings, dpo: User) -> None:
    real = walk_to(State.NO_NOTIFICATION, db=db, clock=clock, settings=settings, dpo=dpo)
    register.update_breach(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=real.id,
        changes={"facts": '=HYPERLINK("http://x")'},
    )  # fmt: skip
    drill = walk_to(
        State.REGISTERED, db=db, clock=clock, settings=settings, dpo=dpo, exercise_id="drill-7"
    )
    rows = list(csv.DictReader(io.StringIO(export.register_csv(db=db, settings=settings))))
    assert [r["kenmerk"] for r in rows] == [real.reference]
    assert rows[0]["besluit"] == "no_notification" and rows[0]["reden_besluit"]
    assert rows[0]["feiten"].startswith("'=")  # no formula injection in spreadsheets
    assert rows[0]["deadline_ap_lokaal"] == "31-03-2026 13:00 CEST"
    both = list(
        csv.DictReader(
            io.StringIO(export.register_csv(db=db, settings=settings, include_exercises=True))
        )
    )
    marked = {r["kenmerk"]: r["oefening"] for r in both}
    assert marked[drill.reference].startswith("OEFENING") and marked[real.reference] == ""
    text = pdf_text(export.register_pdf(db=db, clock=clock, settings=settings))
    assert "Register van datalekken" in text and real.reference in text and "OEFENING" not in text
    text = pdf_text(
        export.register_pdf(db=db, clock=clock, settings=settings, include_exercises=True)
    )
    assert "OEFENING" in text and drill.reference in text


def test_exercise_breach_is_never_real(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    drill = walk_to(
        State.NOTIFICATION_DUE,
        db=db,
        clock=clock,
        settings=settings,
        dpo=dpo,
        exercise_id="drill-7",
    )
    assert drill.reference.startswith("OEF-")
    report = complete_ap_draft(db, clock, settings, drill)
    assert ap_notification.missing(report) == []
    with pytest.raises(reports.ExerciseRefused, match="EXERCISE"):
        ap_notification.finalise_notification(
            db=db, clock=clock, settings=settings, dpo=dpo, report_id=report.id
        )
    assert register.get_breach(db=db, breach_id=drill.id).state == State.NOTIFICATION_DUE
    assert reports.get_report(db=db, report_id=report.id).status == "draft"
    data = json.loads(
        json.dumps(export.report_json(db=db, clock=clock, settings=settings, report_id=report.id))
    )
    assert data["real"] is False and data["exercise"]["exercise_id"] == "drill-7"
    text = pdf_text(export.report_pdf(db=db, clock=clock, settings=settings, report_id=report.id))
    assert text.count("OEFENING") >= 2 and "EXERCISE" in text
    batch = letters.create_letter_batch(
        db=db, clock=clock, actor="ali", breach_id=drill.id, recipients_csv=CSV, texts=TEXTS
    )
    letters.approve_letter_batch(db=db, clock=clock, dpo=dpo, batch_id=batch.id)
    with pytest.raises(reports.ExerciseRefused):
        letters.release_letter_batch(
            db=db, clock=clock, settings=settings, actor="fenna", batch_id=batch.id
        )
    assert all(r.sent_at is None for r in letters.recipients(db=db, batch_id=batch.id))
    preview = letters.preview_letters(db=db, clock=clock, settings=settings, batch_id=batch.id)
    assert "OEFENING" in pdf_text(preview[0].pdf()) and "OEFENING" in preview[0].email_text
