"""Drills: schedules, exercises, run locks, injects, expectations, notes, mail, actions, reports.

Revision ID: drills01
Revises: dashboard01
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "drills01"
down_revision: str | None = "dashboard01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _int_id(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


# (table, column) pairs with a plain index, named like the models' naming convention.
INDEXES = (
    ("drill_schedules", "next_run_at"),
    ("drill_exercises", "series"),
    ("drill_exercises", "status"),
    ("drill_injects", "exercise_id"),
    ("drill_expectations", "exercise_id"),
    ("drill_entries", "exercise_id"),
    ("drill_mail", "exercise_id"),
    ("drill_actions", "exercise_id"),
    ("drill_reports", "exercise_id"),
)


def upgrade() -> None:
    op.create_table(
        "drill_schedules",
        *_int_id("drill_schedules"),
        _str("scenario_id", 100),
        _str("mode", 16),
        _str("title", 300),
        _time("next_run_at"),
        sa.Column("every_seconds", sa.Float(), nullable=True),
        sa.Column("time_scale", sa.Float(), nullable=False),
        sa.Column("participants", _json(), nullable=False),
        _str("controller", 200),
        sa.Column("criteria", _json(), nullable=False),
        sa.Column("reminder_hours", sa.Float(), nullable=False),
        _time("invited_for"),
        _time("reminded_for"),
        sa.Column("active", sa.Boolean(), nullable=False),
        _str("last_exercise_id", 100, nullable=True),
        _str("last_outcome", 300, nullable=True),
        _time("created_at", nullable=False),
    )
    op.create_table(
        "drill_exercises",
        _str("id", 100),
        sa.PrimaryKeyConstraint("id", name="pk_drill_exercises"),
        _str("series", 100),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        _str("scenario_id", 100),
        _str("scenario_sha256", 64),
        _str("title", 300),
        _str("mode", 16),
        _str("status", 16),
        _str("controller", 200),
        sa.Column("participants", _json(), nullable=False),
        sa.Column("time_scale", sa.Float(), nullable=False),
        _time("created_at", nullable=False),
        _time("started_at"),
        sa.Column("played_seconds", sa.Float(), nullable=False),
        _time("segment_started_at"),
        _time("stopped_at"),
        sa.Column("grip_level", sa.Integer(), nullable=False),
        sa.Column("criteria", _json(), nullable=False),
        _str("criteria_sha256", 64, nullable=True),
        _time("criteria_frozen_at"),
        _time("rolled_back_at"),
    )
    op.create_table(
        "drill_locks",
        _str("series", 100),
        sa.PrimaryKeyConstraint("series", name="pk_drill_locks"),
        _str("exercise_id", 100),
        _time("taken_at", nullable=False),
    )
    op.create_table(
        "drill_injects",
        *_int_id("drill_injects"),
        _str("exercise_id", 100),
        _str("inject_id", 50),
        _str("kind", 16),
        sa.Column("roles", _json(), nullable=False),
        _time("released_at", nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("events_injected", sa.Integer(), nullable=False),
        sa.Column("mails_sent", sa.Integer(), nullable=False),
    )
    op.create_table(
        "drill_expectations",
        *_int_id("drill_expectations"),
        _str("exercise_id", 100),
        _str("expectation_id", 50),
        _str("kind", 20),
        _str("role", 40),
        _str("metric", 20, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("within_minutes", sa.Float(), nullable=False),
        _str("status", 10),
        _time("met_at"),
        sa.Column("minutes_taken", sa.Float(), nullable=True),
        _str("evidence", 300, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _str("marked_by", 200, nullable=True),
    )
    op.create_table(
        "drill_entries",
        *_int_id("drill_entries"),
        _str("exercise_id", 100),
        _str("kind", 16),
        _str("role", 40, nullable=True),
        _str("author", 200),
        sa.Column("text", sa.Text(), nullable=False),
        _time("at", nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "drill_mail",
        *_int_id("drill_mail"),
        _str("exercise_id", 100, nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        _str("purpose", 20),
        _str("recipient", 320),
        _str("subject", 300),
        _str("status", 20),
        _str("reason", 300, nullable=True),
        _time("at", nullable=False),
    )
    op.create_table(
        "drill_actions",
        *_int_id("drill_actions"),
        _str("exercise_id", 100),
        sa.Column("lesson", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        _str("owner", 200),
        sa.Column("due_on", sa.Date(), nullable=False),
        _str("status", 16),
        _time("created_at", nullable=False),
        _time("closed_at"),
    )
    op.create_table(
        "drill_reports",
        *_int_id("drill_reports"),
        _str("exercise_id", 100),
        _time("created_at", nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("summary", _json(), nullable=False),
        sa.Column("public_html", sa.Text(), nullable=False),
        _time("published_at"),
    )
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in INDEXES:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in (
        "drill_reports",
        "drill_actions",
        "drill_mail",
        "drill_entries",
        "drill_expectations",
        "drill_injects",
        "drill_locks",
        "drill_exercises",
        "drill_schedules",
    ):
        op.drop_table(table)
