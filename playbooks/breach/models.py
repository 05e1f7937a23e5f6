"""Tables of the breach workflow (migrations `breach01`, `breach02`); services own every write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Breach(Base):
    """One suspected personal-data breach: the Art. 33(5) register entry."""

    __tablename__ = "breach_breaches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(40), index=True)
    # Set for breaches raised by a drill; they are never finalised, sent or exported as real.
    exercise_id: Mapped[str | None] = mapped_column(String(100), index=True)
    origin: Mapped[str] = mapped_column(String(20))  # incident | alert | manual
    origin_ref: Mapped[str | None] = mapped_column(String(200))
    systems: Mapped[list[str]] = mapped_column(_JSON, default=list)
    facts: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str] = mapped_column(Text, default="")
    effects: Mapped[str] = mapped_column(Text, default="")
    remedial_actions: Mapped[str] = mapped_column(Text, default="")
    breach_types: Mapped[list[str]] = mapped_column(_JSON, default=list)
    data_categories: Mapped[list[str]] = mapped_column(_JSON, default=list)
    special_categories: Mapped[list[str]] = mapped_column(_JSON, default=list)
    subject_categories: Mapped[list[str]] = mapped_column(_JSON, default=list)
    vulnerable_groups: Mapped[str] = mapped_column(Text, default="")
    subjects_min: Mapped[int | None] = mapped_column(Integer)
    subjects_max: Mapped[int | None] = mapped_column(Integer)
    records_estimate: Mapped[int | None] = mapped_column(Integer)
    unintelligible: Mapped[str] = mapped_column(Text, default="")  # how data was protected
    cross_border: Mapped[bool | None] = mapped_column(Boolean)
    other_parties: Mapped[str] = mapped_column(Text, default="")  # processors, other SAs
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    discovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The GDPR and NIS2 clocks run from this recorded moment of awareness.
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ongoing: Mapped[bool | None] = mapped_column(Boolean)
    assessment: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    decision: Mapped[str | None] = mapped_column(String(40))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subjects_informed: Mapped[str] = mapped_column(Text, default="")  # or why not (Art. 34(3))
    delay_reason: Mapped[str] = mapped_column(Text, default="")
    nis2_applies: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def is_exercise(self) -> bool:
        return self.exercise_id is not None


class BreachChange(Base):
    """One change to a breach: who, when, what, before and after (the register's history)."""

    __tablename__ = "breach_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breach_breaches.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    field: Mapped[str | None] = mapped_column(String(60))
    before: Mapped[Any] = mapped_column(_JSON, nullable=True)
    after: Mapped[Any] = mapped_column(_JSON, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class BreachReminder(Base):
    """A persisted reminder point; `fired_at` set once, so a reminder never fires twice."""

    __tablename__ = "breach_reminders"
    __table_args__ = (
        UniqueConstraint("breach_id", "key", name="uq_breach_reminders_breach_reminder_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breach_breaches.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))  # e.g. gdpr_24h, gdpr_overdue, nis2_early
    clock: Mapped[str] = mapped_column(String(40))  # which deadline it warns about
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(200))
    # E-mail delivery (breach02): queued | sending | sent | retrying | failed | pdf_ready |
    # suppressed (exercise) | no recipients; attempts and the last error are shown on the timeline.
    delivery_status: Mapped[str | None] = mapped_column(String(30), index=True)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_error: Mapped[str | None] = mapped_column(Text)


class BreachReport(Base):
    """A report to an authority: AP notification (first or follow-up) or a NIS2/Cbw report."""

    __tablename__ = "breach_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breach_breaches.id"), index=True)
    # ap_initial | ap_followup | nis2_early_warning | nis2_notification | nis2_final
    kind: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("breach_reports.id"))
    status: Mapped[str] = mapped_column(String(20))  # draft | final | withdrawn
    content: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    authority_reference: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finalised_by: Mapped[str | None] = mapped_column(String(200))
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")


class LetterBatch(Base):
    """Letters to data subjects (Art. 34) for one breach; released only after DPO approval."""

    __tablename__ = "breach_letter_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breach_breaches.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # draft | approved | released
    # {"nl": {"what_happened": ..., "consequences": ..., "measures": ..., "advice": ...}, "en": ...}
    texts: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the recipients' names, addresses and e-mails were purged (retention).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LetterRecipient(Base):
    """One addressee of a batch and, once released, what was sent to them and when."""

    __tablename__ = "breach_letter_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("breach_letter_batches.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    pseudonym: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str] = mapped_column(String(2))
    # Which of this person's data were involved; empty: the breach's data categories.
    data_items: Mapped[list[str]] = mapped_column(_JSON, default=list)
    channel: Mapped[str | None] = mapped_column(String(20))  # post | email
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    # E-mail delivery (breach02): queued | sending | sent | retrying | failed | pdf_ready |
    # suppressed (exercise) | no recipients; attempts and the last error are shown on the timeline.
    delivery_status: Mapped[str | None] = mapped_column(String(30), index=True)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_error: Mapped[str | None] = mapped_column(Text)


class ProcessingSystem(Base):
    """A system or application in the Art. 30 processing register."""

    __tablename__ = "breach_processing_systems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Host names / log sources whose alerts concern this system.
    sources: Mapped[list[str]] = mapped_column(_JSON, default=list)


class ProcessingActivity(Base):
    """A processing activity on a system, with the data and people it involves."""

    __tablename__ = "breach_processing_activities"
    __table_args__ = (
        UniqueConstraint(
            "system_id", "name", name="uq_breach_processing_activities_breach_activity_name"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(
        ForeignKey("breach_processing_systems.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="")
    data_categories: Mapped[list[str]] = mapped_column(_JSON, default=list)
    special_categories: Mapped[list[str]] = mapped_column(_JSON, default=list)
    subject_categories: Mapped[list[str]] = mapped_column(_JSON, default=list)
    typical_subjects: Mapped[int] = mapped_column(Integer, default=0)
    typical_records: Mapped[int] = mapped_column(Integer, default=0)
    # Logboek Dataverwerkingen: the URI records carry as `dpl.core.processing_activity_id`.
    # The register keeps each relevant version under its own URI; old versions are `retired`.
    uri: Mapped[str | None] = mapped_column(String(500), nullable=True, index=True)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    retention: Mapped[str] = mapped_column(String(200), default="")
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_subject: Mapped[bool] = mapped_column(Boolean, default=True)
