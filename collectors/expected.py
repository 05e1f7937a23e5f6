"""Log sources that must be sending, and the scheduled check that raises an alert when one
is missing or has gone silent.

The silence test is the one `collectors.metrics.source_status` applies to every source; an
expected source adds its own limit (`max_silence_minutes`) and is listed even when the spool
never saw it, so "never arrived" is as loud as "stopped". The check raises one alert per
silence (rule id `dijkwacht.source-silent`, level high) straight into the alert store, marks
the source (`alerted_at`) and clears the mark when the source sends again, so the next silence
alerts again. A source with an expected volume (records per hour) that delivers fewer than
half of it over an hour raises one `dijkwacht.source-low-volume` alert the same way. Sources
come from inventory items (their `log_source`) or are added by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors.metrics import SourceStatus, source_status
from collectors.models import ExpectedSource
from collectors.spool import SourceCounters
from core import audit
from core.clock import Clock, utc_iso
from core.errors import NotFoundError, ValidationError
from core.store.base import AlertStore, NewAlert

RULE_ID = "dijkwacht.source-silent"
LOW_VOLUME_RULE_ID = "dijkwacht.source-low-volume"
VOLUME_WINDOW = timedelta(hours=1)
LOW_VOLUME_FRACTION = 0.5  # fewer than half the expected records per hour is "low"
MAX_SILENCE_MINUTES = 7 * 24 * 60
ORIGINS = ("manual", "inventory")


def _check(name: str, max_silence_minutes: int, expected_per_hour: int | None) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("name", "must not be empty")
    if len(name) > 64:
        raise ValidationError("name", "longer than 64 characters")
    if not 1 <= max_silence_minutes <= MAX_SILENCE_MINUTES:
        raise ValidationError("max_silence_minutes", f"must be between 1 and {MAX_SILENCE_MINUTES}")
    if expected_per_hour is not None and expected_per_hour < 0:
        raise ValidationError("expected_per_hour", "must not be negative")
    return name


def expect_source(
    *,
    db: Session,
    clock: Clock,
    name: str,
    max_silence_minutes: int,
    actor: str,
    expected_per_hour: int | None = None,
    origin: str = "manual",
    note: str | None = None,
) -> ExpectedSource:
    """Add the source to the list, or change its limits; audited."""
    name = _check(name, max_silence_minutes, expected_per_hour)
    if origin not in ORIGINS:
        raise ValidationError("origin", f"must be one of {', '.join(ORIGINS)}")
    row = db.scalar(select(ExpectedSource).where(ExpectedSource.name == name))
    if row is None:
        row = ExpectedSource(name=name, created_by=actor[:200], created_at=clock.now())
        db.add(row)
    row.max_silence_minutes = max_silence_minutes
    row.expected_per_hour = expected_per_hour
    row.origin = origin
    row.note = (note or "").strip()[:2000] or None
    db.flush()
    audit.record(
        db=db, clock=clock, actor=actor, action="collectors.source_expected",
        object_type="expected_source", object_id=name,
        details={"max_silence_minutes": max_silence_minutes, "origin": origin,
                 "expected_per_hour": expected_per_hour},
    )  # fmt: skip
    return row


def forget_source(*, db: Session, clock: Clock, name: str, actor: str) -> None:
    """Take a source off the list (it is no longer expected); audited."""
    row = db.scalar(select(ExpectedSource).where(ExpectedSource.name == name))
    if row is None:
        raise NotFoundError(f"no expected source named {name!r}")
    db.delete(row)
    db.flush()
    audit.record(
        db=db, clock=clock, actor=actor, action="collectors.source_forgotten",
        object_type="expected_source", object_id=name,
    )  # fmt: skip


def list_expected(*, db: Session) -> list[ExpectedSource]:
    """Every expected source, by name."""
    return list(db.scalars(select(ExpectedSource).order_by(ExpectedSource.name)))


def silence_limits(*, db: Session) -> dict[str, timedelta]:
    """Each expected source's maximum silence, for `source_status(expected=...)`."""
    return {row.name: timedelta(minutes=row.max_silence_minutes) for row in list_expected(db=db)}


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What one check found: sources alerted now, and those still silent from before."""

    alerted: list[str]
    still_silent: list[str]
    recovered: list[str]
    low_volume: list[str] = field(default_factory=list)


def check_expected(
    *,
    db: Session,
    clock: Clock,
    counters: Sequence[SourceCounters],
    alert_store: AlertStore,
    silent_after: timedelta,
) -> CheckReport:
    """Raise an alert for each expected source that is missing or silent (once per silence)."""
    now = clock.now()
    rows = {row.name: row for row in list_expected(db=db)}
    limits = {name: timedelta(minutes=row.max_silence_minutes) for name, row in rows.items()}
    statuses = source_status(counters=counters, now=now, silent_after=silent_after, expected=limits)
    alerted: list[str] = []
    still: list[str] = []
    recovered: list[str] = []
    new: list[NewAlert] = []
    low: list[str] = []
    for status in statuses:
        row = rows.get(status.counters.source)
        if row is None:
            continue
        volume_alert = _volume(row, status, now)
        if volume_alert is not None:
            new.append(volume_alert)
            low.append(row.name)
        if not status.silent:
            if row.alerted_at is not None:
                row.alerted_at = None
                recovered.append(row.name)
            continue
        if row.alerted_at is not None:
            still.append(row.name)
            continue
        new.append(_alert(row, status, now))
        row.alerted_at = now
        alerted.append(row.name)
    if new:
        alert_store.add_batch(new)
    db.flush()
    return CheckReport(alerted, still, recovered, low)


def _volume(row: ExpectedSource, status: SourceStatus, now: datetime) -> NewAlert | None:
    """Once an hour, compare what arrived with `expected_per_hour`; one alert per low spell."""
    if row.expected_per_hour is None or status.missing:
        return None
    received = status.counters.received
    if row.mark_at is None or row.mark_count is None or received < row.mark_count:
        row.mark_at, row.mark_count = now, received  # first look, or a new spool file
        return None
    elapsed = now - row.mark_at
    if elapsed < VOLUME_WINDOW:
        return None
    per_hour = (received - row.mark_count) / (elapsed / VOLUME_WINDOW)
    row.mark_at, row.mark_count = now, received
    if per_hour >= row.expected_per_hour * LOW_VOLUME_FRACTION:
        row.low_alerted_at = None
        return None
    if row.low_alerted_at is not None or status.silent:
        return None  # already said, or the silence alert says more
    row.low_alerted_at = now
    title = f"Log source {row.name} sends {per_hour:.0f}/h, expected {row.expected_per_hour}/h"
    return NewAlert(
        rule_id=LOW_VOLUME_RULE_ID,
        rule_title=title,
        level="medium",
        created_at=now,
        body={
            "kind": "source_low_volume", "tags": ["dijkwacht.collectors"], "event_ids": [],
            "dijkwacht.personal_data": False, "event_time": utc_iso(now), "count": 1,
            "source": row.name, "per_hour": round(per_hour, 1),
            "expected_per_hour": row.expected_per_hour, "origin": row.origin,
        },
    )  # fmt: skip


def _alert(row: ExpectedSource, status: SourceStatus, now: datetime) -> NewAlert:
    last = status.counters.last_seen
    if last is None:
        title = f"Log source {row.name} never arrived"
    else:
        title = f"Log source {row.name} silent since {utc_iso(last)}"
    return NewAlert(
        rule_id=RULE_ID,
        rule_title=title,
        level="high",
        created_at=now,
        body={
            "kind": "source_silent",
            "tags": ["dijkwacht.collectors"],
            "event_ids": [],
            "dijkwacht.personal_data": False,
            "event_time": utc_iso(now),
            "count": 1,
            "source": row.name,
            "never_seen": last is None,
            "last_seen": utc_iso(last) if last else None,
            "max_silence_minutes": row.max_silence_minutes,
            "origin": row.origin,
        },
    )
