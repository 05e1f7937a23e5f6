"""Storage protocols for events and alerts; every backend (SQLite, Elasticsearch) implements them.

Domains depend on these protocols only, so the embedded and the scale-out deployment run the same
code. Backends are opened by factories that take the settings (`open_event_store(settings)`).

The checks of the shared types live here too (`check_event_query`, `check_alert_page`,
`check_new_alert`, ...), with one set of limits: a backend calls them and only translates, so
bad input gets the same error naming the field on every backend. The contract suite
(tests/core/store/contract/) runs every protocol method against every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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

    def count_slices(
        self, query: AlertQuery, *, start: datetime, step: timedelta, buckets: int
    ) -> dict[str, list[int]]:
        """Matching alerts per level (every level a key) in each of `buckets` slices of `step`
        from `start`, by the query's time (`query.time`), in one pass; the query's own start
        and end still apply. The queue's histogram asked 24 x 4 counts before."""
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


# -- the checks of the shared types: every backend calls these, then only translates -----------

MAX_LIMIT = 10_000
"""Most events or alerts one search returns, on every backend."""
MAX_RESULT_WINDOW = 10_000
"""Deepest row (offset + limit) a backend with a result window serves: Elasticsearch refuses
`from + size` beyond its `index.max_result_window`. SQLite has no window and pages as deep as
asked (a retro-hunt reads up to `intel_hunt_max_events`)."""
MAX_DEAD_LETTER_BYTES = 64 * 1024
"""Raw input kept per dead letter; the rest is cut (its length is kept in `raw_length`)."""
MAX_REASON_CHARS = 4096
"""Characters of a dead letter's reason kept."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EVENT_ORDERS = ("asc", "desc")
ALERT_SORTS = ("newest", "oldest", "severity")
ALERT_TIMES = ("created", "event")


def require_timezone(moment: datetime, *, field: str) -> datetime:
    """`moment` unchanged when it is aware; a naive time is ambiguous and refused."""
    if moment.tzinfo is None:
        raise ValidationError(field, "must carry a time zone")
    return moment


def check_page(*, limit: int, offset: int, window: int | None = None) -> None:
    """A page of at most MAX_LIMIT rows from a non-negative offset, within `window` if the
    backend has one (pass MAX_RESULT_WINDOW)."""
    if not 0 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be between 0 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise ValidationError("offset", f"must not be negative, got {offset}")
    if window is not None and offset + limit > window:
        raise ValidationError(
            "offset", f"offset + limit must not exceed {window}; narrow the time range"
        )


def check_field_path(path: str, *, field: str) -> None:
    """`path` is a dotted ECS path (`user.name`); `field` names the argument in the error."""
    if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
        raise ValidationError(field, f"{path!r} is not a dotted ECS path")


def check_event_query(query: EventQuery) -> None:
    """What every event read checks first: aware times, dotted paths, no empty "any of" list.

    Limit and offset are a page's business (`check_event_page`); counts ignore them.
    """
    if query.start is not None:
        require_timezone(query.start, field="start")
    if query.end is not None:
        require_timezone(query.end, field="end")
    for path, value in query.filters.items():
        check_field_path(path, field="filters")
        if isinstance(value, list | tuple | set | frozenset) and not value:
            raise ValidationError(f"filters.{path}", "an empty list matches nothing")
    for path in query.exclude:
        check_field_path(path, field="exclude")


def check_event_page(query: EventQuery, *, window: int | None = None) -> None:
    """`check_event_query` plus the page (limit, offset, order) of an event search."""
    check_event_query(query)
    check_page(limit=query.limit, offset=query.offset, window=window)
    if query.order not in EVENT_ORDERS:
        raise ValidationError("order", f"must be one of {list(EVENT_ORDERS)}, got {query.order!r}")


def check_slices(*, start: datetime, step: timedelta, buckets: int) -> None:
    """A histogram's slices: an aware start, at least one slice, each longer than 1 µs."""
    require_timezone(start, field="start")
    if step < timedelta(microseconds=1) or buckets <= 0:
        raise ValidationError("step", "slices must be longer than a microsecond")


def check_counts_by(field: str, *, limit: int) -> None:
    """The field of a `counts_by` is a dotted ECS path; between 1 and MAX_LIMIT values."""
    check_field_path(field, field="field")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")


def check_dead_letter_listing(*, limit: int) -> None:
    """Dead letters are listed a page at a time: between 0 and MAX_LIMIT."""
    if not 0 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be between 0 and {MAX_LIMIT}, got {limit}")


def check_exercise_id(exercise_id: str) -> None:
    """A drill rollback names its exercise: an empty id would match every real record."""
    if not exercise_id:
        raise ValidationError("exercise_id", "must not be empty")


def check_alert_query(query: AlertQuery) -> None:
    """What every alert read checks first: known statuses, levels and time, aware bounds."""
    for status in query.statuses:
        if status not in ALERT_STATUSES:
            raise ValidationError("statuses", f"{status!r} is not one of {list(ALERT_STATUSES)}")
    for level in query.levels:
        if level not in ALERT_LEVELS:
            raise ValidationError("levels", f"{level!r} is not one of {list(ALERT_LEVELS)}")
    if query.time not in ALERT_TIMES:
        raise ValidationError("time", f"must be 'created' or 'event', got {query.time!r}")
    if query.start is not None:
        require_timezone(query.start, field="start")
    if query.end is not None:
        require_timezone(query.end, field="end")


def check_alert_page(query: AlertQuery, *, window: int | None = None) -> None:
    """`check_alert_query` plus the page (limit, offset, sort) of an alert search."""
    check_alert_query(query)
    check_page(limit=query.limit, offset=query.offset, window=window)
    if query.sort not in ALERT_SORTS:
        raise ValidationError("sort", f"must be one of {list(ALERT_SORTS)}, got {query.sort!r}")


def check_new_alert(index: int, alert: NewAlert) -> None:
    """The fields the queue relies on, named `alerts[index].<field>` in the error."""
    prefix = f"alerts[{index}]"
    for name in ("rule_id", "rule_title"):
        value = getattr(alert, name)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{prefix}.{name}", "must be a non-empty string")
    if alert.level not in ALERT_LEVELS:
        raise ValidationError(
            f"{prefix}.level", f"must be one of {list(ALERT_LEVELS)}, got {alert.level!r}"
        )
    if alert.status not in ALERT_STATUSES:
        raise ValidationError(
            f"{prefix}.status", f"must be one of {list(ALERT_STATUSES)}, got {alert.status!r}"
        )
    if alert.status == "assigned" and not alert.assignee:
        raise ValidationError(f"{prefix}.assignee", "is required when the status is 'assigned'")
    if not isinstance(alert.body, Mapping):
        raise ValidationError(f"{prefix}.body", "must be a mapping")
    for name in ("created_at", "first_event_at", "last_event_at"):
        moment = getattr(alert, name)
        if moment is None:
            continue
        require_timezone(moment, field=f"{prefix}.{name}")
        if moment < EPOCH:
            raise ValidationError(f"{prefix}.{name}", "must not be before 1970-01-01")
