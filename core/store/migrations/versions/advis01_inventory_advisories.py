"""Software inventory, CSAF advisories and their matches; log sources that must be sending.

Revision ID: advis01
Revises: requests01
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "advis01"
down_revision: str | None = "requests01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inventory_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ref", sa.String(500), nullable=False, unique=True),
        sa.Column("vendor", sa.String(200), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("cpe", sa.String(500), nullable=True),
        sa.Column("purl", sa.String(500), nullable=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("exposure", sa.String(20), nullable=False),
        sa.Column("log_source", sa.String(64), nullable=True),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "advisories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tracking_id", sa.String(300), nullable=False),
        sa.Column("publisher", sa.String(300), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("severity_text", sa.String(300), nullable=True),
        sa.Column("cves", _json(), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("publisher", "tracking_id"),
    )
    op.create_table(
        "advisory_matches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("advisory_id", sa.Integer(), sa.ForeignKey("advisories.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("inventory_items.id"), nullable=False),
        sa.Column("product_id", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("matched_by", sa.String(20), nullable=False),
        sa.Column("cves", _json(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.String(200), nullable=True),
        sa.Column("accepted_reason", sa.Text(), nullable=True),
        sa.Column("accepted_until", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("advisory_id", "item_id"),
    )
    op.create_index("ix_advisory_matches_advisory_id", "advisory_matches", ["advisory_id"])
    op.create_index("ix_advisory_matches_item_id", "advisory_matches", ["item_id"])
    op.create_table(
        "expected_sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("max_silence_minutes", sa.Integer(), nullable=False),
        sa.Column("expected_per_hour", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mark_count", sa.Integer(), nullable=True),
        sa.Column("mark_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("low_alerted_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("expected_sources")
    op.drop_index("ix_advisory_matches_item_id", "advisory_matches")
    op.drop_index("ix_advisory_matches_advisory_id", "advisory_matches")
    op.drop_table("advisory_matches")
    op.drop_table("advisories")
    op.drop_table("inventory_items")
