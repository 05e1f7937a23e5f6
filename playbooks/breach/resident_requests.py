"""The register of residents' GDPR requests: access (Art. 15), rectification (16), erasure (17).

Each request is answered within one month of receipt; the DPO may extend that by two further
months with a reason given to the resident (Art. 12(3)). The BSN is never stored: the request
keeps the resident's pseudonym, so the access report can be produced for the same person later
(the BSN is asked again and must give the same pseudonym).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import Clock
from core.config import Settings
from core.errors import NotFoundError, ValidationError
from core.store.relational import Base, UTCDateTime
from playbooks.breach import clocks, rendering

KINDS = {
    "access": "Inzage (art. 15) / access (Art. 15)",
    "rectification": "Rectificatie (art. 16) / rectification (Art. 16)",
    "erasure": "Wissing (art. 17) / erasure (Art. 17)",
}
EXTENSION_MONTHS = 2


class ResidentRequest(Base):
    """One request of a resident, its deadline, extension and the answer sent."""

    __tablename__ = "resident_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    requester: Mapped[str] = mapped_column(String(200))  # how the resident signed the request
    pseudonym: Mapped[str] = mapped_column(String(100), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    report_produced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def is_open(self) -> bool:
        return self.answered_at is None


def _months_later(moment: datetime, months: int, settings: Settings) -> datetime:
    for _ in range(months):
        moment = clocks.add_month(moment, settings)
    return moment


def record_request(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    actor: str,
    kind: str,
    requester: str,
    pseudonym: str,
    received_at: datetime | None = None,
) -> ResidentRequest:
    """Register a request; its one-month clock runs from receipt (Art. 12(3))."""
    if kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    if not requester.strip():
        raise ValidationError("requester", "give the name the resident signed with")
    now = clock.now()
    received = received_at or now
    if received > now:
        raise ValidationError("received_at", "lies in the future")
    year = clocks.local(received, settings).year
    taken = db.scalar(select(func.count()).where(ResidentRequest.reference.like(f"AV-{year}-%")))
    request = ResidentRequest(
        reference=f"AV-{year}-{(taken or 0) + 1:04d}",
        kind=kind,
        requester=requester.strip()[:200],
        pseudonym=pseudonym,
        received_at=received,
        due_at=_months_later(received, 1, settings),
        created_by=actor,
        created_at=now,
    )
    db.add(request)
    db.flush()
    return request


def get_request(*, db: Session, request_id: int) -> ResidentRequest:
    """The request, or NotFoundError naming the id."""
    found = db.get(ResidentRequest, request_id)
    if found is None:
        raise NotFoundError(f"resident request {request_id} does not exist")
    return found


def list_requests(*, db: Session, open_only: bool = False) -> list[ResidentRequest]:
    """Requests, soonest deadline first."""
    query = select(ResidentRequest).order_by(ResidentRequest.due_at, ResidentRequest.id)
    if open_only:
        query = query.where(ResidentRequest.answered_at.is_(None))
    return list(db.scalars(query))


def extend_request(
    *, db: Session, settings: Settings, request_id: int, reason: str
) -> ResidentRequest:
    """Two more months, once, with the reason the resident is told (Art. 12(3))."""
    request = get_request(db=db, request_id=request_id)
    if not reason.strip():
        raise ValidationError("reason", "say why more time is needed (the resident is told)")
    if request.extension_reason:
        raise ValidationError("reason", "this request was already extended once")
    if not request.is_open:
        raise ValidationError("reason", "the request is already answered")
    request.due_at = _months_later(request.due_at, EXTENSION_MONTHS, settings)
    request.extension_reason = reason.strip()
    db.flush()
    return request


def mark_report_produced(*, db: Session, clock: Clock, request_id: int) -> ResidentRequest:
    """Note that the access report for this request was produced."""
    request = get_request(db=db, request_id=request_id)
    request.report_produced_at = clock.now()
    db.flush()
    return request


def answer_request(*, db: Session, clock: Clock, request_id: int, answer: str) -> ResidentRequest:
    """Record the answer sent to the resident; closes the request and stops its clock."""
    request = get_request(db=db, request_id=request_id)
    if not answer.strip():
        raise ValidationError("answer", "describe the answer sent (what and how)")
    if not request.is_open:
        raise ValidationError("answer", "the request is already answered")
    request.answer, request.answered_at = answer.strip(), clock.now()
    db.flush()
    return request


COLUMNS = (
    "kenmerk", "soort", "verzoeker", "ontvangen", "uiterlijk", "verlengd_omdat",
    "rapport_gemaakt", "beantwoord", "antwoord",
)  # fmt: skip


def _rows(db: Session, settings: Settings) -> list[list[str]]:
    return [
        [r.reference, r.kind, r.requester, clocks.show(r.received_at, settings),
         clocks.show(r.due_at, settings), r.extension_reason or "",
         clocks.show(r.report_produced_at, settings),
         clocks.show(r.answered_at, settings), r.answer or ""]
        for r in list_requests(db=db)
    ]  # fmt: skip


def requests_csv(*, db: Session, settings: Settings) -> str:
    """The requests register as CSV for the DPO's records (local times; no BSN, no pseudonym)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(_rows(db, settings))
    return out.getvalue()


def requests_pdf(*, db: Session, clock: Clock, settings: Settings) -> bytes:
    """The same register as a PDF table."""
    html = rendering.render(
        "requests.html.j2", lang="nl", exercise=None, organisation=settings.organisation_name,
        generated=clocks.show(clock.now(), settings), columns=COLUMNS,
        rows=_rows(db, settings),
    )  # fmt: skip
    return rendering.to_pdf(html)
