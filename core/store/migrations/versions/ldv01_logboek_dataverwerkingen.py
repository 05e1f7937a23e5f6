"""Logboek Dataverwerkingen: activity URIs in the processing register, chain partners, streams.

Revision ID: ldv01
Revises: bio2_01
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ldv01"
down_revision: str | None = "bio2_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("breach_processing_activities") as batch:
        batch.add_column(sa.Column("uri", sa.String(500), nullable=True))
        batch.add_column(sa.Column("legal_basis", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("retention", sa.String(200), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("retired", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("requires_subject", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.create_index("ix_breach_processing_activities_uri", ["uri"])
    op.create_table(
        "ldv_partners",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("entity_uri", sa.String(500), nullable=False, unique=True),
        sa.Column("contact", sa.String(300), nullable=False),
        sa.Column("read_api", sa.String(500), nullable=True),
        sa.Column("agreed_activities", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ldv_streams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("system", sa.String(100), nullable=False, unique=True),
        sa.Column("expected_per_hour", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ldv_streams")
    op.drop_table("ldv_partners")
    with op.batch_alter_table("breach_processing_activities") as batch:
        batch.drop_index("ix_breach_processing_activities_uri")
        for column in ("requires_subject", "retired", "retention", "legal_basis", "uri"):
            batch.drop_column(column)
