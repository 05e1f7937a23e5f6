"""Playbooks: incidents, alerts, comments, observables, evidence, runs, actions, deliveries.

Revision ID: 0004_playbooks
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_playbooks"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(table: str) -> tuple[sa.Column[object], sa.PrimaryKeyConstraint]:
    return sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(
        "id", name=f"pk_{table}"
    )


def _fk(
    table: str, column: str, target: str, *, nullable: bool = False
) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column(column, sa.Integer(), nullable=nullable),
        sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}"),
    ]


# (table, column) pairs with a plain index, named like the models' naming convention.
INDEXES = (
    ("incidents", "status"),
    ("incidents", "created_at"),
    ("incident_alerts", "incident_id"),
    ("incident_comments", "incident_id"),
    ("incident_observables", "incident_id"),
    ("incident_observables", "observable_id"),
    ("incident_evidence", "incident_id"),
    ("playbook_runs", "incident_id"),
    ("playbook_runs", "status"),
    ("run_steps", "run_id"),
    ("run_steps", "status"),
    ("action_executions", "run_step_id"),
    ("notification_deliveries", "incident_id"),
    ("handoffs", "incident_id"),
)


def upgrade() -> None:
    op.create_table(
        "incidents",
        *_id("incidents"),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("routing_key", sa.String(500), nullable=True),
        _time("last_alert_at", nullable=True),
        sa.Column("playbook_id", sa.String(100), nullable=True),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("exercise_id", sa.String(100), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        _time("acknowledged_at", nullable=True),
        _time("contained_at", nullable=True),
        _time("closed_at", nullable=True),
    )
    op.create_index("ix_incidents_routing", "incidents", ["routing_key", "status"])
    op.create_table(
        "incident_alerts",
        *_id("incident_alerts"),
        *_fk("incident_alerts", "incident_id", "incidents"),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        _time("alert_created_at"),
        _time("added_at"),
        sa.UniqueConstraint("alert_id", name="uq_incident_alerts_alert_id"),
    )
    op.create_table(
        "incident_comments",
        *_id("incident_comments"),
        *_fk("incident_comments", "incident_id", "incidents"),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _time("created_at"),
    )
    op.create_table(
        "observables",
        *_id("observables"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        _time("first_seen"),
        sa.UniqueConstraint("kind", "value", name="uq_observables_kind_value"),
    )
    op.create_table(
        "incident_observables",
        *_id("incident_observables"),
        *_fk("incident_observables", "incident_id", "incidents"),
        *_fk("incident_observables", "observable_id", "observables"),
        _time("added_at"),
        sa.Column("source", sa.String(200), nullable=False),
        sa.UniqueConstraint("incident_id", "observable_id", name="uq_incident_observables_pair"),
    )
    op.create_table(
        "incident_evidence",
        *_id("incident_evidence"),
        *_fk("incident_evidence", "incident_id", "incidents"),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("added_by", sa.String(200), nullable=False),
        _time("added_at"),
    )
    op.create_table(
        "playbook_runs",
        *_id("playbook_runs"),
        *_fk("playbook_runs", "incident_id", "incidents"),
        sa.Column("playbook_id", sa.String(100), nullable=False),
        sa.Column("playbook_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        _time("started_at"),
        _time("finished_at", nullable=True),
    )
    op.create_table(
        "run_steps",
        *_id("run_steps"),
        *_fk("run_steps", "run_id", "playbook_runs"),
        sa.Column("step_id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("owner_role", sa.String(32), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        _time("started_at", nullable=True),
        _time("due_at", nullable=True),
        _time("completed_at", nullable=True),
        sa.Column("completed_by", sa.String(200), nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", _json(), nullable=False),
        sa.UniqueConstraint("run_id", "step_id", name="uq_run_steps_run_step"),
    )
    op.create_table(
        "action_executions",
        *_id("action_executions"),
        sa.Column("key", sa.String(200), nullable=False),
        *_fk("action_executions", "run_step_id", "run_steps"),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("started_at"),
        _time("finished_at", nullable=True),
        sa.Column("result", _json(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("key", name="uq_action_executions_key"),
    )
    op.create_table(
        "notification_deliveries",
        *_id("notification_deliveries"),
        sa.Column("key", sa.String(200), nullable=False),
        *_fk("notification_deliveries", "incident_id", "incidents"),
        *_fk("notification_deliveries", "run_step_id", "run_steps", nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("created_at"),
        _time("sent_at", nullable=True),
        sa.UniqueConstraint("key", name="uq_notification_deliveries_key"),
    )
    op.create_table(
        "handoffs",
        *_id("handoffs"),
        *_fk("handoffs", "incident_id", "incidents"),
        *_fk("handoffs", "run_step_id", "run_steps", nullable=True),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        _time("requested_at"),
        sa.Column("accepted_by", sa.String(200), nullable=True),
        _time("accepted_at", nullable=True),
    )
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.drop_index("ix_incidents_routing", table_name="incidents")
    for table in (
        "handoffs",
        "notification_deliveries",
        "action_executions",
        "run_steps",
        "playbook_runs",
        "incident_evidence",
        "incident_observables",
        "observables",
        "incident_comments",
        "incident_alerts",
        "incidents",
    ):
        op.drop_table(table)
