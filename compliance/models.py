"""Compliance tables (migration bio2_01): the status of each measure and its latest evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class MeasureStatus(Base):
    """The last computed status of one measure of one catalogue edition.

    `red_since` is when the measure last turned `not_met`; `alerted_at` is set when the one
    alert for that red spell was raised and cleared when the measure leaves red, so a measure
    that stays red does not alert again on every run.
    """

    __tablename__ = "compliance_measure_status"
    __table_args__ = (UniqueConstraint("framework", "edition", "measure_id", name="measure_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework: Mapped[str] = mapped_column(String(40))
    edition: Mapped[str] = mapped_column(String(40))
    measure_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # met | at_risk | not_met | not_evidenced
    reason: Mapped[str] = mapped_column(Text, default="")  # English
    reason_nl: Mapped[str] = mapped_column(Text, default="")  # the same in Dutch
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    red_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EvidenceItem(Base):
    """One piece of evidence behind a measure's status, from the check that computed it.

    `sha256` is the hash of the canonical JSON of (kind, source, at, data): the file the
    evidence package holds for this item hashes to the same value.
    """

    __tablename__ = "compliance_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status_id: Mapped[int] = mapped_column(ForeignKey("compliance_measure_status.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    sha256: Mapped[str] = mapped_column(String(64))
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime())
