"""List and replay dead letters: re-parse them with today's parsers, spool what now parses.

Replay is exactly-once: a replayed event gets a deterministic `event.id` derived from the dead
letter (its received time and id), so if the process dies after spooling but before the dead
letter is deleted, the next replay produces the same id and the event store ignores the copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.parsers import ParseError, Parser
from collectors.spool import EPOCH, ONE_MICROSECOND, Spool
from core.events import Event
from core.store.base import DeadLetter, EventStore

ParserFor = Callable[[str], Parser | None]


@dataclass(slots=True)
class ReplayResult:
    """Dead letters replayed, still refused (with the new reason) and skipped (with why)."""

    replayed: int = 0
    still_failing: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def replay_id(letter: DeadLetter) -> str:
    """The store-format id a replayed dead letter's event gets (stable across retries)."""
    received = letter.received_at or datetime.now(UTC)
    micros = (received - EPOCH) // ONE_MICROSECOND
    return f"{micros:014x}{(letter.id or 0) & 0xFFFFFFFFFFFF:012x}"


def replay_dead_letters(
    *,
    store: EventStore,
    spool: Spool,
    parser_for: ParserFor,
    source: str | None = None,
    limit: int = 10_000,
) -> ReplayResult:
    """Re-parse up to `limit` dead letters (oldest first); successes go to the spool and are
    removed from the dead letters, failures stay."""
    result = ReplayResult()
    done: list[int] = []
    by_source: dict[str, list[Event]] = {}
    for letter in store.list_dead_letters(source=source, limit=limit):
        assert letter.id is not None
        if letter.raw_length is not None and letter.raw_length > len(letter.raw):
            result.skipped.append((letter.id, "raw bytes were truncated when stored"))
            continue
        parser = parser_for(letter.source)
        if parser is None:
            result.skipped.append((letter.id, f"no parser known for source {letter.source!r}"))
            continue
        try:
            event = parser.parse(
                letter.raw,
                received_at=letter.received_at or datetime.now(UTC),
                source=letter.source,
            )
        except ParseError as exc:
            result.still_failing.append((letter.id, str(exc)))
            continue
        event.setdefault("event", {})["id"] = replay_id(letter)
        by_source.setdefault(letter.source, []).append(event)
        done.append(letter.id)
    for name, events in by_source.items():
        spool.append(events, source=name)
    store.delete_dead_letters(done)
    result.replayed = len(done)
    return result
