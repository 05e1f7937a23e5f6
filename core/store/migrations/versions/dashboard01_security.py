"""Dashboard security: web sessions, API tokens, re-identification requests.

Revision ID: dashboard01
Revises: breach01
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dashboard01"
down_revision: str | None = "breach01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _time("created_at"),
        _time("last_seen_at"),
        _time("expires_at"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("expires_at", nullable=True),
        _time("revoked_at", nullable=True),
        _time("last_used_at", nullable=True),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "reidentification_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        _time("requested_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dpo_approver", sa.String(200), nullable=True),
        _time("dpo_approved_at", nullable=True),
        sa.Column("manager_approver", sa.String(200), nullable=True),
        _time("manager_approved_at", nullable=True),
        sa.Column("rejected_by", sa.String(200), nullable=True),
        sa.Column("rejection_reason", sa.String(500), nullable=True),
        _time("expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("matched", sa.Boolean(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_known"),
    )
    op.create_index(
        "ix_reidentification_requests_pseudonym", "reidentification_requests", ["pseudonym"]
    )


def downgrade() -> None:
    op.drop_index("ix_reidentification_requests_pseudonym", table_name="reidentification_requests")
    op.drop_table("reidentification_requests")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_web_sessions_expires_at", table_name="web_sessions")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
