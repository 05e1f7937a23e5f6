"""Breach workflow: delivery state of reminders and letters, purge mark of letter batches.

Revision ID: breach02
Revises: drills01
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "breach02"
down_revision: str | None = "drills01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DELIVERY_TABLES = ("breach_reminders", "breach_letter_recipients")


def upgrade() -> None:
    for table in _DELIVERY_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("delivery_status", sa.String(30), nullable=True))
            batch.add_column(
                sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0")
            )
            batch.add_column(sa.Column("delivery_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        op.create_index(f"ix_{table}_delivery_status", table, ["delivery_status"])
    with op.batch_alter_table("breach_letter_batches") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("breach_letter_batches") as batch:
        batch.drop_column("purged_at")
    for table in reversed(_DELIVERY_TABLES):
        op.drop_index(f"ix_{table}_delivery_status", table_name=table)
        with op.batch_alter_table(table) as batch:
            for column in ("delivery_error", "delivery_at", "delivery_attempts", "delivery_status"):
                batch.drop_column(column)
