"""BIO2 measures from live evidence: the Show list of issue #25, through the real services.

A fresh platform (no exercise, no verification) shows continuity and log integrity red and
raises one alert per red measure, not one per run; a technical exercise played to the end
turns continuity green; a failed `audit verify` turns log integrity red; an AP notification
filed after 72 hours marks the reporting measure at risk with the reason for the delay.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from compliance import service, status
from core.accounts.models import User
from core.audit import record, record_verification, verify
from core.clock import FrozenClock
from core.config import Settings
from core.store.base import AlertQuery
from core.store.factory import open_alert_store
from detection.service import deliver_outbox
from drills import control
from drills.service import get_scenario, start, stop
from tests.playbooks.breach.conftest import START
from tests.playbooks.breach.support import complete_ap_draft, walk_to

CONTINUITY, INTEGRITY, REPORTING = "5.30.01", "8.15.06", "5.24.07"
PLAYERS = [{"role": "it", "name": "IT (oefening)", "email": "oefening@gemeente.test"}]


def _status(db: Session, measure_id: str) -> status.MeasureView:
    return service.measure_view(db=db, framework="bio2", measure_id=measure_id)[1]


def _check(db: Session, clock: FrozenClock, settings: Settings) -> service.CheckRun:
    run = service.run_checks(db=db, clock=clock, settings=settings, actor="test")
    db.commit()
    return run


@pytest.fixture
def alerts(settings: Settings) -> Iterator[object]:
    store = open_alert_store(settings)
    try:
        yield store
    finally:
        store.close()


def _compliance_alerts(db: Session, clock: FrozenClock, store: object, measure: str) -> int:
    deliver_outbox(db=db, alert_store=store, clock=clock)  # type: ignore[arg-type]
    db.commit()
    found = store.search(  # type: ignore[attr-defined]
        AlertQuery(rule_ids=[status.ALERT_RULE_ID], limit=100)
    )
    return sum(1 for a in found if a.body["dijkwacht.compliance"]["measure"] == measure)


def test_no_exercise_is_red_alerts_once_and_a_technical_exercise_turns_it_green(
    db: Session, clock: FrozenClock, settings: Settings, alerts: object
) -> None:
    first = _check(db, clock, settings)
    continuity = _status(db, CONTINUITY)
    assert continuity.status == "not_met"
    assert "no continuity exercise" in continuity.reason
    assert "geen continuïteitsoefening" in continuity.reason_in("nl")
    assert CONTINUITY in first.alerted
    clock.advance(timedelta(hours=1))
    second = _check(db, clock, settings)
    assert CONTINUITY not in second.alerted  # still red: no second alert
    assert _compliance_alerts(db, clock, alerts, CONTINUITY) == 1

    loaded = get_scenario("phishinggolf")
    exercise = control.create_exercise(
        db=db, clock=clock, loaded=loaded, mode="technical", controller="oefenleider",
        participants=PLAYERS, actor="oefenleider",
    )  # fmt: skip
    start(db=db, clock=clock, exercise_id=exercise.id, actor="oefenleider")
    clock.advance(timedelta(minutes=30))
    stop(db=db, clock=clock, exercise_id=exercise.id, actor="oefenleider")
    db.commit()
    _check(db, clock, settings)
    continuity = _status(db, CONTINUITY)
    assert continuity.status == "met", continuity.reason
    assert "1 technical" in continuity.reason
    [item] = continuity.evidence
    assert item.data["exercise_id"] == exercise.id and item.data["mode"] == "technical"
    assert item.sha256 == status.canonical_sha256(status.evidence_document(item))

    # Eleven months on it is at risk; a year on it lapses, turns red and alerts once more.
    clock.advance(timedelta(days=340))
    _check(db, clock, settings)
    assert _status(db, CONTINUITY).status == "at_risk"
    clock.advance(timedelta(days=30))
    assert CONTINUITY in _check(db, clock, settings).alerted
    assert _compliance_alerts(db, clock, alerts, CONTINUITY) == 2


def _tamper(db: Session) -> None:
    # Someone with file access drops the append-only trigger and edits an entry.
    db.execute(text("DROP TRIGGER audit_log_no_update"))
    db.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
    db.commit()


def test_a_failed_audit_verify_turns_log_integrity_red(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    _check(db, clock, settings)
    assert _status(db, INTEGRITY).status == "not_met"  # never verified in the period
    assert "no verification" in _status(db, INTEGRITY).reason

    record_verification(db=db, clock=clock, actor="auditor-jan", result=verify(db=db))
    db.commit()
    _check(db, clock, settings)
    view = _status(db, INTEGRITY)
    assert view.status == "met" and "auditor-jan" in view.reason
    assert view.evidence[-1].data["ok"] is True

    _tamper(db)
    result = verify(db=db)
    assert not result.ok
    record_verification(db=db, clock=clock, actor="scheduler", result=result)
    db.commit()
    _check(db, clock, settings)
    view = _status(db, INTEGRITY)
    assert view.status == "not_met"
    assert "broken at seq 1" in view.reason and "scheduler" in view.reason
    assert view.evidence[-1].data == {
        "seq": view.evidence[-1].data["seq"], "actor": "scheduler", "ok": False,
        "entries": 0, "bad_seq": 1, "reason": result.reason,
    }  # fmt: skip


def test_a_breach_notified_after_72_hours_puts_reporting_at_risk_with_the_reason(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    from playbooks.breach import ap_notification
    from playbooks.breach.states import State

    assert clock.now() == START
    gdpr_only = settings.model_copy(update={"nis2_applies": False})  # only the AP's 72 hours
    breach = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=gdpr_only, dpo=dpo)
    clock.advance(timedelta(hours=80))
    report = complete_ap_draft(db, clock, settings, breach)
    ap_notification.update_notification(
        db=db, clock=clock, actor="ali", report_id=report.id,
        changes={"overig.reden_vertraging": "De leverancier meldde het lek pas na drie dagen."},
    )  # fmt: skip
    ap_notification.finalise_notification(
        db=db, clock=clock, settings=settings, dpo=dpo, report_id=report.id
    )
    db.commit()
    _check(db, clock, settings)
    view = _status(db, REPORTING)
    assert view.status == "at_risk", view.reason
    assert breach.reference in view.reason and "8.0 h late" in view.reason
    assert "De leverancier meldde het lek pas na drie dagen." in view.reason
    assert "8.0 uur te laat gemeld (reden: De leverancier" in view.reason_in("nl")
    late = [e for e in view.evidence if e.data["status"] == "met_late"]
    assert late and late[0].data["clock"] == "gdpr_ap"


def test_status_changes_are_on_the_audit_record_and_the_catalogue_is_clean(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    assert service.check_catalogue() == []
    _check(db, clock, settings)
    from core.audit import entries

    changed = entries(db=db, object_type="compliance_measure")
    assert {e.object_id for e in changed} >= {f"bio2:{CONTINUITY}", f"bio2:{INTEGRITY}"}
    record(db=db, clock=clock, actor="x", action="noop", object_type="test")
    db.commit()


def test_a_bad_catalogue_names_the_file_line_and_field(tmp_path: Path) -> None:
    source = (Path(service.__file__).parent / "catalogues" / "bio2-1.3.yml").read_text("utf-8")
    bad = tmp_path / "bio2-9.9.yml"
    bad.write_text(
        source.replace('edition: "1.3"', 'edition: "9.9"').replace(
            "check: continuity_exercise", "check: crystal_ball"
        ),
        encoding="utf-8",
    )
    issues = service.check_catalogue(bad)
    assert len(issues) == 1
    [issue] = issues
    assert issue.source == str(bad) and "check" in issue.field and issue.line is not None
    assert source.splitlines()[issue.line - 1].strip() == "check: continuity_exercise"
