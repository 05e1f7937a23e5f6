"""Claim-once e-mail delivery state shared by breach reminders and letters.

Rows carry `delivery_status`: `queued` -> `sending` (claimed with a conditional UPDATE in its
own unit of work, so two workers never both send) -> `sent`, or `retrying` until the
`notify_max_retries` limit, then `failed`. A worker that died while `sending` leaves a stale
claim; after `STALE_CLAIM` the row may be claimed again (at least once beats never for a
legal deadline).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.config import Settings
from playbooks.breach.models import BreachReminder, LetterRecipient

RETRYABLE = ("queued", "retrying")
STALE_CLAIM = timedelta(minutes=10)
Row = type[BreachReminder] | type[LetterRecipient]


def due_ids(*, db: Session, model: Row, now: datetime, limit: int = 500) -> list[int]:
    """Ids of rows waiting to be sent (or with a stale claim), oldest first."""
    ids = list(
        db.scalars(
            select(model.id)
            .where(
                or_(
                    model.delivery_status.in_(RETRYABLE),
                    (model.delivery_status == "sending") & (model.delivery_at < now - STALE_CLAIM),
                )
            )
            .order_by(model.id)
            .limit(limit)
        )
    )
    return ids


def claim(*, db: Session, model: Row, row_id: int, now: datetime) -> bool:
    """Take one row for sending in the caller's write unit; False if another worker did."""
    taken: Any = db.execute(
        update(model)
        .where(
            model.id == row_id,
            or_(
                model.delivery_status.in_(RETRYABLE),
                (model.delivery_status == "sending") & (model.delivery_at < now - STALE_CLAIM),
            ),
        )
        .values(
            delivery_status="sending",
            delivery_at=now,
            delivery_attempts=model.delivery_attempts + 1,
        )
    )
    return bool(taken.rowcount == 1)


def outcome(
    *, row: BreachReminder | LetterRecipient, settings: Settings, error: str | None, now: datetime
) -> str:
    """Set the row's state after one attempt (in the caller's write unit); the state."""
    row.delivery_at = now
    if error is None:
        row.delivery_status, row.delivery_error = "sent", None
    else:
        final = row.delivery_attempts > settings.notify_max_retries
        row.delivery_status, row.delivery_error = ("failed" if final else "retrying"), error[:500]
    return row.delivery_status
