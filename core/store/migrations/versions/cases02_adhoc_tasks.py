"""Ad-hoc tasks on incidents: a person adds a task (title, optional assignee) and completes it
with a note (issue 17).

Revision ID: cases02
Revises: advis01
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cases02"
down_revision: str | None = "advis01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_by", sa.String(200), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_incident_tasks_incident_id", "incident_tasks", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_tasks_incident_id", table_name="incident_tasks")
    op.drop_table("incident_tasks")
