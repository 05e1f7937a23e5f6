"""Delivery of released Art. 34 letters: e-mail over SMTP, or a PDF kept for the post.

`release_letter_batch` queues every recipient; `send_released_letters` (beat task
`breach.send_letters`) claims each once, renders the letter dated at release, checks it is
exactly what was hashed at release, and e-mails the text (one message per person) or writes
the PDF under `data_dir/breach-letters/`. Outcomes are counted on the breach history; names
and addresses never go to logs or the audit stream. Exercise breaches are never sent.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from core.clock import Clock
from core.config import Settings
from playbooks.breach import delivery
from playbooks.breach.letters import Letter, render_letter
from playbooks.breach.models import Breach, LetterBatch, LetterRecipient
from playbooks.breach.register import log_change
from playbooks.service import DeliveryFailed, Units, send_mail

log = logging.getLogger(__name__)
SUBJECT_PREFIXES = ("Onderwerp:", "Subject:")


def letters_dir(settings: Settings) -> Path:
    """Where PDFs for postal letters are kept until printed and purged (retention)."""
    return settings.resolved_data_dir / "breach-letters"


def pdf_path(settings: Settings, *, batch_id: int, recipient_id: int) -> Path:
    """The kept PDF of one postal letter."""
    return letters_dir(settings) / f"batch-{batch_id}" / f"letter-{recipient_id}.pdf"


def _subject(letter: Letter, reference: str) -> str:
    for line in letter.email_text.splitlines():
        for prefix in SUBJECT_PREFIXES:
            if line.strip().startswith(prefix):
                return line.strip().removeprefix(prefix).strip()
    return f"Datalek / data breach {reference}"


def _write_private(path: Path, data: bytes) -> None:
    # 0600 and atomic: the file holds a resident's name and address.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def send_released_letters(
    *, units: Units, clock: Clock, settings: Settings, limit: int = 500
) -> dict[int, dict[str, int]]:
    """Send or file every queued letter once; returns per batch how many ended in each state.

    Each letter takes its own units of work from `units` (claim, then outcome): a claim is
    saved before SMTP or the PDF renderer runs, and no transaction is open meanwhile.
    """
    counts: dict[int, dict[str, int]] = {}
    with units() as db:
        due = delivery.due_ids(db=db, model=LetterRecipient, now=clock.now(), limit=limit)
    for recipient_id in due:
        done = _deliver_one(units=units, clock=clock, settings=settings, recipient_id=recipient_id)
        if done is not None:
            batch_id, state = done
            per_batch = counts.setdefault(batch_id, {})
            per_batch[state] = per_batch.get(state, 0) + 1
    if counts:
        with units() as db:
            for batch_id, states in counts.items():
                batch = db.get(LetterBatch, batch_id)
                assert batch is not None
                breach = db.get(Breach, batch.breach_id)
                assert breach is not None
                log_change(
                    db=db, clock=clock, breach=breach, actor="system", action="letters_delivered",
                    field="letters", after={"batch_id": batch_id, **states},
                )  # fmt: skip
    for batch_id, states in counts.items():
        log.info("breach letters batch %s: %s", batch_id, states)
    return counts


def _deliver_one(
    *, units: Units, clock: Clock, settings: Settings, recipient_id: int
) -> tuple[int, str] | None:
    with units() as db:
        if not delivery.claim(db=db, model=LetterRecipient, row_id=recipient_id, now=clock.now()):
            return None
        person = db.get(LetterRecipient, recipient_id)
        assert person is not None
        batch = db.get(LetterBatch, person.batch_id)
        assert batch is not None
        breach = db.get(Breach, batch.breach_id)
        assert breach is not None
        stop = None
        if breach.is_exercise:
            stop = "suppressed (exercise)"  # release refuses exercises; never send one anyway
        elif batch.status != "released" or batch.released_at is None or batch.purged_at is not None:
            stop = "failed"
        if stop is not None:
            person.delivery_status, person.delivery_error = stop, f"batch is {batch.status}"
            return batch.id, stop
        letter = render_letter(
            breach=breach, batch=batch, recipient=person, settings=settings, clock=clock,
            dated=batch.released_at,
        )  # fmt: skip
        channel, email, reference = person.channel, person.email, breach.reference
        expected, batch_id = person.content_sha256, batch.id
    # The claim is saved; no transaction is open during SMTP or PDF rendering.
    error: str | None = None
    try:
        if channel == "email":
            sent = letter.email_text
            if hashlib.sha256(sent.encode("utf-8")).hexdigest() != expected:
                raise DeliveryFailed("the letter differs from what was recorded at release")
            send_mail(
                settings=settings, recipients=[email], subject=_subject(letter, reference),
                text=sent, headers={"X-Dijkwacht-Breach": reference},
            )  # fmt: skip
        else:
            path = pdf_path(settings, batch_id=batch_id, recipient_id=recipient_id)
            _write_private(path, letter.pdf())
    except DeliveryFailed as exc:
        error = str(exc)
    except OSError as exc:
        error = f"PDF for the post: {exc.strerror or exc}"
    with units() as db:
        person = db.get(LetterRecipient, recipient_id)
        assert person is not None
        state = delivery.outcome(row=person, settings=settings, error=error, now=clock.now())
        if state == "sent" and channel != "email":
            person.delivery_status = state = "pdf_ready"
    return batch_id, state
