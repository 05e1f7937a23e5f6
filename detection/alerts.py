"""From rule matches and correlation firings to alerts: context, exceptions, maintenance, dedup.

A candidate alert passes, in order: per-rule exceptions (allow-list entries with an expiry and
a reason; expired ones stop applying), maintenance windows (alerts in them are suppressed but
counted on the window), and the rule's dedup policy (same rule and same values of up to three
fields within N minutes fold into one alert whose ``count`` grows). What survives goes to the
alert outbox in the caller's transaction; ``deliver_outbox`` then stores it in the AlertStore.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.clock import Clock, utc_iso
from core.errors import ValidationError
from core.store.base import ALERT_LEVELS, AlertQuery, AlertStore, NewAlert
from detection.attack import get_attack_catalog
from detection.attack_data import AttackDataError
from detection.correlation import field_text
from detection.exceptions import (  # noqa: F401 - re-exported, callers import them from here
    add_exception,
    add_maintenance_window,
    list_exceptions,
    list_maintenance_windows,
)
from detection.models import AlertOutbox, DedupGroup, MaintenanceWindow, RuleException

MAX_DEDUP_FIELDS = 3
MAX_EVENT_IDS = 100  # an alert lists this many event ids; `count` says how many there were
DEFAULT_LEVEL = "medium"  # Sigma rules without a level
OUTBOX_KEEP = timedelta(days=1)
HOST_FIELDS = ("host.name", "host.hostname", "Computer", "hostname")
USER_FIELDS = ("user.name", "TargetUserName", "SubjectUserName", "User")
EXERCISE_FIELD = "dijkwacht.exercise.id"


@dataclass(frozen=True)
class DedupPolicy:
    """Fold repeats of a rule with the same values of ``fields`` within ``window``."""

    fields: tuple[str, ...]
    window: timedelta

    def __post_init__(self) -> None:
        if len(self.fields) > MAX_DEDUP_FIELDS:
            raise ValidationError("dedup.fields", f"at most {MAX_DEDUP_FIELDS}, got {self.fields}")
        if self.window <= timedelta(0):
            raise ValidationError("dedup.minutes", "must be greater than zero")


def parse_dedup(value: Any) -> DedupPolicy:
    """A policy from a rule's ``dijkwacht.dedup: {fields: [...], minutes: N}`` attribute."""
    if not isinstance(value, Mapping):
        raise ValidationError("dijkwacht.dedup", "must be a mapping with fields and minutes")
    fields = value.get("fields", [])
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ValidationError("dijkwacht.dedup.fields", "must be a list of field names")
    minutes = value.get("minutes")
    if not isinstance(minutes, int | float) or isinstance(minutes, bool):
        raise ValidationError("dijkwacht.dedup.minutes", f"must be a number, got {minutes!r}")
    try:
        window = timedelta(minutes=minutes)
    except (OverflowError, ValueError):  # inf, nan, 1e30: authored content, not a crash
        raise ValidationError("dijkwacht.dedup.minutes", f"out of range: {minutes!r}") from None
    return DedupPolicy(tuple(fields), window)


@dataclass
class Candidate:
    """An alert before exceptions, maintenance and dedup decide its fate."""

    rule_id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    kind: str  # "match" or "correlation"
    time: datetime  # event time of the (last) event
    subject: Mapping[str, Any]  # the event, or the group-by values of a correlation
    fingerprint: str
    event_ids: list[str] = field(default_factory=list)
    group: dict[str, str] = field(default_factory=dict)
    selections: tuple[str, ...] = ()
    personal_data: bool = False
    exercise_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        """A field of the subject (case-insensitive fallback), for exceptions and dedup."""
        if name in self.group:
            return self.group[name]
        return field_text(self.subject, name)

    def first_value(self, names: Sequence[str]) -> str | None:
        for name in names:
            found = self.value(name)
            if found is not None:
                return found
        return None


def fingerprint(*parts: Any) -> str:
    """Stable id of what an alert is about; the outbox refuses a second alert with it."""
    return hashlib.sha256(orjson.dumps(list(parts), option=orjson.OPT_SORT_KEYS)).hexdigest()


class AttackResolver:
    """ATT&CK context per tag set, cached; the catalog loads on first use, never at import."""

    def __init__(self, catalog: Callable[[], Any] | None = None) -> None:
        self._catalog = catalog
        self._cache: dict[tuple[str, ...], dict[str, Any]] = {}

    def resolve(self, tags: Iterable[str]) -> dict[str, Any]:
        key = tuple(tags)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._resolve(key)
        return cached

    def _resolve(self, tags: tuple[str, ...]) -> dict[str, Any]:
        if not any(tag.lower().startswith("attack.") for tag in tags):
            return {"tactics": [], "techniques": [], "unknown": []}

        try:
            catalog = self._catalog() if self._catalog is not None else get_attack_catalog()
        except AttackDataError as exc:  # the alert still goes out; the context says why not
            return {"tactics": [], "techniques": [], "unknown": list(tags), "error": str(exc)}
        context = catalog.resolve_tags(tags)
        return {
            "tactics": [{"shortname": s, "name": n} for s, n in context.all_tactics],
            "techniques": [{"id": t.id, "name": t.name} for t in context.techniques],
            "unknown": list(context.unknown),
        }


