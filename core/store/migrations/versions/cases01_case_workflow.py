"""Case workflow: the life cycle new → in_progress → contained → resolved → closed, closing
reason and summary, and merged incidents pointing to the survivor.

Revision ID: cases01
Revises: 0005_audit_mac
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cases01"
down_revision: str | None = "0005_audit_mac"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Old phase names → the case life cycle (containment was the phase of working on it).
RENAMED = {
    "triage": "in_progress",
    "containment": "in_progress",
    "eradication": "contained",
    "recovery": "resolved",
}


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("close_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("close_summary", sa.Text(), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
    for old, new in RENAMED.items():
        op.execute(
            sa.text("UPDATE incidents SET status = :new WHERE status = :old").bindparams(
                new=new, old=old
            )
        )


def downgrade() -> None:
    for old, new in (
        ("in_progress", "triage"),
        ("contained", "eradication"),
        ("resolved", "recovery"),
    ):
        op.execute(
            sa.text("UPDATE incidents SET status = :old WHERE status = :new").bindparams(
                new=new, old=old
            )
        )
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("merged_into")
        batch.drop_column("close_summary")
        batch.drop_column("close_reason")
