"""Threat intelligence: indicators, warninglist entries, sources, sightings, version counter.

Revision ID: intel01
Revises: dpoex01
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intel01"
down_revision: str | None = "dpoex01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "intel_indicators",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("value", sa.String(2048), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=False),
        sa.Column("tlp", sa.String(20), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("techniques", _JSON, nullable=False),
        sa.Column("group_key", sa.String(200), nullable=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("type", "value", "source", name="uq_intel_indicator"),
    )
    for column in ("type", "value", "source", "last_seen", "valid_until", "group_key"):
        op.create_index(f"ix_intel_indicators_{column}", "intel_indicators", [column])
    op.create_table(
        "intel_warninglist_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("list_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(2048), nullable=False),
    )
    op.create_index(
        "ix_intel_warninglist_entries_list_name", "intel_warninglist_entries", ["list_name"]
    )
    op.create_table(
        "intel_sources",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("last_refresh_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_counts", _JSON, nullable=False),
        sa.Column("last_problems", _JSON, nullable=False),
    )
    op.create_table(
        "intel_sightings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("indicator_key", sa.String(2100), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("how", sa.String(20), nullable=False),
        sa.UniqueConstraint("indicator_key", "event_id", name="uq_intel_sighting"),
    )
    op.create_table(
        "intel_state",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("intel_state")
    op.drop_table("intel_sightings")
    op.drop_table("intel_sources")
    op.drop_index("ix_intel_warninglist_entries_list_name", "intel_warninglist_entries")
    op.drop_table("intel_warninglist_entries")
    for column in ("type", "value", "source", "last_seen", "valid_until", "group_key"):
        op.drop_index(f"ix_intel_indicators_{column}", "intel_indicators")
    op.drop_table("intel_indicators")
