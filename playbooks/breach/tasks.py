"""Celery entry points of the breach workflow; thin and idempotent (each effect happens once).

Each task is a boundary: it opens the unit of work (`core.store.unit_of_work`) and commits it;
e-mail and file removal happen after that commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task

from core.clock import SystemClock
from core.config import get_settings
from core.store.relational import create_db_engine, create_session_factory
from core.store.unit_of_work import unit_of_work
from playbooks.breach.clocks import fire_due_reminders
from playbooks.breach.letter_delivery import send_released_letters
from playbooks.breach.reminder_mail import deliver_reminders
from playbooks.breach.retention import purge_letter_recipients as purge
from playbooks.breach.retention import remove_purged_pdfs
from playbooks.breach.service import accept_pending_handoffs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from core.config import Settings


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """Deadline reminders (GDPR 72 h, NIS2/Cbw) fire once each; hand-offs open breaches;
    released letters are sent; recipient lists past their retention are purged."""
    return {
        "breach-reminders": {"task": "breach.fire_reminders", "schedule": timedelta(seconds=60)},
        "breach-accept-handoffs": {
            "task": "breach.accept_handoffs",
            "schedule": timedelta(seconds=30),
        },
        "breach-send-letters": {"task": "breach.send_letters", "schedule": timedelta(seconds=30)},
        "breach-purge-letter-recipients": {
            "task": "breach.purge_letter_recipients",
            "schedule": timedelta(hours=1),
        },
    }


@contextmanager
def _sessions() -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        yield settings, create_session_factory(engine)
    finally:
        engine.dispose()


@shared_task(name="breach.fire_reminders")
def fire_reminders() -> list[str]:
    """Fire every due breach reminder and e-mail it to the DPO; repeats are harmless."""
    clock = SystemClock()
    with _sessions() as (settings, factory):
        with unit_of_work(factory) as db:
            fired = fire_due_reminders(db=db, clock=clock, settings=settings)
        deliver_reminders(units=lambda: unit_of_work(factory), clock=clock, settings=settings)
    return [item.message for item in fired]


@shared_task(name="breach.accept_handoffs")
def accept_handoffs() -> list[str]:
    """Open one breach per pending playbook hand-off (exactly once); returns references."""
    with _sessions() as (settings, factory), unit_of_work(factory) as db:
        taken = accept_pending_handoffs(db=db, clock=SystemClock(), settings=settings)
        return [breach.reference for breach in taken]


@shared_task(name="breach.send_letters")
def send_letters() -> dict[str, dict[str, int]]:
    """E-mail released letters (or keep their PDFs for the post), each once."""
    with _sessions() as (settings, factory):
        counts = send_released_letters(
            units=lambda: unit_of_work(factory), clock=SystemClock(), settings=settings
        )
    return {str(batch): states for batch, states in counts.items()}


@shared_task(name="breach.purge_letter_recipients")
def purge_letter_recipients() -> list[int]:
    """Purge recipient lists past their retention; returns the batch ids purged."""
    with _sessions() as (settings, factory):
        with unit_of_work(factory) as db:
            purged = purge(db=db, clock=SystemClock(), settings=settings)
        with unit_of_work(factory, write=False) as db:
            remove_purged_pdfs(db=db, settings=settings)
    return purged
