"""The LDV domain's tables: chain partners and the expected volume of each logging system."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Partner(Base):
    """A chain partner (ketenpartner) that calls our systems and logs as `foreign_operation`.

    `entity_uri` is what its records carry in `foreign_operation.entity`; only the processing
    activities in `agreed_activities` (URIs) are covered by the agreement with it.
    """

    __tablename__ = "ldv_partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    entity_uri: Mapped[str] = mapped_column(String(500), unique=True)
    contact: Mapped[str] = mapped_column(String(300))
    read_api: Mapped[str | None] = mapped_column(String(500), nullable=True)
    agreed_activities: Mapped[list[str]] = mapped_column(_JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Stream(Base):
    """How many LDV records a system sends per hour when it logs everything (no sampling)."""

    __tablename__ = "ldv_streams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(100), unique=True)
    expected_per_hour: Mapped[int] = mapped_column(Integer)
