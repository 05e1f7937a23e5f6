"""Compliance (BIO2): measure status and evidence tables, and the read-only auditor role.

Revision ID: bio2_01
Revises: intel01
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "bio2_01"
down_revision: str | None = "intel01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = ("analyst", "incident_manager", "crisis_team", "dpo", "exercise_controller", "admin")
NEW_ROLES = (*OLD_ROLES, "auditor")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _roles(roles: tuple[str, ...]) -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role_known"), type_="check")
        batch.create_check_constraint("role_known", f"role IN {roles!r}")


def upgrade() -> None:
    _roles(NEW_ROLES)
    op.create_table(
        "compliance_measure_status",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("framework", sa.String(40), nullable=False),
        sa.Column("edition", sa.String(40), nullable=False),
        sa.Column("measure_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_nl", sa.Text(), nullable=False, server_default=""),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("red_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("framework", "edition", "measure_id", name="measure_once"),
    )
    op.create_table(
        "compliance_evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "status_id",
            sa.Integer(),
            sa.ForeignKey("compliance_measure_status.id"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_compliance_evidence_status_id", "compliance_evidence", ["status_id"])


def downgrade() -> None:
    op.drop_index("ix_compliance_evidence_status_id", "compliance_evidence")
    op.drop_table("compliance_evidence")
    op.drop_table("compliance_measure_status")
    op.execute(sa.text("DELETE FROM users WHERE role = 'auditor'"))
    _roles(OLD_ROLES)
