"""Letters to data subjects (Art. 34): one per person, in Dutch (B1) or English.

The people come from the breach's affected residents (`subjects`: pseudonyms identified
through re-identification) or from a CSV list the DPO provides.

Each letter is rendered with *only* its own recipient in the template context, so no letter
can mention another resident. The DPO approves a batch before release; changing the texts
withdraws the approval. Release records, per person, the channel, the time and a SHA-256 of
exactly what was sent, and queues delivery: `letter_delivery.send_released_letters` (beat task
`breach.send_letters`) e-mails the text to people with an address and keeps a PDF for the
post. Exercise breaches can be previewed (watermarked) but never released or sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import Clock
from core.config import Settings
from core.errors import NotFoundError, ValidationError
from playbooks.breach import clocks, rendering
from playbooks.breach.models import Breach, LetterBatch, LetterRecipient
from playbooks.breach.register import get_breach, log_change
from playbooks.breach.reports import refuse_exercise, require_dpo

TEXT_KEYS = ("what_happened", "consequences", "measures", "advice")
COLUMNS = (
    "identifier",
    "name",
    "address",
    "postcode",
    "city",
    "email",
    "pseudonym",
    "language",
    "data",
)
MAX_RECIPIENTS = 200_000


@dataclass(frozen=True, slots=True)
class RecipientInput:
    """One row of the recipients CSV."""

    identifier: str
    name: str
    address: str = ""
    postcode: str = ""
    city: str = ""
    email: str = ""
    pseudonym: str = ""
    language: str = "nl"
    data_items: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Letter:
    """A rendered letter for one person: HTML (for the PDF) and the e-mail text."""

    recipient_id: int
    identifier: str
    language: str
    html: str
    email_text: str

    def pdf(self) -> bytes:
        return rendering.to_pdf(self.html)


def parse_recipients(text: str) -> list[RecipientInput]:
    """Read the CSV list; errors name the line and the column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = set(reader.fieldnames or ())
    for needed in ("identifier", "name"):
        if needed not in columns:
            raise ValidationError(needed, "column missing in the recipients CSV (line 1)")
    unknown = columns - set(COLUMNS)
    if unknown:
        raise ValidationError(sorted(unknown)[0], f"unknown column; known: {', '.join(COLUMNS)}")
    found: list[RecipientInput] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        values = {key: (row.get(key) or "").strip() for key in COLUMNS}
        for needed in ("identifier", "name"):
            if not values[needed]:
                raise ValidationError(needed, f"empty on line {line}")
        if values["identifier"] in seen:
            raise ValidationError("identifier", f"{values['identifier']!r} twice (line {line})")
        seen.add(values["identifier"])
        language = values["language"].lower() or "nl"
        if language not in rendering.LANGUAGES:
            raise ValidationError("language", f"line {line}: {language!r} is not nl or en")
        found.append(
            RecipientInput(
                identifier=values["identifier"],
                name=values["name"],
                address=values["address"],
                postcode=values["postcode"],
                city=values["city"],
                email=values["email"],
                pseudonym=values["pseudonym"],
                language=language,
                data_items=tuple(v.strip() for v in values["data"].split(";") if v.strip()),
            )
        )
        if len(found) > MAX_RECIPIENTS:
            raise ValidationError("recipients", f"more than {MAX_RECIPIENTS} rows")
    if not found:
        raise ValidationError("recipients", "the CSV has no recipients")
    return found


def _check_texts(texts: dict[str, Any], languages: set[str]) -> dict[str, dict[str, str]]:
    clean: dict[str, dict[str, str]] = {}
    for lang in sorted(languages):
        given = texts.get(lang)
        if not isinstance(given, dict):
            raise ValidationError(f"texts.{lang}", "needed: some recipients read this language")
        clean[lang] = {}
        for key in TEXT_KEYS:
            value = given.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"texts.{lang}.{key}", "must be a non-empty text")
            clean[lang][key] = value.strip()
    return clean


def create_letter_batch(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    breach_id: int,
    recipients_csv: str,
    texts: dict[str, Any],
) -> LetterBatch:
    """A draft batch of letters for the people in the CSV, awaiting DPO approval."""
    people = parse_recipients(recipients_csv)
    clean = _check_texts(texts, {p.language for p in people})
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.decision != "notify_ap_and_subjects":
        raise ValidationError("decision", "the DPO has not decided to inform the data subjects")
    batch = LetterBatch(
        breach_id=breach.id, status="draft", texts=clean, created_by=actor, created_at=clock.now()
    )
    db.add(batch)
    db.flush()
    for person in people:
        db.add(
            LetterRecipient(
                batch_id=batch.id,
                identifier=person.identifier,
                name=person.name,
                address=person.address,
                postcode=person.postcode,
                city=person.city,
                email=person.email,
                pseudonym=person.pseudonym,
                language=person.language,
                data_items=list(person.data_items),
            )
        )
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="letters_drafted",
        field="letters", after={"batch_id": batch.id, "recipients": len(people)},
    )  # fmt: skip
    db.flush()
    return batch


def get_batch(*, db: Session, batch_id: int) -> LetterBatch:
    """The batch, or NotFoundError."""
    batch = db.get(LetterBatch, batch_id)
    if batch is None:
        raise NotFoundError(f"letter batch {batch_id} does not exist")
    return batch


def batches_of(*, db: Session, breach_id: int) -> list[LetterBatch]:
    """A breach's letter batches, oldest first (the DPO's breach page lists them)."""
    return list(
        db.scalars(
            select(LetterBatch).where(LetterBatch.breach_id == breach_id).order_by(LetterBatch.id)
        )
    )


