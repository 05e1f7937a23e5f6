"""The `collector_tokens` table (migration 0003): per-source API tokens for HTTP batch ingest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime


class CollectorToken(Base):
    """A token allowed to post events for one source; only its SHA-256 is stored."""

    __tablename__ = "collector_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