# --- exceptions and maintenance windows: detection/exceptions.py ------------------------------


def _excepted(candidate: Candidate, exceptions: Sequence[RuleException]) -> RuleException | None:
    for row in exceptions:
        if row.rule_id not in (candidate.rule_id, "*"):
            continue
        if all(
            (found := candidate.value(name)) is not None
            and found.lower() in {v.lower() for v in values}
            for name, values in row.conditions.items()
        ):
            return row
    return None


def _in_maintenance(
    candidate: Candidate, windows: Sequence[MaintenanceWindow]
) -> MaintenanceWindow | None:
    host = candidate.first_value(HOST_FIELDS)
    for window in windows:
        if not window.starts_at <= candidate.time < window.ends_at:
            continue
        if window.host_name is None or (host is not None and host.lower() == window.host_name):
            return window
    return None


# --- deciding -----------------------------------------------------------------------------------


@dataclass
class Decisions:
    """What ``decide`` did with a batch of candidates (for counters and the caller's report)."""

    new: int = 0
    repeats: list[DedupGroup] = field(default_factory=list)
    excepted: int = 0
    maintenance: int = 0
    duplicates: int = 0


def decide(
    *,
    db: Session,
    clock: Clock,
    candidates: Sequence[Candidate],
    policies: Mapping[str, DedupPolicy | None],
    attack: AttackResolver,
) -> Decisions:
    """Apply exceptions, maintenance and dedup; queue the surviving alerts in the outbox."""
    out = Decisions()
    if not candidates:
        return out
    now = clock.now()
    exceptions = list_exceptions(db=db, clock=clock)
    earliest = min(c.time for c in candidates)
    windows = list(
        db.scalars(select(MaintenanceWindow).where(MaintenanceWindow.ends_at > earliest))
    )
    for candidate in candidates:
        excepted = _excepted(candidate, exceptions)
        if excepted is not None:
            excepted.suppressed += 1
            out.excepted += 1
            continue
        window = _in_maintenance(candidate, windows)
        if window is not None:
            window.suppressed += 1
            out.maintenance += 1
            continue
        if db.scalar(
            select(AlertOutbox.id).where(AlertOutbox.fingerprint == candidate.fingerprint)
        ):
            out.duplicates += 1  # a redelivered batch: this alert was already raised
            continue
        policy = policies.get(candidate.rule_id)
        group = _fold(db, candidate, policy) if policy is not None else None
        if group is not None:
            out.repeats.append(group)
            continue
        key = _dedup_key(candidate, policy) if policy is not None else None
        db.add(
            AlertOutbox(
                fingerprint=candidate.fingerprint,
                dedup_rule_id=candidate.rule_id if key else None,
                dedup_key_hash=key[0] if key else None,
                payload=_payload(candidate, attack, now),
                created_at=now,
            )
        )
        if key is not None and policy is not None:
            _open_group(db, candidate, policy, key)
        db.flush()
        out.new += 1
    return out


def _dedup_key(candidate: Candidate, policy: DedupPolicy) -> tuple[str, dict[str, str | None]]:
    values = {name: candidate.value(name) for name in policy.fields}
    return fingerprint(candidate.rule_id, values), values


def _fold(db: Session, candidate: Candidate, policy: DedupPolicy) -> DedupGroup | None:
    """The open dedup group this candidate repeats (its count bumped), or None."""
    key_hash, _ = _dedup_key(candidate, policy)
    group = db.get(DedupGroup, (candidate.rule_id, key_hash))
    if group is None or abs(candidate.time - group.first_seen) >= policy.window:
        return None
    group.count += 1
    group.last_seen = max(group.last_seen, candidate.time)
    return group


def _open_group(
    db: Session, candidate: Candidate, policy: DedupPolicy, key: tuple[str, dict[str, str | None]]
) -> None:
    group = db.get(DedupGroup, (candidate.rule_id, key[0]))
    if group is None:
        group = DedupGroup(rule_id=candidate.rule_id, key_hash=key[0])
        db.add(group)
    group.key_values = dict(key[1])
    group.fingerprint = candidate.fingerprint
    group.alert_id = None
    group.count = 1
    group.first_seen = group.last_seen = candidate.time
    group.expires_at = candidate.time + policy.window


def _payload(candidate: Candidate, attack: AttackResolver, now: datetime) -> dict[str, Any]:
    level = candidate.level if candidate.level in ALERT_LEVELS else DEFAULT_LEVEL
    body: dict[str, Any] = {
        "kind": candidate.kind,
        "tags": list(candidate.tags),
        "event_ids": candidate.event_ids[:MAX_EVENT_IDS],
        "group_by": candidate.group,
        "selections": list(candidate.selections),
        "attack": attack.resolve(candidate.tags),
        "dijkwacht.personal_data": candidate.personal_data,
        "event_time": utc_iso(candidate.time),
        "count": 1,
        "fingerprint": candidate.fingerprint,
        **candidate.extra,
    }
    return {
        "rule_id": candidate.rule_id,
        "rule_title": candidate.title,
        "level": level,
        "created_at": utc_iso(now),
        "host_name": candidate.first_value(HOST_FIELDS),
        "user_name": candidate.first_value(USER_FIELDS),
        "exercise_id": candidate.exercise_id,
        "body": body,
    }


