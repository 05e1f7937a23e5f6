"""Tables of the advisories domain (migration advis01): inventory items, advisories, matches.

An accepted risk is kept on the match it accepts (who, why, until), so the overview of an item
reads one row per advisory; every change is also written to the audit log by the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class InventoryItem(Base):
    """One piece of software the municipality runs, with who owns it and how exposed it is."""

    __tablename__ = "inventory_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Identity across re-imports: the purl, else the CPE, else vendor:product:version.
    ref: Mapped[str] = mapped_column(String(500), unique=True)
    vendor: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    cpe: Mapped[str | None] = mapped_column(String(500), nullable=True)
    purl: Mapped[str | None] = mapped_column(String(500), nullable=True)
    owner: Mapped[str] = mapped_column(String(200))
    exposure: Mapped[str] = mapped_column(String(20))  # internet | internal
    log_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    origin: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Advisory(Base):
    """One CSAF 2.0 advisory as last imported (the newest revision replaces older ones)."""

    __tablename__ = "advisories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_id: Mapped[str] = mapped_column(String(300))
    publisher: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(20))  # none | low | medium | high | critical
    severity_text: Mapped[str | None] = mapped_column(String(300), nullable=True)
    cves: Mapped[list[str]] = mapped_column(_JSON)
    version: Mapped[str] = mapped_column(String(50))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(1000))
    document: Mapped[dict[str, Any]] = mapped_column(_JSON)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (UniqueConstraint("publisher", "tracking_id"),)


class AdvisoryMatch(Base):
    """An advisory's product that is an inventory item; open while affected and not accepted."""

    __tablename__ = "advisory_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    advisory_id: Mapped[int] = mapped_column(ForeignKey("advisories.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_items.id"), index=True)
    product_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))  # affected | fixed
    matched_by: Mapped[str] = mapped_column(String(20))  # purl | cpe | name
    cves: Mapped[list[str]] = mapped_column(_JSON)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    accepted_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    accepted_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("advisory_id", "item_id"),)
