"""Tables of the playbooks domain: incidents and what hangs off them, runs, steps, actions.

Created by the migration `0004_playbooks`. Timelines are not stored here: every change is
written to the audit log (`core.audit.record`) in the same transaction and read back from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Incident(Base):
    """A case the security team works; grouped from alerts or opened by hand."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_routing", "routing_key", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Grouping key of the routing rule that opened it; later alerts with the same key attach.
    routing_key: Mapped[str | None] = mapped_column(String(500))
    last_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    playbook_id: Mapped[str | None] = mapped_column(String(100))
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set for drill incidents: nothing about them may reach a real channel or authority.
    exercise_id: Mapped[str | None] = mapped_column(String(100))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Milestones for MTTA / MTTC / MTTR.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when closed (migration cases01): why (CLOSE_REASONS) and what was found.
    close_reason: Mapped[str | None] = mapped_column(String(32))
    close_summary: Mapped[str | None] = mapped_column(Text)
    # A merged incident points to the survivor; its alerts, observables and tasks moved there.
    merged_into: Mapped[int | None] = mapped_column(Integer)


class IncidentAlert(Base):
    """An alert grouped into an incident; an alert belongs to at most one incident."""

    __tablename__ = "incident_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    alert_id: Mapped[str] = mapped_column(String(64), unique=True)
    rule_id: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    alert_created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Comment(Base):
    """A note an analyst adds to an incident."""

    __tablename__ = "incident_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Observable(Base):
    """An indicator (ip, user, host, hash, domain, resident pseudonym), shared across incidents."""

    __tablename__ = "observables"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_observables_kind_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(500))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentObservable(Base):
    """Link of an observable to an incident; the basis of "seen in N other incidents"."""

    __tablename__ = "incident_observables"
    __table_args__ = (
        UniqueConstraint("incident_id", "observable_id", name="uq_incident_observables_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    observable_id: Mapped[int] = mapped_column(ForeignKey("observables.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(200))


class Evidence(Base):
    """A file kept for an incident: content-addressed by SHA-256, with who added it."""

    __tablename__ = "incident_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(1000))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdhocTask(Base):
    """A task a person adds to an incident (not from a playbook), completed with a note.

    Created by the migration `cases02`; moves with the incident when it is merged.
    """

    __tablename__ = "incident_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class PlaybookRun(Base):
    """One execution of a playbook for an incident; its steps are `RunStep` rows."""

    __tablename__ = "playbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    playbook_id: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the playbook file at start, so a later edit cannot silently change a run.
    playbook_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RunStep(Base):
    """A step of a run with its own state, SLA deadline, approval and result."""

    __tablename__ = "run_steps"
    __table_args__ = (UniqueConstraint("run_id", "step_id", name="uq_run_steps_run_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("playbook_runs.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    owner_role: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), index=True)
    # The step definition as validated at run start (checklist, action, params, options, ...).
    spec: Mapped[dict[str, Any]] = mapped_column(_JSON)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)


class ActionExecution(Base):
    """The idempotency record of an automated action, written before the action runs.

    `key` is unique per (run, step); a delivery of the same task after success returns
    `result` instead of running the Ansible play again.
    """

    __tablename__ = "action_executions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    run_step_id: Mapped[int] = mapped_column(ForeignKey("run_steps.id"), index=True)
    action: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """One notification to one channel (e-mail group or webhook) and its delivery state."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("key", name="uq_notification_deliveries_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    run_step_id: Mapped[int | None] = mapped_column(ForeignKey("run_steps.id"))
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Handoff(Base):
    """A request for another workflow (the DPO's breach workflow) to take an incident up.

    The breach domain reads pending rows through `playbooks.service.handoffs_pending()` and
    marks them taken with `accept_handoff()`; it never touches this table directly.
    """

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    run_step_id: Mapped[int | None] = mapped_column(ForeignKey("run_steps.id"))
    target: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_by: Mapped[str | None] = mapped_column(String(200))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
