"""Storage protocols for events and alerts; every backend (SQLite, Elasticsearch) implements them.

Domains depend on these protocols only, so the embedded and the scale-out deployment run the same
code. Backends are opened by factories that take the settings (`open_event_store(settings)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from core.events import Event


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A search: time range, exact field filters (ECS paths), free text over `event.original`."""

    start: datetime | None = None
    end: datetime | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
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


class EventStore(Protocol):
    def add_batch(self, events: Sequence[Event]) -> list[str]:
        """Store validated events in one transaction; return their ids in order."""
        ...

    def search(self, query: EventQuery) -> list[StoredEvent]: ...

    def count(self, query: EventQuery) -> int: ...

    def get(self, event_id: str) -> StoredEvent:
        """Raise NotFoundError when absent."""
        ...

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None: ...

    def list_dead_letters(
        self, *, source: str | None = None, limit: int = 100
    ) -> list[DeadLetter]: ...

    def close(self) -> None: ...
