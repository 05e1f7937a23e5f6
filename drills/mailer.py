"""Drill e-mail: invitations, reminders and injects, only ever to the exercise mailbox.

The isolation rule: a drill e-mail goes to an address only when it is BOTH a participant of
that exercise (or schedule) AND listed in the configured exercise mailbox group
`notify_recipients["exercise"]`. Anything else is refused and logged in `drill_mail`, never
sent. So a typo in a participant list, or a real authority's address, cannot receive drill
mail; an installation without an `exercise` group sends no drill mail at all. Every subject
starts with OEFENING / EXERCISE and every body opens and closes with the same banner.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from email.message import EmailMessage

from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from drills.models import Outbox

EXERCISE_GROUP = "exercise"
MARK = "[OEFENING / EXERCISE]"
BANNER = (
    "*** DIT IS EEN OEFENING / THIS IS AN EXERCISE ***\n"
    "Dit bericht hoort bij een oefening. Onderneem geen echte actie buiten de oefening."
)


def allowed_recipients(
    settings: Settings, participants: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Split participant addresses into (allowed, refused) by the isolation rule."""
    mailbox = {
        address.strip().lower() for address in settings.notify_recipients.get(EXERCISE_GROUP, [])
    }
    allowed: list[str] = []
    refused: list[str] = []
    for address in dict.fromkeys(a.strip() for a in participants):
        (allowed if address.lower() in mailbox else refused).append(address)
    return allowed, refused


def send(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    participants: Iterable[str],
    subject: str,
    body: str,
    purpose: str,
    exercise_id: str | None = None,
    schedule_id: int | None = None,
) -> int:
    """Send one marked e-mail to the allowed participants; log every recipient; no commit.

    Returns how many recipients got it. An SMTP failure is logged as `failed` per recipient
    (a drill goes on without e-mail; the controller sees it in the mail log).
    """
    allowed, refused = allowed_recipients(settings, participants)
    marked = f"{MARK} {subject}"[:300]
    now = clock.now()
    for address in refused:
        db.add(
            Outbox(
                exercise_id=exercise_id,
                schedule_id=schedule_id,
                purpose=purpose,
                recipient=address,
                subject=marked,
                status="refused",
                reason=f"not in notify_recipients[{EXERCISE_GROUP!r}]",
                at=now,
            )
        )
    if not allowed:
        return 0
    message = EmailMessage()
    message["Subject"] = marked
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(allowed)
    message["X-Dijkwacht-Exercise"] = exercise_id or f"schedule-{schedule_id}"
    message.set_content(f"{BANNER}\n\n{body}\n\n{BANNER}\n")
    status, reason = "sent", None
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        status, reason = "failed", f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}"[:300]
    for address in allowed:
        db.add(
            Outbox(
                exercise_id=exercise_id,
                schedule_id=schedule_id,
                purpose=purpose,
                recipient=address,
                subject=marked,
                status=status,
                reason=reason,
                at=now,
            )
        )
    return len(allowed) if status == "sent" else 0
