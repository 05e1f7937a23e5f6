"""Breach workflow: register, change history, reminders, reports, letters, processing register.

Revision ID: breach01
Revises: 0004_playbooks
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "breach01"
down_revision: str | None = "0004_playbooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=False, server_default="")


def upgrade() -> None:
    op.create_table(
        "breach_breaches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("exercise_id", sa.String(100), nullable=True),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("origin_ref", sa.String(200), nullable=True),
        sa.Column("systems", _json(), nullable=False),
        _text("facts"),
        _text("cause"),
        _text("effects"),
        _text("remedial_actions"),
        sa.Column("breach_types", _json(), nullable=False),
        sa.Column("data_categories", _json(), nullable=False),
        sa.Column("special_categories", _json(), nullable=False),
        sa.Column("subject_categories", _json(), nullable=False),
        _text("vulnerable_groups"),
        sa.Column("subjects_min", sa.Integer(), nullable=True),
        sa.Column("subjects_max", sa.Integer(), nullable=True),
        sa.Column("records_estimate", sa.Integer(), nullable=True),
        _text("unintelligible"),
        sa.Column("cross_border", sa.Boolean(), nullable=True),
        _text("other_parties"),
        _time("started_at"),
        _time("discovered_at"),
        _time("aware_at", nullable=False),
        _time("ended_at"),
        sa.Column("ongoing", sa.Boolean(), nullable=True),
        sa.Column("assessment", _json(), nullable=True),
        sa.Column("decision", sa.String(40), nullable=True),
        _text("decision_reason"),
        sa.Column("decided_by", sa.String(200), nullable=True),
        _time("decided_at"),
        _text("subjects_informed"),
        _text("delay_reason"),
        sa.Column("nis2_applies", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.UniqueConstraint("reference", name="uq_breach_breaches_reference"),
    )
    op.create_index("ix_breach_breaches_state", "breach_breaches", ["state"])
    op.create_index("ix_breach_breaches_exercise_id", "breach_breaches", ["exercise_id"])
    op.create_index("ix_breach_breaches_aware_at", "breach_breaches", ["aware_at"])
    op.create_table(
        "breach_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "breach_id",
            sa.Integer(),
            sa.ForeignKey("breach_breaches.id", name="fk_breach_changes_breach_id_breach_breaches"),
            nullable=False,
        ),
        _time("at", nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("field", sa.String(60), nullable=True),
        sa.Column("before", _json(), nullable=True),
        sa.Column("after", _json(), nullable=True),
        _text("note"),
    )
    op.create_index("ix_breach_changes_breach_id", "breach_changes", ["breach_id"])
    op.create_table(
        "breach_reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "breach_id",
            sa.Integer(),
            sa.ForeignKey(
                "breach_breaches.id", name="fk_breach_reminders_breach_id_breach_breaches"
            ),
            nullable=False,
        ),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("clock", sa.String(40), nullable=False),
        _time("due_at", nullable=False),
        _time("fired_at"),
        sa.Column("outcome", sa.String(200), nullable=True),
        sa.UniqueConstraint("breach_id", "key", name="uq_breach_reminders_breach_reminder_once"),
    )
    op.create_index("ix_breach_reminders_breach_id", "breach_reminders", ["breach_id"])
    op.create_index("ix_breach_reminders_due_at", "breach_reminders", ["due_at"])
    op.create_table(
        "breach_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "breach_id",
            sa.Integer(),
            sa.ForeignKey("breach_breaches.id", name="fk_breach_reports_breach_id_breach_breaches"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column(
            "parent_id",
            sa.Integer(),
            sa.ForeignKey("breach_reports.id", name="fk_breach_reports_parent_id_breach_reports"),
            nullable=True,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("content", _json(), nullable=False),
        sa.Column("authority_reference", sa.String(100), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("finalised_by", sa.String(200), nullable=True),
        _time("finalised_at"),
        _text("withdrawn_reason"),
    )
    op.create_index("ix_breach_reports_breach_id", "breach_reports", ["breach_id"])
    op.create_table(
        "breach_letter_batches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "breach_id",
            sa.Integer(),
            sa.ForeignKey(
                "breach_breaches.id", name="fk_breach_letter_batches_breach_id_breach_breaches"
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("texts", _json(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        _time("approved_at"),
        _time("released_at"),
    )
    op.create_index("ix_breach_letter_batches_breach_id", "breach_letter_batches", ["breach_id"])
    op.create_table(
        "breach_letter_recipients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey(
                "breach_letter_batches.id",
                name="fk_breach_letter_recipients_batch_id_breach_letter_batches",
            ),
            nullable=False,
        ),
        sa.Column("identifier", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False, server_default=""),
        sa.Column("postcode", sa.String(20), nullable=False, server_default=""),
        sa.Column("city", sa.String(100), nullable=False, server_default=""),
        sa.Column("email", sa.String(200), nullable=False, server_default=""),
        sa.Column("pseudonym", sa.String(100), nullable=False, server_default=""),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("data_items", _json(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=True),
        _time("sent_at"),
        sa.Column("content_sha256", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_breach_letter_recipients_batch_id", "breach_letter_recipients", ["batch_id"]
    )
    op.create_table(
        "breach_processing_systems",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        _text("description"),
        sa.Column("sources", _json(), nullable=False),
        sa.UniqueConstraint("name", name="uq_breach_processing_systems_name"),
    )
    op.create_table(
        "breach_processing_activities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "system_id",
            sa.Integer(),
            sa.ForeignKey(
                "breach_processing_systems.id",
                # PostgreSQL cuts identifiers at 63 characters: keep the name short and stable.
                name="fk_breach_processing_activities_system_id_breach_proce_d379d2ef",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        _text("purpose"),
        sa.Column("data_categories", _json(), nullable=False),
        sa.Column("special_categories", _json(), nullable=False),
        sa.Column("subject_categories", _json(), nullable=False),
        sa.Column("typical_subjects", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("typical_records", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint(
            "system_id", "name", name="uq_breach_processing_activities_breach_activity_name"
        ),
    )
    op.create_index(
        "ix_breach_processing_activities_system_id", "breach_processing_activities", ["system_id"]
    )


def downgrade() -> None:
    for table in (
        "breach_processing_activities",
        "breach_processing_systems",
        "breach_letter_recipients",
        "breach_letter_batches",
        "breach_reports",
        "breach_reminders",
        "breach_changes",
        "breach_breaches",
    ):
        op.drop_table(table)
