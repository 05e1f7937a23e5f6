"""Intel's relational tables (migration intel01): indicators, warninglists, sources, sightings.

An indicator is unique per (type, value, source): the same value from two feeds is two rows, so
each keeps its own confidence, TLP and expiry and the alert can name both. `group_key` ties
indicators that came in one MISP event or one STIX bundle (the "related indicators").
`intel_state` holds the version counter the streaming matcher polls to know when to rebuild.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Indicator(Base):
    """One indicator of one source; `valid_until` None means it never expires by date."""

    __tablename__ = "intel_indicators"
    __table_args__ = (UniqueConstraint("type", "value", "source", name="uq_intel_indicator"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    value: Mapped[str] = mapped_column(String(2048), index=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    confidence: Mapped[int] = mapped_column(Integer, default=50)
    tlp: Mapped[str] = mapped_column(String(20), default="amber")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    techniques: Mapped[list[str]] = mapped_column(_JSON, default=list)
    group_key: Mapped[str | None] = mapped_column(String(200), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WarninglistEntry(Base):
    """A known-benign value from a MISP warninglist; `kind` is the list's matching type."""

    __tablename__ = "intel_warninglist_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # string, cidr, hostname, substring, regex
    value: Mapped[str] = mapped_column(String(2048))


class IntelSource(Base):
    """A feed as last imported: when, from where, and what the import counted."""

    __tablename__ = "intel_sources"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    location: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    last_refresh_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_counts: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    last_problems: Mapped[list[str]] = mapped_column(_JSON, default=list)


class Sighting(Base):
    """An event that matched an indicator value: the streaming path and retro-hunts alert once."""

    __tablename__ = "intel_sightings"
    __table_args__ = (UniqueConstraint("indicator_key", "event_id", name="uq_intel_sighting"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_key: Mapped[str] = mapped_column(String(2100))  # "<type>:<value>"
    event_id: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    how: Mapped[str] = mapped_column(String(20))  # "stream" or "hunt"


class IntelState(Base):
    """Small counters: `version` grows on every change the matcher must see."""

    __tablename__ = "intel_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
