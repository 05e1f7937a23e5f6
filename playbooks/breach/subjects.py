"""Letters from the breach's affected residents: who they are, found through re-identification.

The platform knows affected residents only by pseudonym (one-way HMACs of the BSN: in the
linked incident's observables, its alerts and the events behind them), and stores no BSN,
name or address. So a batch "from the affected subjects" starts as one recipient per
pseudonym, each awaiting identification, and opens a re-identification request for each
(purpose stated, approved by the DPO and an incident manager, neither the requester: the
four-eyes rule of `core.privacy`). Once approved, the requesting DPO looks the
resident up in the BRP, and the platform *verifies* that BSN against the pseudonym (attempts
capped, audited, counted as a read in the resident's access report) before it accepts the
name and address for the letter. The BSN itself is never stored. A batch can only be approved
when every recipient is identified (letters.approve_letter_batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, ValidationError
from core.events import get_field
from core.privacy import service as privacy
from core.privacy.service import PSEUDONYM_RE, Pseudonymiser, pseudonyms_in
from core.store.base import AlertStore, EventStore
from playbooks import service as playbooks
from playbooks.breach import rendering
from playbooks.breach.letters import TEXT_KEYS, get_batch, recipients
from playbooks.breach.models import Breach, LetterBatch, LetterRecipient
from playbooks.breach.register import get_breach, log_change

SUBJECT_FIELD = "dijkwacht.subject.pseudonym"
MAX_ALERTS = 50
MAX_EVENTS = 1000
MAX_SUBJECTS = 500
AWAITING = ""  # a recipient's name until the resident is identified


@dataclass(frozen=True, slots=True)
class Identification:
    """The outcome of one verification: matched or not, and the recipient as it is now."""

    matched: bool
    recipient: LetterRecipient


def _pseudonyms(value: Any) -> set[str]:
    return set(pseudonyms_in(value))


def _alert_ids(db: Session, breach: Breach) -> list[str]:
    if breach.origin == "alert" and breach.origin_ref:
        return [breach.origin_ref]
    if breach.origin == "incident" and (breach.origin_ref or "").isdigit():
        return playbooks.alert_ids(db=db, incident_id=int(breach.origin_ref or 0))[:MAX_ALERTS]
    return []


def affected_subjects(
    *, db: Session, alerts: AlertStore, events: EventStore, breach_id: int
) -> list[str]:
    """The pseudonyms of the residents a breach concerns, sorted.

    From the linked incident's observables, its alerts and the events each alert names (at
    most MAX_EVENTS events are read). Pseudonyms only; the caller audits the read.
    """
    breach = get_breach(db=db, breach_id=breach_id)
    found: set[str] = set()
    if breach.origin == "incident" and (breach.origin_ref or "").isdigit():
        incident_id = int(breach.origin_ref or 0)
        for observable in playbooks.observables_of(db=db, incident_id=incident_id):
            if observable.kind == "pseudonym":
                found |= _pseudonyms(observable.value)
    budget = MAX_EVENTS
    for alert_id in _alert_ids(db, breach):
        try:
            alert = alerts.get(alert_id)
        except NotFoundError:
            continue
        found |= _pseudonyms(alert.body)
        ids = alert.body.get("event_ids") if isinstance(alert.body, Mapping) else None
        for event_id in (ids if isinstance(ids, list) else [])[:budget]:
            budget -= 1
            try:
                stored = events.get(str(event_id))
            except NotFoundError:
                continue
            found |= _pseudonyms(get_field(stored.event, SUBJECT_FIELD) or "")
    return sorted(found)[:MAX_SUBJECTS]


def _texts(texts: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Both languages: a resident's language is known only once they are identified."""
    clean: dict[str, dict[str, str]] = {}
    for lang in rendering.LANGUAGES:
        given = texts.get(lang)
        clean[lang] = {}
        for key in TEXT_KEYS:
            value = given.get(key) if isinstance(given, Mapping) else None
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"texts.{lang}.{key}", "must be a non-empty text")
            clean[lang][key] = value.strip()
    return clean


