"""The `users` table (migration 0001)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime


class Role(StrEnum):
    """What a user may do; the dashboard maps each role to its pages and actions."""

    ANALYST = "analyst"
    INCIDENT_MANAGER = "incident_manager"
    CRISIS_TEAM = "crisis_team"
    DPO = "dpo"
    EXERCISE_CONTROLLER = "exercise_controller"
    ADMIN = "admin"
    # Read-only: the compliance pages and the evidence package, every read audited (BIO2).
    AUDITOR = "auditor"


class User(Base):
    """A local account; `password_hash` is an argon2id hash string, never the password."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("username = lower(username)", name="username_lowercase"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Stored as the lowercase value in a VARCHAR; the migration adds the CHECK constraint.
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            create_constraint=False,
            length=32,
            values_callable=lambda roles: [role.value for role in roles],
        )
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The dashboard language the person chose with the switch (nl/en); None: the default.
    language: Mapped[str | None] = mapped_column(String(8), default=None)

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role.value})>"
