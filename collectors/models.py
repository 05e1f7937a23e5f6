"""Collector tables: the log sources that must be sending (migration advis01). Ingest tokens
are API tokens with the `ingest` scope (`core.accounts.tokens`, migration tokens01)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime


class ExpectedSource(Base):
    """A log source that must be sending: by hand or from an inventory item.

    `max_silence_minutes` overrides `source_silent_minutes` for this source; `alerted_at` is set
    when the check raised its alert and cleared once the source sends again, so one silence
    gives one alert. With `expected_per_hour`, fewer than half that many records in an hour
    raise one "low volume" alert in the same way.
    """

    __tablename__ = "expected_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    max_silence_minutes: Mapped[int] = mapped_column(Integer)
    expected_per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    origin: Mapped[str] = mapped_column(String(100))  # "manual" or "inventory"
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The volume check's hour: the received counter and when it was read; `low_alerted_at`
    # marks an alert for too few events, cleared once the volume is back.
    mark_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mark_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    low_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
