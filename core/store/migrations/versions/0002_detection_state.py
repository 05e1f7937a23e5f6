"""Detection state: rule flags and counters, correlation windows, dedup, exceptions, maintenance.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "detection_rule_state",
        sa.Column("rule_id", sa.String(200), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("hits", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("cost_ns", sa.BigInteger(), nullable=False, server_default="0"),
        _time("last_hit_at", nullable=True),
        sa.Column("lucene", sa.Text(), nullable=True),
        sa.Column("lucene_error", sa.Text(), nullable=True),
        _time("updated_at"),
    )
    op.create_table(
        "detection_correlation_state",
        sa.Column("correlation_id", sa.String(200), primary_key=True),
        sa.Column("group_hash", sa.String(64), primary_key=True),
        sa.Column("state", _json(), nullable=False),
        _time("updated_at"),
    )
    op.create_table(
        "detection_runtime",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", _json(), nullable=False),
        _time("updated_at"),
    )
    op.create_table(
        "detection_alert_dedup",
        sa.Column("rule_id", sa.String(200), primary_key=True),
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("key_values", _json(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
        _time("first_seen"),
        _time("last_seen"),
        _time("expires_at"),
    )
    op.create_index("ix_detection_alert_dedup_expires_at", "detection_alert_dedup", ["expires_at"])
    op.create_table(
        "detection_exceptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("conditions", _json(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        _time("expires_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at"),
        sa.Column("suppressed", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_detection_exceptions_rule_id", "detection_exceptions", ["rule_id"])
    op.create_table(
        "detection_maintenance_windows",
        sa.Column("id", sa.Integer(), primary_key=True),
        _time("starts_at"),
        _time("ends_at"),
        sa.Column("host_name", sa.String(255), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at"),
        sa.Column("suppressed", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_detection_maintenance_windows_ends_at", "detection_maintenance_windows", ["ends_at"]
    )
    op.create_table(
        "detection_alert_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("dedup_rule_id", sa.String(200), nullable=True),
        sa.Column("dedup_key_hash", sa.String(64), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=True),
        _time("created_at"),
        sa.UniqueConstraint("fingerprint", name="uq_detection_alert_outbox_fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("detection_alert_outbox")
    op.drop_index(
        "ix_detection_maintenance_windows_ends_at", table_name="detection_maintenance_windows"
    )
    op.drop_table("detection_maintenance_windows")
    op.drop_index("ix_detection_exceptions_rule_id", table_name="detection_exceptions")
    op.drop_table("detection_exceptions")
    op.drop_index("ix_detection_alert_dedup_expires_at", table_name="detection_alert_dedup")
    op.drop_table("detection_alert_dedup")
    op.drop_table("detection_runtime")
    op.drop_table("detection_correlation_state")
    op.drop_table("detection_rule_state")
