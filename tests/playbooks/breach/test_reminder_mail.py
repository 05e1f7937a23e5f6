"""Reminders reach the DPO by e-mail (local aiosmtpd), once; exercises are suppressed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.config import Settings
from playbooks.breach import clocks, register
from playbooks.breach.reminder_mail import deliver_reminders
from playbooks.runs import Units
from tests.playbooks.breach.mail import Mailbox, body, smtp_server
from tests.playbooks.breach.support import open_manual
from tests.processes import free_port


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Settings, Mailbox]]:
    with smtp_server() as (port, mailbox):
        yield (
            settings.model_copy(
                update={"smtp_port": port, "notify_recipients": {"dpo": ["fg@dijkstad.example"]}}
            ),
            mailbox,
        )


def _fire(db: Session, units: Units, clock: FrozenClock, settings: Settings) -> dict[str, int]:
    """What the `breach.fire_reminders` task does, with the test as the boundary."""
    clocks.fire_due_reminders(db=db, clock=clock, settings=settings)
    db.commit()
    return _deliver(db, units, clock, settings)


def _deliver(db: Session, units: Units, clock: FrozenClock, settings: Settings) -> dict[str, int]:
    db.commit()
    try:
        return deliver_reminders(units=units, clock=clock, settings=settings)
    finally:
        db.expire_all()  # read what the units of work wrote


def test_a_due_reminder_is_mailed_to_the_dpo_once_and_recorded(
    db: Session, units: Units, clock: FrozenClock, mail: tuple[Settings, Mailbox]
) -> None:
    settings, mailbox = mail
    breach = open_manual(db, clock, settings)
    clock.advance(timedelta(hours=24, minutes=1))
    # gdpr_24h, and the NIS2 early warning's 12 h reminder and its 24 h deadline.
    assert _fire(db, units, clock, settings) == {"sent": 3}
    for _ in range(3):
        assert _fire(db, units, clock, settings) == {}
    assert len(mailbox.messages) == 3
    (
        recipients,
        message,
    ) = next((to, m) for to, m in mailbox.messages if "AVG" in str(m["Subject"]))
    assert recipients == ["fg@dijkstad.example"]
    assert message["X-Dijkwacht-Breach"] == breach.reference
    assert breach.reference in message["Subject"] and "OEFENING" not in message["Subject"]
    assert "31-03-2026 13:00 CEST" in body(message) and "nog 48 uur" in body(message)
    sent = [c for c in register.history(db=db, breach_id=breach.id) if c.action == "reminder_sent"]
    assert {c.after["key"] for c in sent} == {"gdpr_24h", "nis2_early_12h", "nis2_early_overdue"}
    assert all(c.after["recipients"] == 1 for c in sent)
    rows = {r.key: r for r in clocks.reminders(db=db, breach_id=breach.id)}
    assert rows["gdpr_24h"].delivery_status == "sent" and rows["gdpr_24h"].delivery_attempts == 1
    assert rows["gdpr_48h"].delivery_status is None  # not due yet


def test_exercise_reminders_are_suppressed_like_playbook_notifications(
    db: Session, units: Units, clock: FrozenClock, mail: tuple[Settings, Mailbox]
) -> None:
    settings, mailbox = mail
    settings = settings.model_copy(
        update={"notify_recipients": {"dpo": ["fg@x.example"], "exercise": ["oef@x.example"]}}
    )
    breach = open_manual(db, clock, settings, exercise_id="drill-7")
    clock.advance(timedelta(hours=25))
    assert _fire(db, units, clock, settings) == {"suppressed (exercise)": 3}
    assert mailbox.messages == []
    actions = [c.action for c in register.history(db=db, breach_id=breach.id)]
    assert actions.count("reminder_suppressed") == 3 and "reminder_sent" not in actions


def test_smtp_down_retries_then_fails_visibly(
    db: Session, units: Units, clock: FrozenClock, settings: Settings
) -> None:
    settings = settings.model_copy(update={"smtp_port": free_port(), "notify_max_retries": 1})
    breach = open_manual(db, clock, settings)  # no dpo group: falls back to dpo_email
    clock.advance(timedelta(hours=13))
    assert _fire(db, units, clock, settings) == {"retrying": 1}
    assert _deliver(db, units, clock, settings) == {"failed": 1}
    assert _deliver(db, units, clock, settings) == {}
    (row,) = [r for r in clocks.reminders(db=db, breach_id=breach.id) if r.delivery_status]
    assert row.delivery_attempts == 2 and "SMTP 127.0.0.1" in (row.delivery_error or "")
    actions = [c.action for c in register.history(db=db, breach_id=breach.id)]
    assert actions[-2:] == ["reminder_retrying", "reminder_failed"]


def test_no_recipient_configured_is_a_visible_failure(
    db: Session, units: Units, clock: FrozenClock, settings: Settings
) -> None:
    settings = settings.model_copy(update={"dpo_email": None})
    breach = open_manual(db, clock, settings)
    clock.advance(timedelta(hours=13))
    assert _fire(db, units, clock, settings) == {"failed": 1}
    (change,) = [
        c for c in register.history(db=db, breach_id=breach.id) if c.action == "reminder_failed"
    ]
    assert change.after["outcome"] == "no recipients configured"
