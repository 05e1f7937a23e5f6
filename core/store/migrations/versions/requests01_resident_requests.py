"""Register of residents' GDPR requests (access, rectification, erasure) with their deadlines.

Revision ID: requests01
Revises: cases01
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "requests01"
down_revision: str | None = "cases01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(30), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("pseudonym", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("report_produced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_resident_requests_pseudonym", "resident_requests", ["pseudonym"])
    op.create_index("ix_resident_requests_due_at", "resident_requests", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_resident_requests_due_at", "resident_requests")
    op.drop_index("ix_resident_requests_pseudonym", "resident_requests")
    op.drop_table("resident_requests")
