"""Tables of the drills domain: schedules, exercises, injects, expectations, notes, reports.

Created by the migration `drills01_exercises`. Every row carries the exercise id (except
schedules, which create exercises), so `drills.rollback` can find all of it. `DrillLock` is
the database's guarantee that one exercise series never runs twice at once: its primary key
is the series, and a second start fails on the insert, whatever process tries it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, Integer, LargeBinary, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class DrillSchedule(Base):
    """A planned drill: one-off (`every_seconds` None) or recurring, e.g. each quarter."""

    __tablename__ = "drill_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    every_seconds: Mapped[float | None] = mapped_column(Float)
    time_scale: Mapped[float] = mapped_column(Float, default=1.0)
    # [{"role": "ciso", "name": "...", "email": "..."}]; mail only goes to these addresses.
    participants: Mapped[list[Any]] = mapped_column(_JSON, default=list)
    controller: Mapped[str] = mapped_column(String(200))
    criteria: Mapped[list[Any]] = mapped_column(_JSON, default=list)
    reminder_hours: Mapped[float] = mapped_column(Float, default=24.0)
    invited_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_exercise_id: Mapped[str | None] = mapped_column(String(100))
    last_outcome: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Exercise(Base):
    """One run of a scenario; its id tags every artefact it creates."""

    __tablename__ = "drill_exercises"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    series: Mapped[str] = mapped_column(String(100), index=True)
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    scenario_id: Mapped[str] = mapped_column(String(100))
    scenario_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    controller: Mapped[str] = mapped_column(String(200))
    participants: Mapped[list[Any]] = mapped_column(_JSON, default=list)
    time_scale: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Scenario seconds played before the current run segment (pauses stop the scenario clock).
    played_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    segment_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grip_level: Mapped[int] = mapped_column(Integer, default=0)
    criteria: Mapped[list[Any]] = mapped_column(_JSON, default=list)
    criteria_sha256: Mapped[str | None] = mapped_column(String(64))
    criteria_frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DrillLock(Base):
    """Held while an exercise of `series` runs; the primary key refuses a second holder."""

    __tablename__ = "drill_locks"

    series: Mapped[str] = mapped_column(String(100), primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReleasedInject(Base):
    """An MSEL inject that reached its players (dashboard, e-mail, or the collectors)."""

    __tablename__ = "drill_injects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100), index=True)
    inject_id: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(16))
    roles: Mapped[list[Any]] = mapped_column(_JSON, default=list)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime())
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    events_injected: Mapped[int] = mapped_column(Integer, default=0)
    mails_sent: Mapped[int] = mapped_column(Integer, default=0)


class Expectation(Base):
    """Who should do what by when; met or missed, by the controller or automatically."""

    __tablename__ = "drill_expectations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100), index=True)
    expectation_id: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(40))
    metric: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    within_minutes: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Scenario minutes from start to the moment it was met (what the criteria compare).
    minutes_taken: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    marked_by: Mapped[str | None] = mapped_column(String(200))


class Entry(Base):
    """A participant's decision or action, a controller note, or a hot-wash note."""

    __tablename__ = "drill_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(40))
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    sensitive: Mapped[bool] = mapped_column(Boolean, default=True)


class Outbox(Base):
    """Every drill e-mail, sent or refused, so isolation can be shown afterwards."""

    __tablename__ = "drill_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exercise_id: Mapped[str | None] = mapped_column(String(100), index=True)
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class LessonAction(Base):
    """A lesson learned turned into a tracked improvement action (kept after rollback)."""

    __tablename__ = "drill_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100), index=True)
    lesson: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Report(Base):
    """The after-action report; the one artefact a rollback keeps, with the lesson actions."""

    __tablename__ = "drill_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    summary: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    public_html: Mapped[str] = mapped_column(Text)
    # The English version beside the Dutch one above (None for reports built before dpoex01).
    html_en: Mapped[str | None] = mapped_column(Text)
    pdf_en: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_html_en: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