def create_batch_for_subjects(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    actor_role: Role,
    breach_id: int,
    subjects: Sequence[str],
    texts: Mapping[str, Any],
) -> LetterBatch:
    """A draft batch with one recipient per chosen affected resident, awaiting identification.

    Opens a re-identification request for each resident that has no open one of this DPO
    (purpose: the Art. 34 letter). `subjects` must be pseudonyms; no commit.
    """
    chosen = list(dict.fromkeys(s.strip() for s in subjects if s.strip()))
    if not chosen:
        raise ValidationError("subjects", "choose at least one affected resident")
    for subject in chosen:
        if not PSEUDONYM_RE.fullmatch(subject):
            raise ValidationError("subjects", f"{subject[:40]!r} is not a resident pseudonym")
    clean = _texts(texts)
    breach = get_breach(db=db, breach_id=breach_id)
    if breach.decision != "notify_ap_and_subjects":
        raise ValidationError("decision", "the DPO has not decided to inform the data subjects")
    batch = LetterBatch(
        breach_id=breach.id, status="draft", texts=clean, created_by=actor, created_at=clock.now()
    )
    db.add(batch)
    db.flush()
    purpose = (
        f"Brief aan betrokkene over datalek {breach.reference} (art. 34 AVG) / "
        f"letter to a data subject about breach {breach.reference}"
    )
    now = clock.now()
    for number, subject in enumerate(chosen, start=1):
        db.add(
            LetterRecipient(
                batch_id=batch.id, identifier=f"S-{number:03d}", name=AWAITING,
                pseudonym=subject, language="nl", data_items=[],
            )
        )  # fmt: skip
        current = privacy.latest_request_for(db=db, pseudonym=subject, requested_by=actor)
        if current is None or current.current_status(now) not in ("pending", "approved"):
            privacy.request_reidentification(
                db=db, pseudonym=subject, purpose=purpose, actor=actor, actor_role=actor_role,
                clock=clock,
            )  # fmt: skip
    log_change(
        db=db, clock=clock, breach=breach, actor=actor, action="letters_drafted",
        field="letters", after={"batch_id": batch.id, "recipients": len(chosen),
                                "from": "affected subjects"},
    )  # fmt: skip
    db.flush()
    return batch


def awaiting(people: Iterable[LetterRecipient]) -> list[LetterRecipient]:
    """The recipients not identified yet."""
    return [p for p in people if p.name == AWAITING]


def identification_status(*, db: Session, clock: Clock, batch_id: int) -> dict[int, str]:
    """Per recipient awaiting identification: its re-identification request's state in words."""
    batch = get_batch(db=db, batch_id=batch_id)
    now = clock.now()
    out: dict[int, str] = {}
    for person in awaiting(recipients(db=db, batch_id=batch.id)):
        request = privacy.latest_request_for(
            db=db, pseudonym=person.pseudonym, requested_by=batch.created_by
        )
        if request is None:
            out[person.id] = "geen verzoek / no request"
            continue
        status = request.current_status(now)
        out[person.id] = f"verzoek / request #{request.id}: {status}"
    return out


def _details(details: Mapping[str, str]) -> dict[str, str]:
    name = " ".join(details.get("name", "").split())
    if not name:
        raise ValidationError("name", "the resident's name as in the BRP is needed")
    language = details.get("language", "nl").strip().lower() or "nl"
    if language not in rendering.LANGUAGES:
        raise ValidationError("language", f"{language!r} is not nl or en")
    email = details.get("email", "").strip()
    if email and ("@" not in email or " " in email or len(email) > 200):
        raise ValidationError("email", f"{email!r} is not an e-mail address")
    address = details.get("address", "").strip()
    if not email and not address:
        raise ValidationError("address", "give a postal address or an e-mail address")
    limits = {"address": 300, "postcode": 20, "city": 100}
    clean = {key: details.get(key, "").strip()[:limit] for key, limit in limits.items()}
    return {"name": name[:200], "language": language, "email": email, **clean}


def identify_recipient(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    batch_id: int,
    recipient_id: int,
    candidate_bsn: str,
    pseudonymiser: Pseudonymiser,
    details: Mapping[str, str],
) -> Identification:
    """Verify the BSN the DPO looked up against the recipient's pseudonym; on a match, keep the
    name and address for the letter.

    Bad input raises ValidationError before anything is checked. A BSN that does not match is
    no error: the attempt counts (and is audited) and `matched` is False, so the caller must
    keep the attempt, not roll it back. The BSN is never stored.
    """
    batch = get_batch(db=db, batch_id=batch_id)
    if batch.status != "draft":
        raise ValidationError("status", f"batch {batch_id} is {batch.status}; make a new batch")
    person = db.get(LetterRecipient, recipient_id)
    if person is None or person.batch_id != batch.id:
        raise NotFoundError(f"recipient {recipient_id} is not in batch {batch_id}")
    if person.name != AWAITING:
        raise ValidationError("name", f"{person.identifier} is already identified")
    bsn = candidate_bsn.strip()
    if not (bsn.isdigit() and len(bsn) == 9):
        raise ValidationError("bsn", "a BSN has 9 digits")
    clean = _details(details)
    request = privacy.latest_request_for(db=db, pseudonym=person.pseudonym)
    now = clock.now()
    if request is None or request.current_status(now) != "approved":
        state = request.current_status(now) if request is not None else "not requested"
        raise ValidationError(
            "bsn",
            f"re-identification of {person.identifier} is {state}: the DPO and an incident "
            "manager must approve it first (Heridentificatie / re-identification page)",
        )
    try:
        matched = privacy.verify_candidate(
            db=db, request_id=request.id, candidate=bsn, pseudonymiser=pseudonymiser,
            actor=actor, clock=clock,
        )  # fmt: skip
    except ConflictError as exc:
        raise ValidationError("bsn", str(exc)) from None
    if matched:
        for key, value in clean.items():
            setattr(person, key, value)
        breach = get_breach(db=db, breach_id=batch.breach_id)
        log_change(
            db=db, clock=clock, breach=breach, actor=actor, action="letter_recipient_identified",
            field="letters", after={"batch_id": batch.id, "recipient": person.identifier},
        )  # fmt: skip
    db.flush()
    return Identification(matched, person)
