"""Celery entry points of the breach workflow; thin and idempotent (each effect happens once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from celery import shared_task

from core.clock import SystemClock

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings


@contextmanager
def _session() -> Iterator[tuple[Settings, Session]]:
    from core.config import get_settings
    from core.store.relational import create_db_engine, create_session_factory

    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            yield settings, db
    finally:
        engine.dispose()


@shared_task(name="breach.fire_reminders")
def fire_reminders() -> list[str]:
    """Fire every due breach reminder and e-mail it to the DPO; repeats are harmless."""
    from playbooks.breach.clocks import fire_due_reminders
    from playbooks.breach.reminder_mail import deliver_reminders

    clock = SystemClock()
    with _session() as (settings, db):
        fired = fire_due_reminders(db=db, clock=clock, settings=settings)
        deliver_reminders(db=db, clock=clock, settings=settings)
    return [item.message for item in fired]


@shared_task(name="breach.accept_handoffs")
def accept_handoffs() -> list[str]:
    """Open one breach per pending playbook hand-off (exactly once); returns references."""
    from playbooks.breach.handoffs import accept_pending_handoffs

    with _session() as (settings, db):
        taken = accept_pending_handoffs(db=db, clock=SystemClock(), settings=settings)
        return [breach.reference for breach in taken]


@shared_task(name="breach.send_letters")
def send_letters() -> dict[str, dict[str, int]]:
    """E-mail released letters (or keep their PDFs for the post), each once."""
    from playbooks.breach.letter_delivery import send_released_letters

    with _session() as (settings, db):
        counts = send_released_letters(db=db, clock=SystemClock(), settings=settings)
    return {str(batch): states for batch, states in counts.items()}


@shared_task(name="breach.purge_letter_recipients")
def purge_letter_recipients() -> list[int]:
    """Purge recipient lists past their retention; returns the batch ids purged."""
    from playbooks.breach.retention import purge_letter_recipients as purge

    with _session() as (settings, db):
        return purge(db=db, clock=SystemClock(), settings=settings)
