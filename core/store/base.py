"""Storage protocols for events and alerts; every backend (SQLite, Elasticsearch) implements them.

Domains depend on these protocols only, so the embedded and the scale-out deployment run the same
code. Backends are opened by factories that take the settings (`open_event_store(settings)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from core.errors import ValidationError
from core.events import Event

AlertStatus = Literal["new", "acknowledged", "assigned", "in_incident", "suppressed", "closed"]
ALERT_STATUSES: tuple[AlertStatus, ...] = (
    "new",
    "acknowledged",
    "assigned",
    "in_incident",  # grouped into an incident (playbooks routing or triage); worked there
    "suppressed",
    "closed",
)
AlertLevel = Literal["informational", "low", "medium", "high", "critical"]
# Sigma's levels, least to most severe; the index is the severity rank used for sorting.
ALERT_LEVELS: tuple[AlertLevel, ...] = ("informational", "low", "medium", "high", "critical")


class InvalidEventError(ValidationError):
    """One event of a batch failed validation, so none of the batch was stored.

    `index` says which event (the caller dead-letters it and retries the rest); `event_field`
    is the ECS path that was wrong.
    """

    def __init__(self, index: int, field: str, problem: str) -> None:
        super().__init__(f"events[{index}].{field}", problem)
        self.index = index
        self.event_field = field


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A search: time range, exact field filters (ECS paths), free text over `event.original`."""

    start: datetime | None = None
    end: datetime | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
    # Field values to leave out ("filter out" in event search); an absent field is kept.
    exclude: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None
    limit: int = 100
    offset: int = 0
    order: Literal["asc", "desc"] = "desc"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store returns it: its id plus the ECS document."""

    id: str
    event: Event


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that could not become an event; kept with the reason so nothing is lost."""

    source: str
    reason: str
    raw: bytes
    offset: int | None = None
    received_at: datetime | None = None
    id: int | None = None
    # Length of the raw input before the store truncated it (None: not stored yet).
    raw_length: int | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterCount:
    """How many dead letters one source has and when the newest arrived (status pages)."""

    source: str
    count: int
    newest: datetime | None


class EventStore(Protocol):
    def add_batch(self, events: Sequence[Event]) -> list[str]:
        """Store validated events in one transaction; return their ids in order."""
        ...

    def search(self, query: EventQuery) -> list[StoredEvent]: ...

    def count(self, query: EventQuery, *, cap: int | None = None) -> int:
        """Matching events; with `cap`, stop counting there (a page's "10000+" stays cheap)."""
        ...

    def count_slices(
        self, query: EventQuery, *, start: datetime, step: timedelta, buckets: int
    ) -> list[int]:
        """Matches in each slice [start + i*step, start + (i+1)*step) (a histogram, one query);
        the query's own start and end still apply."""
        ...

    def counts_by(
        self, field: str, query: EventQuery | None = None, *, limit: int = 20
    ) -> list[tuple[Any, int]]:
        """(value, count) of a field over matching events, most frequent first."""
        ...

    def get(self, event_id: str) -> StoredEvent:
        """Raise NotFoundError when absent."""
        ...

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None: ...

    def list_dead_letters(
        self, *, source: str | None = None, limit: int = 100
    ) -> list[DeadLetter]: ...

    def delete_dead_letters(self, ids: Sequence[int]) -> int:
        """Remove dead letters by id (after a successful replay); return the number removed."""
        ...

    def dead_letter_counts(self) -> list[DeadLetterCount]:
        """Dead letters per source, most first: every path (live, files, replays) ends here."""
        ...

    def delete_by_exercise(self, exercise_id: str) -> int:
        """Remove every event tagged `dijkwacht.exercise.id` = `exercise_id` (drill rollback)."""
        ...

    def reusable(self) -> bool:
        """Whether a pool may lend this open store out again (core.store.pool)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAlert:
    """An alert as detection raises it; the store gives it an id and the status `new`."""

    rule_id: str
    rule_title: str
    level: AlertLevel
    created_at: datetime
    host_name: str | None = None
    user_name: str | None = None
    # Set only for alerts raised from drill data; such alerts never reach an authority.
    exercise_id: str | None = None
    status: AlertStatus = "new"
    assignee: str | None = None
    # Everything else the analyst needs: matched event ids, tags, group-by values, ATT&CK ids.
    body: Mapping[str, Any] = field(default_factory=dict)
    # When the first and last matching events happened; unset, the store takes the body's
    # `event_time` / `last_seen` (as detection writes them), else `created_at`.
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as the store returns it."""

    id: str
    created_at: datetime
    updated_at: datetime
    rule_id: str
    rule_title: str
    level: AlertLevel
    status: AlertStatus
    assignee: str | None
    host_name: str | None
    user_name: str | None
    exercise_id: str | None
    body: dict[str, Any]
    # Event time of the first and last matching event (the queue shows and sorts by these).
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertQuery:
    """Filters of the alert queue; each tuple means "any of"; `exercise` None means both."""

    statuses: Sequence[AlertStatus] = ()
    levels: Sequence[AlertLevel] = ()
    rule_ids: Sequence[str] = ()
    host_name: str | None = None
    user_name: str | None = None
    assignee: str | None = None
    exercise: bool | None = None
    start: datetime | None = None
    end: datetime | None = None
    # Which time `start`/`end` and the newest/oldest sort use: when the alert was stored, or
    # when its first matching event happened (the shift views).
    time: Literal["created", "event"] = "created"
    sort: Literal["newest", "oldest", "severity"] = "newest"
    limit: int = 50
    offset: int = 0


class AlertStore(Protocol):
    def add_batch(self, alerts: Sequence[NewAlert]) -> list[str]:
        """Store alerts in one transaction; return their ids in order."""
        ...

    def search(self, query: AlertQuery) -> list[StoredAlert]: ...

    def count(self, query: AlertQuery, *, cap: int | None = None) -> int:
        """Matching alerts; with `cap`, stop counting there (a page's "10000+" stays cheap)."""
        ...

    def get(self, alert_id: str) -> StoredAlert:
        """Raise NotFoundError when absent."""
        ...

    def update_status(
        self, ids: Sequence[str], *, status: AlertStatus, assignee: str | None = None
    ) -> int:
        """Set the status of every id in one transaction; NotFoundError if any id is unknown."""
        ...

    def merge_body(self, alert_id: str, updates: Mapping[str, Any]) -> None:
        """Replace top-level keys of the alert's body (repeat counts); NotFoundError if absent."""
        ...

    def delete_by_exercise(self, exercise_id: str) -> int:
        """Remove every alert of the exercise (drill rollback); return the number removed."""
        ...

    def reusable(self) -> bool:
        """Whether a pool may lend this open store out again (core.store.pool)."""
        ...

    def close(self) -> None: ...


def status_change_ids(ids: Sequence[str], *, status: str, assignee: str | None) -> list[str]:
    """The distinct ids of an `update_status` call, after checking its status and assignee."""
    if status not in ALERT_STATUSES:
        raise ValidationError("status", f"must be one of {list(ALERT_STATUSES)}, got {status!r}")
    if status == "assigned" and not (assignee and assignee.strip()):
        raise ValidationError("assignee", "is required when the status is 'assigned'")
    return list(dict.fromkeys(ids))
