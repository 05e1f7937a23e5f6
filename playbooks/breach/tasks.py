"""Celery entry points of the breach workflow; thin and idempotent (reminders fire once)."""

from __future__ import annotations

from celery import shared_task

from core.clock import SystemClock


@shared_task(name="breach.fire_reminders")
def fire_reminders() -> list[str]:
    """Fire every due breach reminder; beat runs this often, repeats are harmless."""
    from core.config import get_settings
    from core.store.relational import create_db_engine, create_session_factory
    from playbooks.breach.clocks import fire_due_reminders

    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            fired = fire_due_reminders(db=db, clock=SystemClock(), settings=settings)
    finally:
        engine.dispose()
    return [item.message for item in fired]
