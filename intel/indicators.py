"""Indicators: import feeds, list and expire indicators, build the matcher.

The facade `intel.service` exposes what other packages call; the orchestration that opens
its own units (`intel.flows`, `intel.stream`) builds on this module, below the facade.

Every function takes the session (or store) and clock in and never commits: the command, task
or view around it opens the unit of work. Reading a feed (`read_feed`, which may go over HTTP)
happens before the write unit, so a slow feed never holds the database's write lock.

Active means: not expired (by `valid_until`, a revocation, a warninglist or `intel expire`),
and a decayed score at or above `intel_min_score`, where the score is the confidence halved
every half-life (per feed, else `intel_half_life_days`) since the indicator was last seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from core.audit import record as audit_record
from core.clock import Clock
from core.config import Settings
from core.config_sections import IntelFeed
from core.errors import ValidationError
from intel.feeds import READERS, read_location
from intel.matcher import IndicatorContext, Matcher
from intel.models import Indicator, IntelSource, IntelState, WarninglistEntry
from intel.schemas import ImportReport, IndicatorRecord, Parsed
from intel.values import TYPES, check_tlp
from intel.warninglists import Warninglists

SOURCE_NAME_MAX = 100


def read_feed(location: str, fmt: str, *, settings: Settings) -> Parsed:
    """Parse a feed from a path or URL (no database): records, warninglists, located issues."""
    return read_location(location, fmt, timeout=settings.intel_fetch_timeout_seconds)


def parse_upload(data: bytes, fmt: str, *, name: str) -> Parsed:
    """Parse an uploaded file (the import page); a MISP feed is a folder, not one file."""

    if fmt not in READERS:
        parsed = Parsed()
        parsed.reject(name, "format", f"upload one file of: {', '.join(READERS)}")
        return parsed
    return READERS[fmt](data, name)


def feed_defaults(settings: Settings, source: str) -> IntelFeed | None:
    return settings.intel_feeds.get(source)


def current_version(*, db: Session) -> int:
    """The counter every change of indicators or warninglists moves (the matcher polls it)."""
    row = db.get(IntelState, "version")
    return row.value if row is not None else 0


def _bump(db: Session) -> None:
    row = db.get(IntelState, "version")
    if row is None:
        db.add(IntelState(name="version", value=1))
    else:
        row.value += 1


def _warninglists(db: Session) -> Warninglists:
    return Warninglists.build(db.execute(select(WarninglistEntry.kind, WarninglistEntry.value)))


def apply_import(
    *,
    db: Session,
    clock: Clock,
    parsed: Parsed,
    source: str,
    location: str,
    fmt: str,
    actor: str,
    confidence: int = 50,
    tlp: str = "amber",
) -> ImportReport:
    """Store what a feed held: upsert indicators of `source`, replace warninglists by name.

    Counts: added, updated, expired (past `valid_until` or revoked: a stored one is expired,
    a new one not stored), warninglisted (dropped; a stored one is expired), rejected (the
    reader's refusals). Records the source's refresh; moves the version counter.
    """
    if not source or len(source) > SOURCE_NAME_MAX:
        raise ValidationError("source", f"must be 1-{SOURCE_NAME_MAX} characters")
    tlp = check_tlp(tlp)
    if not 0 <= confidence <= 100:
        raise ValidationError("confidence", "must be 0-100")
    now = clock.now()
    report = ImportReport(source=source, rejected=parsed.rejected, skipped=parsed.skipped)
    report.problems = list(parsed.issues)
    for wl in parsed.warninglists:
        db.execute(delete(WarninglistEntry).where(WarninglistEntry.list_name == wl.name))
        db.add_all(WarninglistEntry(list_name=wl.name, kind=wl.kind, value=v) for v in wl.values)
        report.warninglist_entries += len(wl.values)
    db.flush()
    lists = _warninglists(db)
    existing = {
        (row.type, row.value): row
        for row in db.scalars(select(Indicator).where(Indicator.source == source))
    }
    if parsed.warninglists:  # a new list also retires stored indicators it covers, any source
        for row in db.scalars(_active(db)):
            if lists.listed(row.type, row.value):
                row.expired_at = now
                report.warninglisted += 1
    for record in parsed.records:
        _upsert(db, record, existing, lists, report, now, source, confidence, tlp)
    previous = db.get(IntelSource, source)
    if previous is None:
        previous = IntelSource(name=source)
        db.add(previous)
    previous.location, previous.format, previous.last_refresh_at = location[:2000], fmt, now
    previous.last_counts = report.counts()
    previous.last_problems = [str(issue) for issue in report.problems[:50]]
    _bump(db)
    audit_record(
        db=db,
        clock=clock,
        actor=actor,
        action="intel.import",
        object_type="intel_source",
        object_id=source,
        details={"format": fmt, **report.counts(), "problems": len(report.problems)},
    )
    db.flush()
    return report


def _upsert(
    db: Session,
    record: IndicatorRecord,
    existing: dict[tuple[str, str], Indicator],
    lists: Warninglists,
    report: ImportReport,
    now: datetime,
    source: str,
    confidence: int,
    tlp: str,
) -> None:
    row = existing.get((record.type, record.value))
    if lists and lists.listed(record.type, record.value):
        report.warninglisted += 1
        if row is not None and row.expired_at is None:
            row.expired_at = now
        return
    ended = record.revoked or (record.valid_until is not None and record.valid_until <= now)
    if ended:
        report.expired += 1
        if row is not None and row.expired_at is None:
            row.expired_at = now
        return
    seen = record.last_seen or now
    if row is None:
        row = Indicator(
            type=record.type,
            value=record.value,
            source=source,
            first_seen=record.first_seen or seen,
            last_seen=seen,
            techniques=[],
            created_at=now,
        )
        db.add(row)
        existing[(record.type, record.value)] = row
        report.added += 1
        report.new_keys.append(f"{record.type}:{record.value}")
    else:
        report.updated += 1
        row.last_seen = max(row.last_seen, seen)
        if record.first_seen is not None:
            row.first_seen = min(row.first_seen, record.first_seen)
    row.confidence = record.confidence if record.confidence is not None else confidence
    row.tlp = record.tlp or tlp
    row.valid_until = record.valid_until
    row.expired_at = None
    row.techniques = sorted({*(row.techniques or []), *record.techniques})
    row.group_key = record.group_key or row.group_key
    row.external_id = record.external_id or row.external_id
    row.description = record.description or row.description
    row.updated_at = now


def half_life(settings: Settings, source: str) -> float:
    feed = settings.intel_feeds.get(source)
    if feed is not None and feed.half_life_days is not None:
        return feed.half_life_days
    return settings.intel_half_life_days


def score(confidence: int, last_seen: datetime, now: datetime, half_life_days: float) -> float:
    """Confidence halved every `half_life_days` since last seen (never above confidence)."""
    age = max((now - last_seen).total_seconds() / 86400, 0.0)
    return confidence * 0.5 ** (age / half_life_days)


def decays_at(
    confidence: int, last_seen: datetime, half_life_days: float, floor: float
) -> datetime | None:
    """When the score falls under `floor`; None if it never does (floor 0)."""
    if floor <= 0:
        return None
    if confidence < floor:
        return last_seen
    return last_seen + timedelta(days=half_life_days * math.log2(confidence / floor))


def _active(db: Session) -> Any:
    return select(Indicator).where(Indicator.expired_at.is_(None))


def active_contexts(
    *, db: Session, clock: Clock, settings: Settings, keys: Iterable[str] | None = None
) -> list[IndicatorContext]:
    """Indicators that alert now (optionally only these "<type>:<value>" keys)."""
    now = clock.now()
    query = _active(db).where(or_(Indicator.valid_until.is_(None), Indicator.valid_until > now))
    wanted = set(keys) if keys is not None else None
    lists = _warninglists(db)
    contexts: list[IndicatorContext] = []
    for row in db.scalars(query).yield_per(5000):
        if wanted is not None and f"{row.type}:{row.value}" not in wanted:
            continue
        days = half_life(settings, row.source)
        current = score(row.confidence, row.last_seen, now, days)
        if current < settings.intel_min_score:
            continue
        if lists and lists.listed(row.type, row.value):
            continue
        ends = decays_at(row.confidence, row.last_seen, days, settings.intel_min_score)
        if row.valid_until is not None:
            ends = row.valid_until if ends is None else min(ends, row.valid_until)
        contexts.append(
            IndicatorContext(
                id=row.id,
                type=row.type,
                value=row.value,
                source=row.source,
                confidence=row.confidence,
                score=round(current, 1),
                tlp=row.tlp,
                techniques=tuple(row.techniques or ()),
                group_key=row.group_key,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                active_until=ends,
            )
        )
    return contexts


def build_matcher(
    *, db: Session, clock: Clock, settings: Settings, keys: Iterable[str] | None = None
) -> Matcher:
    """The compiled matcher over the active indicators (`keys`: only those, for retro-hunts)."""
    return Matcher(active_contexts(db=db, clock=clock, settings=settings, keys=keys))


@dataclass(frozen=True)
class IndicatorRow:
    """An indicator as lists show it, with its current score and whether it alerts."""

    id: int
    type: str
    value: str
    source: str
    confidence: int
    score: float
    tlp: str
    first_seen: datetime
    last_seen: datetime
    valid_until: datetime | None
    expired_at: datetime | None
    techniques: tuple[str, ...]
    group_key: str | None
    active: bool


def list_indicators(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    type: str | None = None,
    source: str | None = None,
    value: str | None = None,
    active: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[IndicatorRow], int]:
    """Indicators newest first with filters; (page, total matching before `active`)."""
    if type is not None and type not in TYPES:
        raise ValidationError("type", f"unknown {type!r}; known: {', '.join(TYPES)}")
    if not 1 <= limit <= 1000 or offset < 0:
        raise ValidationError("limit", "limit must be 1-1000 and offset not negative")
    query = select(Indicator)
    if type:
        query = query.where(Indicator.type == type)
    if source:
        query = query.where(Indicator.source == source)
    if value:
        query = query.where(Indicator.value.icontains(value.strip(), autoescape=True))
    if active is not None:
        query = query.where(
            Indicator.expired_at.is_(None) if active else Indicator.expired_at.is_not(None)
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    now = clock.now()
    lists = _warninglists(db)
    rows = []
    page = query.order_by(Indicator.last_seen.desc(), Indicator.id.desc())
    for row in db.scalars(page.limit(limit).offset(offset)):
        current = score(row.confidence, row.last_seen, now, half_life(settings, row.source))
        alive = (
            row.expired_at is None
            and (row.valid_until is None or row.valid_until > now)
            and current >= settings.intel_min_score
            and not (lists and lists.listed(row.type, row.value))
        )
        rows.append(
            IndicatorRow(
                id=row.id,
                type=row.type,
                value=row.value,
                source=row.source,
                confidence=row.confidence,
                score=round(current, 1),
                tlp=row.tlp,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                valid_until=row.valid_until,
                expired_at=row.expired_at,
                techniques=tuple(row.techniques or ()),
                group_key=row.group_key,
                active=alive,
            )
        )
    return rows, total


def expire(
    *,
    db: Session,
    clock: Clock,
    settings: Settings,
    source: str | None = None,
    ids: Sequence[int] = (),
) -> int:
    """Mark indicators expired: the given ids, all of `source`, or (neither) every one past
    its `valid_until` or decayed under `intel_min_score`. Returns how many; moves the version."""
    now = clock.now()
    query = _active(db)
    if ids:
        query = query.where(Indicator.id.in_(list(ids)))
    elif source:
        query = query.where(Indicator.source == source)
    count = 0
    for row in db.scalars(query):
        if not ids and not source:
            days = half_life(settings, row.source)
            over = row.valid_until is not None and row.valid_until <= now
            if not over and score(row.confidence, row.last_seen, now, days) >= (
                settings.intel_min_score
            ):
                continue
        row.expired_at = now
        count += 1
    if count:
        _bump(db)
    return count


@dataclass(frozen=True)
class SourceOverview:
    name: str
    location: str
    format: str
    last_refresh_at: datetime | None
    last_counts: Mapping[str, int]
    last_problems: Sequence[str]
    total: int
    unexpired: int


def overview(*, db: Session, settings: Settings) -> list[SourceOverview]:
    """Per source: last refresh, its counts and problems, how many indicators it holds."""
    totals = dict(
        db.execute(select(Indicator.source, func.count()).group_by(Indicator.source)).all()
    )
    live = dict(
        db.execute(
            select(Indicator.source, func.count())
            .where(Indicator.expired_at.is_(None))
            .group_by(Indicator.source)
        ).all()
    )
    rows = {row.name: row for row in db.scalars(select(IntelSource))}
    names = sorted({*rows, *totals, *settings.intel_feeds})
    result = []
    for name in names:
        row = rows.get(name)
        feed = settings.intel_feeds.get(name)
        result.append(
            SourceOverview(
                name=name,
                location=row.location if row else (feed.location if feed else ""),
                format=row.format if row else (feed.format if feed else ""),
                last_refresh_at=row.last_refresh_at if row else None,
                last_counts=dict(row.last_counts or {}) if row else {},
                last_problems=list(row.last_problems or []) if row else [],
                total=int(totals.get(name, 0)),
                unexpired=int(live.get(name, 0)),
            )
        )
    return result
