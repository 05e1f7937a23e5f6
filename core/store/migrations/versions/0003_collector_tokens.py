"""Collector API tokens for HTTP batch ingest (SHA-256 of the token, never the token).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collector_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("token_sha256", name="uq_collector_tokens_token_sha256"),
    )
    op.create_index("ix_collector_tokens_source", "collector_tokens", ["source"])


def downgrade() -> None:
    op.drop_index("ix_collector_tokens_source", table_name="collector_tokens")
    op.drop_table("collector_tokens")