def _new_alert(payload: Mapping[str, Any]) -> NewAlert:
    return NewAlert(
        rule_id=payload["rule_id"],
        rule_title=payload["rule_title"],
        level=payload["level"],
        created_at=datetime.fromisoformat(payload["created_at"]),
        host_name=payload.get("host_name"),
        user_name=payload.get("user_name"),
        exercise_id=payload.get("exercise_id"),
        body=payload["body"],
    )


def queue_platform_alert(
    *,
    db: Session,
    clock: Clock,
    rule_id: str,
    title: str,
    level: str,
    fingerprint: str,
    body: Mapping[str, Any],
) -> bool:
    """Put an alert the platform raises about itself (not from events) in the outbox.

    Used by checks such as compliance (a measure turned red). The fingerprint makes it once:
    a second call with the same fingerprint adds nothing and returns False. The caller's unit
    commits; `deliver_outbox` stores it in the AlertStore like every other alert.
    """
    if level not in ALERT_LEVELS:
        raise ValidationError("level", f"must be one of {', '.join(ALERT_LEVELS)}")
    if db.scalar(select(AlertOutbox.id).where(AlertOutbox.fingerprint == fingerprint)):
        return False
    now = clock.now()
    payload = {
        "rule_id": rule_id,
        "rule_title": title,
        "level": level,
        "created_at": utc_iso(now),
        "host_name": None,
        "user_name": None,
        "exercise_id": None,
        "body": {
            "kind": "platform",
            "tags": [],
            "event_ids": [],
            "dijkwacht.personal_data": False,
            "event_time": utc_iso(now),
            "count": 1,
            "fingerprint": fingerprint,
            **body,
        },
    }
    db.add(AlertOutbox(fingerprint=fingerprint, payload=payload, created_at=now))
    db.flush()
    return True


def outbox_pending(*, db: Session) -> bool:
    """Whether any outbox alert waits for delivery: a read, so the usual answer (no) costs
    the batch no write lock."""
    waiting = select(AlertOutbox.id).where(AlertOutbox.alert_id.is_(None)).limit(1)
    return db.scalar(waiting) is not None


def deliver_outbox(*, db: Session, alert_store: AlertStore, clock: Clock) -> list[str]:
    """Store pending outbox alerts (once: a fingerprint already in the store is not re-added).

    Reads, then marks and deletes: run it in a write unit (BEGIN IMMEDIATE on SQLite), or a
    worker committing in between makes the delete fail at once with "database is locked".
    The caller's unit commits. Returns the ids of the alerts stored now.
    """
    pending = list(db.scalars(select(AlertOutbox).where(AlertOutbox.alert_id.is_(None))))
    ids: list[str] = []
    if pending:
        fresh = [row for row in pending if not _already_stored(alert_store, row)]
        new_ids = alert_store.add_batch([_new_alert(row.payload) for row in fresh])
        for row, alert_id in zip(fresh, new_ids, strict=True):
            row.alert_id = alert_id
        ids = list(new_ids)
        for row in pending:
            if row.dedup_rule_id and row.dedup_key_hash and row.alert_id:
                group = db.get(DedupGroup, (row.dedup_rule_id, row.dedup_key_hash))
                if group is not None and group.fingerprint == row.fingerprint:
                    group.alert_id = row.alert_id
    cutoff = clock.now() - OUTBOX_KEEP
    db.execute(
        delete(AlertOutbox).where(
            AlertOutbox.alert_id.is_not(None), AlertOutbox.created_at < cutoff
        )
    )
    db.execute(delete(DedupGroup).where(DedupGroup.expires_at < cutoff))
    return ids


def _already_stored(alert_store: AlertStore, row: AlertOutbox) -> bool:
    """After a crash between storing and marking: find the alert by rule, time and fingerprint."""
    created = datetime.fromisoformat(row.payload["created_at"])
    query = AlertQuery(
        rule_ids=[row.payload["rule_id"]],
        start=created,
        end=created + timedelta(microseconds=1),
        limit=500,
    )
    for alert in alert_store.search(query):
        if alert.body.get("fingerprint") == row.fingerprint:
            row.alert_id = alert.id
            return True
    return False


def apply_repeats(*, alert_store: AlertStore, repeats: Iterable[DedupGroup]) -> list[str]:
    """Write the current count into each folded-into alert (absolute, so retrying is safe)."""
    touched: list[str] = []
    for group in {id(g): g for g in repeats}.values():
        if group.alert_id is None:
            continue
        alert_store.merge_body(
            group.alert_id, {"count": group.count, "last_seen": utc_iso(group.last_seen)}
        )
        touched.append(group.alert_id)
    return touched
