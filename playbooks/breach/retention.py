"""Retention of letter recipient lists: after release + `letter_recipient_retention_days`.

The list of names, addresses and e-mails is needed to send the letters and to answer
questions shortly after; keeping it longer serves no purpose (GDPR Art. 5(1)(e)). The purge
blanks every personal field, replaces the identifier by a keyed hash (so "did this person get
a letter?" can still be answered by someone who holds the identifier and the key), deletes
the kept PDFs, and leaves channel, time, content SHA-256 and the counts on the history.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from playbooks.breach.letter_delivery import letters_dir
from playbooks.breach.letters import recipients
from playbooks.breach.models import Breach, LetterBatch
from playbooks.breach.register import log_change

HASH_PREFIX = "hmac-sha256:"


def identifier_hash(settings: Settings, identifier: str) -> str:
    """Keyed hash of a recipient identifier (a BSN is too guessable for a plain hash)."""
    key = settings.secret("pseudonym_key").encode()
    return HASH_PREFIX + hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()


def purge_letter_recipients(*, db: Session, clock: Clock, settings: Settings) -> list[int]:
    """Purge the recipients of every batch released longer ago than the retention; their ids.

    The kept PDFs are not touched here: the boundary calls `remove_purged_pdfs` after its unit
    of work committed, so a purge that rolls back never loses a letter still to be posted.
    """
    cutoff = clock.now() - timedelta(days=settings.letter_recipient_retention_days)
    due = list(
        db.scalars(
            select(LetterBatch.id)
            .where(LetterBatch.released_at <= cutoff, LetterBatch.purged_at.is_(None))
            .order_by(LetterBatch.id)
        )
    )
    for batch_id in due:
        _purge(db=db, clock=clock, settings=settings, batch_id=batch_id)
    return due


def remove_purged_pdfs(*, db: Session, settings: Settings) -> None:
    """Delete the kept PDFs of every purged batch; call after the purge committed.

    A sweep over all purged batches, so it also catches a crash between a commit and a delete.
    """
    root = letters_dir(settings)
    if not root.is_dir():
        return
    purged = set(db.scalars(select(LetterBatch.id).where(LetterBatch.purged_at.is_not(None))))
    for folder in root.glob("batch-*"):
        if folder.name.removeprefix("batch-").isdigit() and int(folder.name[6:]) in purged:
            shutil.rmtree(folder, ignore_errors=True)


def _purge(*, db: Session, clock: Clock, settings: Settings, batch_id: int) -> None:
    batch = db.get(LetterBatch, batch_id)
    assert batch is not None
    if batch.purged_at is not None:
        return
    counts: dict[str, int] = {"recipients": 0}
    for person in recipients(db=db, batch_id=batch_id):
        counts["recipients"] += 1
        channel = person.channel or "none"
        status = person.delivery_status or "none"
        if not status.startswith(("sent", "pdf_ready", "suppressed", "failed")):
            status = person.delivery_status = "expired"  # never delivered within retention
        counts[f"channel_{channel}"] = counts.get(f"channel_{channel}", 0) + 1
        counts[f"status_{status}"] = counts.get(f"status_{status}", 0) + 1
        if not person.identifier.startswith(HASH_PREFIX):
            person.identifier = identifier_hash(settings, person.identifier)
        person.name = person.address = person.postcode = person.city = ""
        person.email = person.pseudonym = ""
        person.data_items = []
        person.delivery_error = None  # SMTP errors may quote the address
    now = clock.now()
    batch.purged_at = now
    breach = db.get(Breach, batch.breach_id)
    assert breach is not None
    log_change(
        db=db, clock=clock, breach=breach, actor="system", action="letters_purged",
        field="letters.recipients",
        after={"batch_id": batch_id, "retention_days": settings.letter_recipient_retention_days,
               **counts},
    )  # fmt: skip
