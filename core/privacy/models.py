"""The tables of `core.privacy`: `reidentification_requests` (migration dashboard01)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

RequestStatus = Literal["pending", "approved", "rejected", "expired"]


class ReidentificationRequest(Base):
    """One request; `status` is stored, expiry is judged against the clock when read."""

    __tablename__ = "reidentification_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    dpo_approver: Mapped[str | None] = mapped_column(String(200))
    dpo_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    manager_approver: Mapped[str | None] = mapped_column(String(200))
    manager_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_by: Mapped[str | None] = mapped_column(String(200))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    # Until approval: the end of the approval window; after: the end of the validity.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[bool | None] = mapped_column(default=None)

    def current_status(self, now: datetime) -> RequestStatus:
        """The stored status, or `expired` once the window or validity has passed."""
        if self.status in ("pending", "approved") and self.expires_at <= now:
            return "expired"
        return self.status  # type: ignore[return-value]
