"""Deadlines across DST, reminders that fire once, and clocks that survive a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from core import audit
from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from core.store.relational import create_db_engine, create_session_factory
from playbooks.breach import ap_notification, clocks, register
from playbooks.breach.states import State
from tests.playbooks.breach.support import complete_ap_draft, walk_to

AMS = ZoneInfo("Europe/Amsterdam")


def _open(db: Session, clock: FrozenClock, settings: Settings, aware: datetime) -> int:
    return register.open_breach(
        db=db, clock=clock, settings=settings, actor="ali", title="Lek", aware_at=aware
    ).id


def test_spring_forward_deadline_is_72_real_hours(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    # Awareness on Saturday 28 March 2026 12:00 CET; clocks go forward on Sunday 29 March.
    aware = datetime(2026, 3, 28, 12, 0, tzinfo=AMS)
    clock.set(aware + timedelta(minutes=5))
    breach = register.get_breach(db=db, breach_id=_open(db, clock, settings, aware))
    items = {
        d.clock: d for d in clocks.deadlines(db=db, clock=clock, settings=settings, breach=breach)
    }
    gdpr = items["gdpr_ap"]
    assert gdpr.due_at == datetime(2026, 3, 31, 11, 0, tzinfo=UTC)
    assert gdpr.due_at - breach.aware_at == timedelta(hours=72)
    # Shown in local time: 13:00 summer time, not a naive 12:00.
    assert clocks.show(gdpr.due_at, settings) == "31-03-2026 13:00 CEST"
    assert clocks.show(breach.aware_at, settings) == "28-03-2026 12:00 CET"
    assert clocks.show(items["nis2_early_warning"].due_at, settings) == "29-03-2026 13:00 CEST"
    # The Cbw final report: one calendar month after the notification deadline, local time.
    assert clocks.show(items["nis2_final_report"].due_at, settings) == "30-04-2026 13:00 CEST"


def test_fall_back_deadline_is_72_real_hours(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    # Clocks go back on Sunday 25 October 2026.
    aware = datetime(2026, 10, 24, 12, 0, tzinfo=AMS)
    clock.set(aware + timedelta(minutes=1))
    breach = register.get_breach(db=db, breach_id=_open(db, clock, settings, aware))
    gdpr = clocks.deadlines(db=db, clock=clock, settings=settings, breach=breach)
    due = next(d for d in gdpr if d.clock == "gdpr_ap").due_at
    assert due == datetime(2026, 10, 27, 10, 0, tzinfo=UTC)
    assert clocks.show(due, settings) == "27-10-2026 11:00 CET"


def test_overdue_is_flagged_and_a_late_notification_needs_a_reason(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo)
    report = complete_ap_draft(db, clock, settings, breach)
    clock.advance(timedelta(hours=73))
    due = clocks.all_deadlines(db=db, clock=clock, settings=settings)
    gdpr = next(d for d in due if d.clock == "gdpr_ap")
    assert gdpr.status == "overdue" and gdpr.loud
    assert [d.due_at for d in due] == sorted(d.due_at for d in due)
    with pytest.raises(ValidationError) as caught:
        ap_notification.finalise_notification(
            db=db, clock=clock, settings=settings, dpo=dpo, report_id=report.id
        )
    assert "overig.reden_vertraging" in str(caught.value)
    ap_notification.update_notification(
        db=db, clock=clock, actor="ali", report_id=report.id,
        changes={"overig.reden_vertraging": "Omvang pas na forensisch onderzoek duidelijk"},
    )  # fmt: skip
    ap_notification.finalise_notification(
        db=db, clock=clock, settings=settings, dpo=dpo, report_id=report.id
    )
    after = clocks.deadlines(
        db=db,
        clock=clock,
        settings=settings,
        breach=register.get_breach(db=db, breach_id=breach.id),
    )
    assert next(d for d in after if d.clock == "gdpr_ap").status == "met_late"
    assert register.get_breach(db=db, breach_id=breach.id).delay_reason.startswith("Omvang")


def _fired_keys(db: Session) -> list[str]:
    return [
        e.details["key"]
        for e in audit.entries(db=db, object_type="breach")
        if e.action == "breach.reminder" and e.details["outcome"] == "sent"
    ]


def test_reminders_fire_once_each_and_survive_a_restart(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    aware = clock.now()
    breach_id = _open(db, clock, settings, aware)
    assert clocks.fire_due_reminders(db=db, clock=clock, settings=settings) == []

    clock.set(aware + timedelta(hours=24, seconds=1))
    fired = clocks.fire_due_reminders(db=db, clock=clock, settings=settings)
    assert sorted(f.key for f in fired) == ["gdpr_24h", "nis2_early_12h", "nis2_early_overdue"]
    assert clocks.fire_due_reminders(db=db, clock=clock, settings=settings) == []

    # "Restart": a new engine and session on the same database, a new clock object.
    db.commit()  # the test is the boundary: what fired so far is saved
    db.close()
    engine = create_db_engine(settings)
    with create_session_factory(engine)() as fresh:
        later = FrozenClock(aware + timedelta(hours=24, minutes=5))
        assert clocks.fire_due_reminders(db=fresh, clock=later, settings=settings) == []
        later.set(aware + timedelta(hours=48, seconds=1))
        assert [
            f.key for f in clocks.fire_due_reminders(db=fresh, clock=later, settings=settings)
        ] == ["gdpr_48h"]
        later.set(aware + timedelta(hours=80))
        overdue = clocks.fire_due_reminders(db=fresh, clock=later, settings=settings)
        keys = [f.key for f in overdue]
        assert keys == ["gdpr_66h", "gdpr_overdue", "nis2_notification_overdue"]
        assert (
            "8 uur TE LAAT" in overdue[1].message and "31-03-2026 13:00 CEST" in overdue[1].message
        )
        assert clocks.fire_due_reminders(db=fresh, clock=later, settings=settings) == []
        assert sorted(_fired_keys(fresh)) == sorted(
            ["gdpr_24h", "nis2_early_12h", "nis2_early_overdue", "gdpr_48h", *keys]
        )
        rows = clocks.reminders(db=fresh, breach_id=breach_id)
        assert all(r.fired_at is not None for r in rows if r.due_at <= later.now())
    engine.dispose()


def test_reminders_use_the_configured_hours_and_skip_met_deadlines(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    custom = settings.model_copy(
        update={"breach_reminder_hours": (6.0, 60.0), "nis2_applies": False}
    )
    breach = register.open_breach(db=db, clock=clock, settings=custom, actor="ali", title="Lek")
    keys = {r.key for r in clocks.reminders(db=db, breach_id=breach.id)}
    assert keys == {"gdpr_6h", "gdpr_60h", "gdpr_overdue"}
    # A breach judged "no notification" gets no AP reminders.
    register.mark_not_a_breach(db=db, clock=clock, actor="ali", breach_id=breach.id, reason="Geen")
    clock.advance(timedelta(hours=100))
    assert clocks.fire_due_reminders(db=db, clock=clock, settings=custom) == []
    assert all(
        r.outcome and r.outcome.startswith("skipped")
        for r in clocks.reminders(db=db, breach_id=breach.id)
    )


def test_reminder_hours_are_validated() -> None:
    from core.config import load_settings
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="breach_reminder_hours"):
        load_settings(breach_reminder_hours=(24, 80))


def test_moving_awareness_moves_unfired_reminders(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    aware = clock.now()
    breach_id = _open(db, clock, settings, aware)
    clock.advance(timedelta(hours=30))
    clocks.fire_due_reminders(db=db, clock=clock, settings=settings)
    earlier = aware - timedelta(hours=10)
    register.update_breach(
        db=db, clock=clock, settings=settings, actor="fenna", breach_id=breach_id,
        changes={"aware_at": earlier}, note="Melding van de verwerker kwam eerder binnen",
    )  # fmt: skip
    rows = {r.key: r for r in clocks.reminders(db=db, breach_id=breach_id)}
    assert rows["gdpr_48h"].due_at == earlier + timedelta(hours=48)
    assert rows["gdpr_24h"].due_at == aware + timedelta(hours=24)  # fired: history stays
    change = register.history(db=db, breach_id=breach_id)[-1]
    assert change.field == "aware_at" and change.actor == "fenna"
    assert change.before == clocks.iso(aware) and change.after == clocks.iso(earlier)
