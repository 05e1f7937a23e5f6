"""Detection's relational tables (migration 0002): rule state, correlation windows, alert hygiene.

Everything here must survive a restart: which rules are disabled, per-rule hit counters and
cost, the open correlation windows, the dedup groups that fold repeats into one alert, analysts'
exceptions and maintenance windows, and the outbox of alerts decided but not yet stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.store.relational import Base, UTCDateTime

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class RuleState(Base):
    """Per rule: enabled flag, hit counter, matching cost and its stored Lucene query."""

    __tablename__ = "detection_rule_state"

    rule_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lucene: Mapped[str | None] = mapped_column(Text)
    lucene_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CorrelationWindow(Base):
    """The open window of one (correlation rule, group-by values): entries and fired spans."""

    __tablename__ = "detection_correlation_state"

    correlation_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    group_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(_JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RuntimeValue(Base):
    """Small named values of the detection stream (the event-time watermark)."""

    __tablename__ = "detection_runtime"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(_JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DedupGroup(Base):
    """Repeats of one rule with the same key values fold into the alert ``alert_id``."""

    __tablename__ = "detection_alert_dedup"

    rule_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_values: Mapped[dict[str, Any]] = mapped_column(_JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[str | None] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RuleException(Base):
    """An allow-list entry: events of ``rule_id`` matching ``conditions`` raise no alert."""

    __tablename__ = "detection_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(200), index=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(_JSON)
    reason: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    suppressed: Mapped[int] = mapped_column(BigInteger, default=0)


class MaintenanceWindow(Base):
    """A planned time range (optionally one host) whose alerts are suppressed but counted."""

    __tablename__ = "detection_maintenance_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    host_name: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    suppressed: Mapped[int] = mapped_column(BigInteger, default=0)


class AlertOutbox(Base):
    """Alerts decided in the same transaction as the state that decided them, not yet stored.

    The alert store is another database; writing the decision here first means a crash between
    the two writes neither loses the alert nor (thanks to ``fingerprint``) stores it twice.
    Delivered rows keep their ``alert_id`` for a day, so a batch the spool redelivers after a
    crash does not raise its alerts again.
    """

    __tablename__ = "detection_alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    dedup_rule_id: Mapped[str | None] = mapped_column(String(200))
    dedup_key_hash: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(_JSON)
    alert_id: Mapped[str | None] = mapped_column(String(64))  # set once stored; kept a while
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
