"""Breach reminders by e-mail to the DPO, through the playbooks' SMTP path and templates.

A fired reminder is `queued`; `deliver_reminders` (run by the `breach.fire_reminders` beat
task right after firing) sends each once to the `breach_notify_group` recipients (else
`dpo_email`) and records every outcome on the breach's history. Exercise breaches follow the
playbooks exercise guard: nothing is sent, the reminder is recorded `suppressed (exercise)`.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from playbooks.breach import clocks, delivery
from playbooks.breach.models import Breach, BreachReminder
from playbooks.breach.register import log_change
from playbooks.service import DeliveryFailed, Units, send_mail
from playbooks.service import render_notification as render

log = logging.getLogger(__name__)
TEMPLATE = "breach_reminder"
SUPPRESSED = "suppressed (exercise)"


def recipients(settings: Settings) -> list[str]:
    """Who gets breach reminders: the configured group, else the DPO's own address."""
    group = settings.notify_recipients.get(settings.breach_notify_group) or []
    if group:
        return list(group)
    return [settings.dpo_email] if settings.dpo_email else []


def _context(
    db: Session, clock: Clock, settings: Settings, breach: Breach, reminder: BreachReminder
) -> dict[str, Any]:
    due = clocks.due_at(db=db, settings=settings, breach=breach, clock_name=reminder.clock)
    return {
        "reference": breach.reference,
        "title": breach.title,
        "exercise": breach.exercise_id,
        "label": clocks.CLOCK_LABELS[reminder.clock],
        "due": clocks.show(due, settings),
        "left": clocks.time_left(due, clock.now()),
        "aware": clocks.show(breach.aware_at, settings),
        "state": breach.state,
    }


def deliver_reminders(*, units: Units, clock: Clock, settings: Settings) -> dict[str, int]:
    """Send every queued reminder e-mail once; returns how many ended in each state.

    Each reminder takes its own units of work from `units` (claim, then outcome) so a claim is
    saved before SMTP is called and no transaction is open while it answers.
    """
    counts: dict[str, int] = {}
    with units() as db:
        due = delivery.due_ids(db=db, model=BreachReminder, now=clock.now())
    for reminder_id in due:
        state = _deliver_one(units=units, clock=clock, settings=settings, reminder_id=reminder_id)
        if state is not None:
            counts[state] = counts.get(state, 0) + 1
    return counts


def _record(
    db: Session, clock: Clock, breach: Breach, reminder: BreachReminder, action: str, **extra: Any
) -> None:
    log_change(
        db=db, clock=clock, breach=breach, actor="system", action=action, field="reminder",
        after={"key": reminder.key, "clock": reminder.clock, **extra},
    )  # fmt: skip


def _deliver_one(*, units: Units, clock: Clock, settings: Settings, reminder_id: int) -> str | None:
    with units() as db:
        if not delivery.claim(db=db, model=BreachReminder, row_id=reminder_id, now=clock.now()):
            return None
        reminder = db.get(BreachReminder, reminder_id)
        assert reminder is not None
        breach = db.get(Breach, reminder.breach_id)
        assert breach is not None
        to = recipients(settings)
        if breach.is_exercise or not to:
            # Exercise: the playbooks guard rule, never sent. No recipient: shown as failed.
            reminder.delivery_status = SUPPRESSED if breach.is_exercise else "failed"
            reminder.delivery_error = None if breach.is_exercise else "no recipients configured"
            action = "reminder_suppressed" if breach.is_exercise else "reminder_failed"
            _record(
                db, clock, breach, reminder, action, outcome=reminder.delivery_error or SUPPRESSED
            )
            return reminder.delivery_status
        context = _context(db, clock, settings, breach, reminder)
        reference, key = breach.reference, reminder.key
    # The claim is saved; no transaction is held open while talking to SMTP.
    error: str | None = None
    try:
        send_mail(
            settings=settings,
            recipients=to,
            subject=render(TEMPLATE, "subject", context).strip(),
            text=render(TEMPLATE, "txt", context),
            html=render(TEMPLATE, "html", context),
            headers={"X-Dijkwacht-Breach": reference},
        )
    except DeliveryFailed as exc:
        error = str(exc)
    with units() as db:
        reminder = db.get(BreachReminder, reminder_id)
        assert reminder is not None
        breach = db.get(Breach, reminder.breach_id)
        assert breach is not None
        state = delivery.outcome(row=reminder, settings=settings, error=error, now=clock.now())
        if error is None:
            _record(db, clock, breach, reminder, "reminder_sent", recipients=len(to))
        else:
            log.warning("breach reminder %s/%s: %s", reference, key, state)
            _record(
                db, clock, breach, reminder, f"reminder_{state}",
                error=error, attempt=reminder.delivery_attempts,
            )  # fmt: skip
    return state