def recipients(*, db: Session, batch_id: int) -> list[LetterRecipient]:
    """The batch's recipients with what was sent to them, in list order."""
    return list(
        db.scalars(
            select(LetterRecipient)
            .where(LetterRecipient.batch_id == batch_id)
            .order_by(LetterRecipient.id)
        )
    )


def render_letter(
    *,
    breach: Breach,
    batch: LetterBatch,
    recipient: LetterRecipient,
    settings: Settings,
    clock: Clock,
    dated: datetime | None = None,
) -> Letter:
    """Render one person's letter; the context holds this recipient and nobody else.

    `dated` fixes the letter's date (the release), so a later send renders the same bytes.
    """
    lang = recipient.language
    context: dict[str, Any] = {
        "lang": lang,
        "exercise": breach.exercise_id,
        "organisation": settings.organisation_name,
        "reference": breach.reference,
        "date": clocks.local(dated or clock.now(), settings).strftime("%d-%m-%Y"),
        "recipient": {
            "name": recipient.name,
            "address": recipient.address,
            "postcode": recipient.postcode,
            "city": recipient.city,
        },
        "data": recipient.data_items or breach.data_categories,
        "texts": batch.texts[lang],
        "contact": {
            "name": settings.dpo_name,
            "email": settings.dpo_email,
            "phone": settings.dpo_phone,
        },
    }
    return Letter(
        recipient_id=recipient.id,
        identifier=recipient.identifier,
        language=lang,
        html=rendering.render(f"letter.{lang}.html.j2", **context),
        email_text=rendering.render(f"email.{lang}.txt.j2", **context),
    )


def preview_letters(
    *, db: Session, clock: Clock, settings: Settings, batch_id: int
) -> list[Letter]:
    """Every letter of a batch, for the DPO to read before approving."""
    batch = get_batch(db=db, batch_id=batch_id)
    breach = get_breach(db=db, breach_id=batch.breach_id)
    return [
        render_letter(breach=breach, batch=batch, recipient=r, settings=settings, clock=clock)
        for r in recipients(db=db, batch_id=batch_id)
        if r.name  # residents still awaiting identification have no letter yet
    ]


def update_texts(
    *, db: Session, clock: Clock, actor: str, batch_id: int, texts: dict[str, Any]
) -> LetterBatch:
    """Change the letter texts; an approval no longer covers them and is withdrawn."""
    batch = get_batch(db=db, batch_id=batch_id)
    if batch.status == "released":
        raise ValidationError("status", "these letters were released; make a new batch")
    languages = {r.language for r in recipients(db=db, batch_id=batch_id)}
    clean = _check_texts(texts, languages)
    breach = get_breach(db=db, breach_id=batch.breach_id)
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="letters_edited",
        field="letters.texts", before=batch.texts, after=clean,
    )  # fmt: skip
    batch.texts = clean
    batch.status, batch.approved_by, batch.approved_at = "draft", None, None
    db.flush()
    return batch


def approve_letter_batch(*, db: Session, clock: Clock, dpo: User, batch_id: int) -> LetterBatch:
    """The DPO approves the letters as they are now; never the person who drafted them.

    Four eyes: letters to residents go out only when a second person has read them.
    """
    require_dpo(dpo)
    batch = get_batch(db=db, batch_id=batch_id)
    if batch.status != "draft":
        raise ValidationError("status", f"batch {batch_id} is {batch.status}, not a draft")
    if batch.created_by == dpo.username:
        raise ValidationError(
            "approved_by", "four eyes: someone other than the drafter must approve the letters"
        )
    waiting = [r.identifier for r in recipients(db=db, batch_id=batch_id) if not r.name]
    if waiting:
        raise ValidationError(
            "recipients",
            f"{len(waiting)} resident(s) not identified yet ({', '.join(waiting[:5])}); "
            "identify them or make a batch without them",
        )
    breach = get_breach(db=db, breach_id=batch.breach_id)
    batch.status, batch.approved_by, batch.approved_at = "approved", dpo.username, clock.now()
    log_change(
        db=db, clock=clock, breach=breach, actor=dpo.username, action="letters_approved",
        field="letters", after={"batch_id": batch.id},
    )  # fmt: skip
    db.flush()
    return batch


def release_letter_batch(
    *, db: Session, clock: Clock, settings: Settings, actor: str, batch_id: int
) -> list[Letter]:
    """Release approved letters: record per person what was sent, how and when; return them.

    E-mail when the person has an address, else post. Exercise breaches are refused.
    """
    batch = get_batch(db=db, batch_id=batch_id)
    breach = get_breach(db=db, breach_id=batch.breach_id)
    refuse_exercise(breach, "sending letters")
    if batch.status != "approved":
        raise ValidationError(
            "status", f"the DPO must approve batch {batch_id} first ({batch.status})"
        )
    now = clock.now()
    letters = []
    for person in recipients(db=db, batch_id=batch_id):
        letter = render_letter(
            breach=breach, batch=batch, recipient=person, settings=settings, clock=clock,
            dated=now,
        )  # fmt: skip
        person.channel = "email" if person.email else "post"
        sent = letter.email_text if person.channel == "email" else letter.html
        person.content_sha256 = hashlib.sha256(sent.encode("utf-8")).hexdigest()
        person.sent_at = now
        person.delivery_status = "queued"  # e-mail over SMTP, or a PDF kept for the post
        letters.append(letter)
    batch.status, batch.released_at = "released", now
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="letters_released",
        field="letters", after={"batch_id": batch.id, "letters": len(letters)},
    )  # fmt: skip
    db.flush()
    return letters
