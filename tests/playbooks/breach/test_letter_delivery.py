"""Released letters go out: e-mail over SMTP (aiosmtpd on 127.0.0.1), PDFs kept for the post,
each once; exercise letters are never sent; recipient lists are purged after the retention."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from core.errors import DijkwachtError
from playbooks.breach import letters, register
from playbooks.breach.letter_delivery import pdf_path, send_released_letters
from playbooks.breach.models import LetterBatch
from playbooks.breach.retention import (
    identifier_hash,
    purge_letter_recipients,
    remove_purged_pdfs,
)
from playbooks.breach.states import State
from playbooks.runs import Units
from tests.playbooks.breach.mail import body, smtp_server
from tests.playbooks.breach.support import walk_to
from tests.playbooks.breach.test_letters import CSV, TEXTS


def _released(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User, exercise: str | None = None
) -> LetterBatch:
    breach = walk_to(
        State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo, exercise_id=exercise
    )
    batch = letters.create_letter_batch(
        db=db, clock=clock, actor="ali", breach_id=breach.id, recipients_csv=CSV, texts=TEXTS
    )
    letters.approve_letter_batch(db=db, clock=clock, dpo=dpo, batch_id=batch.id)
    if exercise is None:
        letters.release_letter_batch(
            db=db, clock=clock, settings=settings, actor="fenna", batch_id=batch.id
        )
    return batch


def _send(db: Session, units: Units, clock: FrozenClock, settings: Settings) -> object:
    """What the `breach.send_letters` task does; the test commits its own setup first."""
    db.commit()
    try:
        return send_released_letters(units=units, clock=clock, settings=settings)
    finally:
        db.expire_all()  # read what the units of work wrote


def test_release_mails_the_text_and_keeps_the_pdf_for_the_post(
    db: Session, units: Units, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    with smtp_server() as (port, mailbox):
        settings = settings.model_copy(update={"smtp_port": port})
        batch = _released(db, clock, settings, dpo)
        clock.advance(timedelta(days=1))  # sent the next day: the letter keeps its release date
        counts = _send(db, units, clock, settings)
        assert counts == {batch.id: {"sent": 1, "pdf_ready": 1}}
        assert _send(db, units, clock, settings) == {}
    ((to, message),) = mailbox.messages
    assert to == ["jan@example.org"]
    text = body(message).replace("\r\n", "\n")
    assert "Jan Jansen" in text and "Mary Smith" not in text
    assert message["Subject"].startswith("Er is iets misgegaan met uw gegevens")
    jan, mary = letters.recipients(db=db, batch_id=batch.id)
    assert jan.delivery_status == "sent" and jan.channel == "email"
    assert jan.content_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert mary.delivery_status == "pdf_ready" and mary.channel == "post"
    pdf = pdf_path(settings, batch_id=batch.id, recipient_id=mary.id)
    assert pdf.stat().st_mode & 0o777 == 0o600
    assert "Mary Smith" in "".join(p.extract_text() for p in PdfReader(pdf).pages)
    (change,) = [
        c for c in register.history(db=db, breach_id=batch.breach_id)
        if c.action == "letters_delivered"
    ]  # fmt: skip
    assert change.after == {"batch_id": batch.id, "sent": 1, "pdf_ready": 1}
    assert "jan@example.org" not in str(change.after)


def test_exercise_letters_are_never_released_or_sent(
    db: Session, units: Units, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    with smtp_server() as (port, mailbox):
        settings = settings.model_copy(update={"smtp_port": port})
        batch = _released(db, clock, settings, dpo, exercise="drill-3")
        with pytest.raises(DijkwachtError):
            letters.release_letter_batch(
                db=db, clock=clock, settings=settings, actor="fenna", batch_id=batch.id
            )
        assert _send(db, units, clock, settings) == {}
    assert mailbox.messages == []
    assert all(r.delivery_status is None for r in letters.recipients(db=db, batch_id=batch.id))


def test_recipients_are_purged_after_release_plus_retention(
    db: Session, units: Units, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    with smtp_server() as (port, _mailbox):
        settings = settings.model_copy(
            update={"smtp_port": port, "letter_recipient_retention_days": 30}
        )
        batch = _released(db, clock, settings, dpo)
        _send(db, units, clock, settings)
    before = {r.id: r.content_sha256 for r in letters.recipients(db=db, batch_id=batch.id)}
    mary_pdf = pdf_path(settings, batch_id=batch.id, recipient_id=max(before))
    assert mary_pdf.exists()
    clock.advance(timedelta(days=30) - timedelta(seconds=1))
    assert purge_letter_recipients(db=db, clock=clock, settings=settings) == []
    clock.advance(timedelta(seconds=1))
    assert purge_letter_recipients(db=db, clock=clock, settings=settings) == [batch.id]
    assert purge_letter_recipients(db=db, clock=clock, settings=settings) == []
    db.commit()  # the test is the boundary: files go only after the purge committed
    remove_purged_pdfs(db=db, settings=settings)
    db.expire_all()
    people = letters.recipients(db=db, batch_id=batch.id)
    for person in people:
        assert (person.name, person.address, person.postcode, person.city) == ("", "", "", "")
        assert (person.email, person.pseudonym, person.data_items) == ("", "", [])
        assert person.content_sha256 == before[person.id] and person.channel in ("email", "post")
    assert people[0].identifier == identifier_hash(settings, "R-001")
    assert not mary_pdf.exists()
    assert letters.get_batch(db=db, batch_id=batch.id).purged_at == clock.now()
    history = register.history(db=db, breach_id=batch.breach_id)
    (purged,) = [c for c in history if c.action == "letters_purged"]
    assert purged.after["recipients"] == 2
    assert purged.after["channel_email"] == 1 and purged.after["channel_post"] == 1
    for change in history:
        assert "Jan Jansen" not in str(change.after) and "Dorpsstraat" not in str(change.after)
