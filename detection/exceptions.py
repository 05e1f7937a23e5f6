"""Alert exceptions and maintenance windows: allow-list entries and planned quiet periods.

`detection.alerts.decide` consults them for every candidate alert and counts what each one
suppressed (`suppressed`), so the exceptions page can show it. Every change is audited with
its reason; an exception is never deleted, it expires (and keeps its count).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import record
from core.clock import Clock, utc_iso
from core.errors import NotFoundError, ValidationError
from detection.models import MaintenanceWindow, RuleException


def add_exception(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    rule_id: str,
    conditions: Mapping[str, Any],
    reason: str,
    expires_at: datetime,
) -> RuleException:
    """Allow-list events of ``rule_id`` whose fields equal ``conditions`` until ``expires_at``."""
    if not rule_id.strip():
        raise ValidationError("rule_id", "must not be empty")
    if not conditions:
        raise ValidationError("conditions", "at least one field condition is required")
    clean: dict[str, list[str]] = {}
    for name, values in conditions.items():
        listed = values if isinstance(values, list | tuple) else [values]
        if not name or not listed or any(v is None for v in listed):
            raise ValidationError(f"conditions.{name}", "needs a field name and non-null values")
        clean[name] = [str(v) for v in listed]
    if not reason.strip():
        raise ValidationError("reason", "an exception needs a reason")
    if expires_at.tzinfo is None:
        raise ValidationError("expires_at", "must carry a time zone")
    if expires_at <= clock.now():
        raise ValidationError("expires_at", "must be in the future")
    row = RuleException(
        rule_id=rule_id,
        conditions=clean,
        reason=reason.strip(),
        expires_at=expires_at,
        created_by=actor,
        created_at=clock.now(),
        suppressed=0,
    )
    db.add(row)
    db.flush()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="detection.exception.add",
        object_type="detection_rule",
        object_id=rule_id,
        purpose=reason.strip()[:500],
        details={"exception_id": row.id, "conditions": clean, "expires_at": utc_iso(expires_at)},
    )
    return row


def list_exceptions(
    *, db: Session, clock: Clock, include_expired: bool = False
) -> list[RuleException]:
    """Exceptions by rule; expired ones only when asked (they no longer apply)."""
    query = select(RuleException).order_by(RuleException.rule_id, RuleException.id)
    if not include_expired:
        query = query.where(RuleException.expires_at > clock.now())
    return list(db.scalars(query))


def add_maintenance_window(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    host_name: str | None = None,
) -> MaintenanceWindow:
    """Suppress (but count) alerts about events in [starts_at, ends_at), optionally one host."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationError("starts_at/ends_at", "must carry a time zone")
    if ends_at <= starts_at:
        raise ValidationError("ends_at", "must be after starts_at")
    if not reason.strip():
        raise ValidationError("reason", "a maintenance window needs a reason")
    row = MaintenanceWindow(
        starts_at=starts_at,
        ends_at=ends_at,
        host_name=host_name.strip().lower() if host_name else None,
        reason=reason.strip(),
        created_by=actor,
        created_at=clock.now(),
        suppressed=0,
    )
    db.add(row)
    db.flush()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="detection.maintenance.add",
        object_type="detection_maintenance",
        object_id=str(row.id),
        purpose=reason.strip()[:500],
        details={"starts_at": utc_iso(starts_at), "ends_at": utc_iso(ends_at), "host": host_name},
    )
    return row


def list_maintenance_windows(*, db: Session) -> list[MaintenanceWindow]:
    return list(db.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at)))


def get_exception(*, db: Session, exception_id: int) -> RuleException:
    """The exception or NotFoundError."""
    row = db.get(RuleException, exception_id)
    if row is None:
        raise NotFoundError(f"exception {exception_id} does not exist")
    return row


def edit_exception(
    *,
    db: Session,
    clock: Clock,
    actor: str,
    exception_id: int,
    reason: str,
    expires_at: datetime,
) -> RuleException:
    """Change an exception's reason and expiry (audited with before and after)."""
    row = get_exception(db=db, exception_id=exception_id)
    if not reason.strip():
        raise ValidationError("reason", "an exception needs a reason")
    if expires_at.tzinfo is None:
        raise ValidationError("expires_at", "must carry a time zone")
    if expires_at <= clock.now():
        raise ValidationError("expires_at", "must be in the future (use expire to end it now)")
    before = {"reason": row.reason, "expires_at": utc_iso(row.expires_at)}
    row.reason, row.expires_at = reason.strip()[:500], expires_at
    db.flush()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="detection.exception.edit",
        object_type="detection_rule",
        object_id=row.rule_id,
        purpose=row.reason,
        details={
            "exception_id": row.id,
            "before": before,
            "after": {"reason": row.reason, "expires_at": utc_iso(expires_at)},
        },
    )
    return row


def expire_exception(
    *, db: Session, clock: Clock, actor: str, exception_id: int, reason: str
) -> RuleException:
    """End an exception now: matching events raise alerts again (audited)."""
    row = get_exception(db=db, exception_id=exception_id)
    if not reason.strip():
        raise ValidationError("reason", "say why the exception ends")
    if row.expires_at <= clock.now():
        raise ValidationError("exception", f"exception {row.id} has already expired")
    row.expires_at = clock.now()
    db.flush()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="detection.exception.expire",
        object_type="detection_rule",
        object_id=row.rule_id,
        purpose=reason.strip()[:500],
        details={"exception_id": row.id, "suppressed": row.suppressed},
    )
    return row


def end_maintenance_window(
    *, db: Session, clock: Clock, actor: str, window_id: int, reason: str
) -> MaintenanceWindow:
    """End a maintenance window now (audited)."""
    row = db.get(MaintenanceWindow, window_id)
    if row is None:
        raise NotFoundError(f"maintenance window {window_id} does not exist")
    if not reason.strip():
        raise ValidationError("reason", "say why the window ends")
    now = clock.now()
    if row.ends_at <= now or row.ends_at <= row.starts_at:  # ended, or ended before it began
        raise ValidationError("window", f"maintenance window {row.id} has already ended")
    row.ends_at = max(now, row.starts_at)
    db.flush()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="detection.maintenance.end",
        object_type="detection_maintenance",
        object_id=str(row.id),
        purpose=reason.strip()[:500],
        details={"suppressed": row.suppressed},
    )
    return row
