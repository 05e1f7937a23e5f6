"""The durable spool between every collector and the event store.

A collector acknowledges input (TCP read, HTTP 200, a file offset) only after `append` returns,
and `append` returns only after its transaction is committed and fsynced (SQLite WAL,
`synchronous=FULL`). The consumer (`collectors.consumer`) drains the spool oldest first into
the event store and then `ack`s, so a crash anywhere replays at most the unacked rows.

Exactly once downstream: `append` gives every event a stable `event.id` in the event store's id
format (14 hex digits of epoch microseconds + 12 random hex digits). The store inserts with
`INSERT OR IGNORE` on that id, so a batch redelivered after a crash between store commit and
`ack` is stored once. An upstream `event.id` in another format is kept under
`dijkwacht.source_event_id` (upstream ids are not unique across systems, so they cannot key
the store).

Per-source counters (received, parsed, dead-lettered, dropped, last seen) live in the same file
and are updated in the same transaction as the rows they count: per batch, never per event.
Checkpoints (a file tailer's offset) are written in the same transaction as the events read up
to them, so a restart neither skips nor repeats a record.

Rows hold batches (schema 2): one `append` writes its events as JSON arrays of at most
`ROW_EVENTS` events, one row each, instead of one row per event. Every event still has its own
sequence number (the spool id `take` returns): a row covers `last - count + 1 .. last`, rows are
contiguous, and `ack(up_to)` records `up_to` in `spool_acked` and deletes the rows it covers
entirely, so a consumer may acknowledge part of a row. Per-event rows spent more on SQLite's
per-row work (B-tree cell, bind, step; the same again to delete) than on the JSON itself.

Idempotency: `append_once` commits an HTTP client's `Idempotency-Key` with its batch, and
`append(also=...)` lets RELP record its unconfirmed messages in the same transaction (tables in
`collectors.spool_sql`), so neither can disagree with the events after a crash.

Threads and processes: an instance owns one connection and must stay in its thread; open one
`Spool` per thread. Several processes may share the file (WAL, one writer at a time).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from collectors.spool_sql import BUMP, FROM_VERSION_1, HIGH_WATER, SCHEMA, UNACKED
from core.clock import Clock, SystemClock
from core.errors import ConfigError
from core.events import Event
from core.store.base import DeadLetter
from core.store.sqlite_common import (
    EPOCH,
    ONE_MICROSECOND,
    SqliteFile,
    apply_schema,
    connect,
    from_micros,
    schema_version,
    write_transaction,
)

if TYPE_CHECKING:
    from core.config import Settings

SPOOL_FILE = "spool.sqlite"
DEFAULT_MAX_PENDING = 100_000
# Raw dead-letter bytes kept in the spool; the event store cuts at the same limit (64 KiB).
MAX_DEAD_RAW_BYTES = 64 * 1024
# 1: one row per event in `spool`. 2: rows of up to ROW_EVENTS events in `spool_batches`.
# 3: idempotency keys of HTTP ingest and digests of acknowledged RELP messages.
SCHEMA_VERSION = 3
# Events per spool row: big enough that SQLite's per-row cost vanishes, small enough that a
# consumer batch (`ingest_batch_size`, default 1000) is made of whole rows.
ROW_EVENTS = 500
# The event store's id format; an event.id of this shape is ours and is kept as is.
STORE_ID_RE = re.compile(r"[0-9a-f]{26}")


@dataclass(frozen=True, slots=True)
class OnceKey:
    """A client's idempotency key within a scope (the HTTP source), and what it was used for.

    `fingerprint` identifies the request body, so a key reused for other content is caught.
    """

    scope: str
    key: str
    fingerprint: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Remembered:
    """The first request under a key: its body fingerprint and the reply it was given."""

    fingerprint: str
    response: bytes


@dataclass(frozen=True, slots=True)
class _Rows:
    bodies: list[tuple[int, bytes]]
    dead_rows: list[tuple[Any, ...]]
    parsed: int
    dead: Sequence[DeadLetter]


@dataclass(frozen=True, slots=True)
class SourceCounters:
    """Totals for one source since the spool file was created."""

    source: str
    received: int
    parsed: int
    dead_lettered: int
    dropped: int
    last_seen: datetime | None


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // ONE_MICROSECOND


class Spool(SqliteFile):
    """A durable FIFO of events and dead letters; see the module docstring for the guarantees."""

    def __init__(
        self,
        path: Path,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock: Clock | None = None,
        busy_timeout_s: float = 30.0,
    ) -> None:
        if max_pending < 1:
            raise ConfigError(f"spool max_pending must be positive, got {max_pending}")
        self.path = path
        self.max_pending = max_pending
        self._clock = clock or SystemClock()
        # FULL: a commit is fsynced before append() returns, so acknowledged input survives
        # power loss. The connection stays in its thread (see the module docstring).
        self._conn = connect(
            path,
            timeout_s=busy_timeout_s,
            pragmas=("PRAGMA synchronous=FULL",),
            check_same_thread=True,
        )
        version = schema_version(self._conn, path, newest=SCHEMA_VERSION, name="spool")
        if version < SCHEMA_VERSION:
            # Only a new or old file needs the write lock here: opening a current spool must
            # work while another process holds the lock (the collector then pauses on writes).
            script = SCHEMA + (FROM_VERSION_1 if version == 1 else "")
            apply_schema(self._conn, script, version=SCHEMA_VERSION)

    # -- writing -------------------------------------------------------------------------------

    def append(
        self,
        events: Sequence[Event],
        *,
        source: str,
        dead: Sequence[DeadLetter] = (),
        checkpoint: tuple[str, Any] | None = None,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Spool events (and dead letters, and a checkpoint) in one fsynced transaction.

        Each event gets its `event.id` here (see the module docstring); the dicts are updated
        in place so the caller sees the id the store will use. `also` writes a collector's own
        bookkeeping (RELP's unconfirmed messages) in the same transaction.
        """
        stamp = _micros(self._clock.now())
        rows = self._rows(events, dead, stamp=stamp)  # JSON is built before the lock is taken
        with write_transaction(self._conn) as conn:
            self._write(conn, rows, source=source, checkpoint=checkpoint, stamp=stamp)
            if also is not None:
                also(conn)

    def append_once(
        self,
        events: Sequence[Event],
        *,
        source: str,
        dead: Sequence[DeadLetter],
        once: OnceKey,
        response: bytes,
    ) -> Remembered | None:
        """`append` unless `once.key` was used before in its scope; then write nothing.

        The key and `response` are committed in the same transaction as the events, so a crash
        cannot keep a batch without its key (stored twice on retry) or a key without its batch
        (lost). Returns None when written, else what the first request under the key got.
        Expired keys are deleted here, under the same write lock.
        """
        stamp = _micros(self._clock.now())
        rows = self._rows(events, dead, stamp=stamp)
        with write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?", (stamp,))
            row = conn.execute(
                "SELECT fingerprint, response FROM idempotency_keys WHERE scope = ? AND key = ?",
                (once.scope, once.key),
            ).fetchone()
            if row is not None:
                return Remembered(fingerprint=row[0], response=bytes(row[1]))
            self._write(conn, rows, source=source, checkpoint=None, stamp=stamp)
            conn.execute(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, response, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (once.scope, once.key, once.fingerprint, response, _micros(once.expires_at)),
            )
        return None

    def remembered(self, *, scope: str, key: str) -> Remembered | None:
        """What the first request under an unexpired `key` got (a read; no lock taken)."""
        row = self._conn.execute(
            "SELECT fingerprint, response FROM idempotency_keys "
            "WHERE scope = ? AND key = ? AND expires_at > ?",
            (scope, key, _micros(self._clock.now())),
        ).fetchone()
        return None if row is None else Remembered(fingerprint=row[0], response=bytes(row[1]))

    def lookup(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read of a collector's own bookkeeping table (RELP); takes no write lock."""
        return list(self._conn.execute(sql, params).fetchall())

    def _rows(self, events: Sequence[Event], dead: Sequence[DeadLetter], *, stamp: int) -> _Rows:
        return _Rows(
            bodies=self._event_rows(events, stamp=stamp),
            dead_rows=[_dead_row(letter, stamp) for letter in dead],
            parsed=len(events),
            dead=dead,
        )

    def _write(
        self,
        conn: sqlite3.Connection,
        prepared: _Rows,
        *,
        source: str,
        checkpoint: tuple[str, Any] | None,
        stamp: int,
    ) -> None:
        bodies, dead_rows = prepared.bodies, prepared.dead_rows
        if bodies:
            last = int(conn.execute(HIGH_WATER).fetchone()[0])
            rows = []
            for count, body in bodies:
                last += count
                rows.append((last, count, source, body))
            conn.executemany(
                "INSERT INTO spool_batches (last, count, source, body) VALUES (?, ?, ?, ?)",
                rows,
            )
        if dead_rows:
            conn.executemany(_INSERT_DEAD, dead_rows)
        if checkpoint is not None:
            key, value = checkpoint
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints (key, value) VALUES (?, ?)",
                (key, orjson.dumps(value)),
            )
        self._bump_counts(
            conn, source=source, parsed=prepared.parsed, dead=prepared.dead, stamp=stamp
        )

    def append_dead(
        self, letters: Sequence[DeadLetter], *, checkpoint: tuple[str, Any] | None = None
    ) -> None:
        """Spool dead letters durably; counted under each letter's own source."""
        if not letters and checkpoint is None:
            return
        stamp = _micros(self._clock.now())
        rows = [_dead_row(letter, stamp) for letter in letters]
        with write_transaction(self._conn) as conn:
            conn.executemany(_INSERT_DEAD, rows)
            if checkpoint is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoints (key, value) VALUES (?, ?)",
                    (checkpoint[0], orjson.dumps(checkpoint[1])),
                )
            self._bump_counts(conn, source=None, parsed=0, dead=letters, stamp=stamp)

    def count_dropped(self, source: str, dropped: int) -> None:
        """Record input lost before it reached the spool (a full spool under UDP, say)."""
        if dropped <= 0:
            return
        with write_transaction(self._conn) as conn:
            conn.execute(BUMP, (source, dropped, 0, 0, dropped, None))

    @staticmethod
    def _event_rows(events: Sequence[Event], *, stamp: int) -> list[tuple[int, bytes]]:
        """Give each event its store id; (count, JSON array) per row of up to ROW_EVENTS."""
        randomness = os.urandom(6 * len(events)).hex()
        prefix = f"{stamp:014x}"
        for index, event in enumerate(events):
            head = event.get("event")
            if type(head) is not dict:
                head = event["event"] = {}
            current = head.get("id")
            if not (type(current) is str and STORE_ID_RE.fullmatch(current)):
                if current is not None:
                    extension = event.setdefault("dijkwacht", {})
                    if type(extension) is dict:
                        extension.setdefault("source_event_id", current)
                start = 12 * index
                head["id"] = prefix + randomness[start : start + 12]
        dumps = orjson.dumps
        return [
            (len(part), dumps(part))
            for part in (
                list(events[i : i + ROW_EVENTS]) for i in range(0, len(events), ROW_EVENTS)
            )
        ]

    @staticmethod
    def _bump_counts(
        conn: sqlite3.Connection,
        *,
        source: str | None,
        parsed: int,
        dead: Sequence[DeadLetter],
        stamp: int,
    ) -> None:
        per_source: dict[str, list[int]] = {}
        if source is not None and (parsed or not dead):
            per_source[source] = [parsed, 0]
        for letter in dead:
            per_source.setdefault(letter.source, [0, 0])[1] += 1
        rows = [
            (name, parsed_n + dead_n, parsed_n, dead_n, 0, stamp if parsed_n + dead_n else None)
            for name, (parsed_n, dead_n) in per_source.items()
        ]
        conn.executemany(BUMP, rows)

    # -- draining ------------------------------------------------------------------------------

    def pending(self) -> int:
        """Events and dead letters not yet acknowledged.

        Sequence numbers and dead-letter ids grow by one and only prefixes are deleted, so each
        count is a difference of index look-ups instead of a table scan.
        """
        conn = self._conn
        events = conn.execute(
            "SELECT (SELECT max(last) FROM spool_batches) - max("
            "(SELECT up_to FROM spool_acked), "
            "(SELECT last - count FROM spool_batches ORDER BY last LIMIT 1))"
        ).fetchone()[0]
        low, high = conn.execute("SELECT min(id), max(id) FROM spool_dead").fetchone()
        dead = 0 if low is None else high - low + 1
        return int(events or 0) + int(dead)

    def is_full(self) -> bool:
        """True when collectors must stop accepting input (back-pressure)."""
        return self.pending() >= self.max_pending

    def take(self, limit: int) -> list[tuple[int, Event]]:
        """Up to `limit` events, oldest first, with their spool ids; they stay until `ack`.

        Whole rows while they fit, so a batch may hold fewer than `limit` events; a first row
        longer than `limit` is cut (and decoded again by the next `take`).
        """
        if limit < 1:
            return []
        loads = orjson.loads
        taken: list[tuple[int, Event]] = []
        # Rows are read one at a time (a backlog can be large); closing the cursor ends the
        # read so the following `ack` and WAL checkpoints are not held up by it.
        rows = self._conn.execute(UNACKED)
        try:
            for last, count, body, up_to in rows:
                first = max(last - count + 1, up_to + 1)
                room = limit - len(taken)
                if taken and last - first + 1 > room:
                    break
                events = loads(body)[first - (last - count + 1) :][:room]
                taken.extend(zip(range(first, first + len(events)), events, strict=True))
                if len(taken) >= limit:
                    break
        finally:
            rows.close()
        return taken

    def ack(self, up_to_id: int) -> None:
        """Forget every event with a spool id up to `up_to_id` (they are stored downstream)."""
        with write_transaction(self._conn) as conn:
            conn.execute("UPDATE spool_acked SET up_to = max(up_to, ?)", (up_to_id,))
            conn.execute("DELETE FROM spool_batches WHERE last <= ?", (up_to_id,))

    def take_dead(self, limit: int) -> list[tuple[int, DeadLetter]]:
        """Spooled dead letters, oldest first, for the consumer to move to the event store."""
        rows = self._conn.execute(
            'SELECT id, source, reason, "offset", raw, raw_length, received_at FROM spool_dead '
            "ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            (
                int(row[0]),
                DeadLetter(
                    source=row[1],
                    reason=row[2],
                    offset=row[3],
                    raw=bytes(row[4]),
                    raw_length=row[5],
                    received_at=from_micros(row[6]),
                ),
            )
            for row in rows
        ]

    def ack_dead(self, up_to_id: int) -> None:
        """Forget spooled dead letters up to `up_to_id` (they are in the event store now)."""
        with write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM spool_dead WHERE id <= ?", (up_to_id,))

    # -- checkpoints and counters -------------------------------------------------------------

    def checkpoint(self, key: str) -> Any:
        """The value last stored under `key` with `append(..., checkpoint=...)`, or None."""
        row = self._conn.execute("SELECT value FROM checkpoints WHERE key = ?", (key,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def counters(self) -> list[SourceCounters]:
        """Per-source totals, by source name."""
        rows = self._conn.execute(
            "SELECT source, received, parsed, dead_lettered, dropped, last_seen "
            "FROM source_counters ORDER BY source"
        ).fetchall()
        return [
            SourceCounters(
                source=row[0],
                received=row[1],
                parsed=row[2],
                dead_lettered=row[3],
                dropped=row[4],
                last_seen=None if row[5] is None else from_micros(row[5]),
            )
            for row in rows
        ]


_INSERT_DEAD = (
    'INSERT INTO spool_dead (source, reason, "offset", raw, raw_length, received_at) '
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def _dead_row(letter: DeadLetter, stamp: int) -> tuple[Any, ...]:
    received = stamp if letter.received_at is None else _micros(letter.received_at)
    length = letter.raw_length if letter.raw_length is not None else len(letter.raw)
    return (
        letter.source,
        letter.reason,
        letter.offset,
        bytes(letter.raw[:MAX_DEAD_RAW_BYTES]),
        length,
        received,
    )


def open_spool(settings: Settings, *, clock: Clock | None = None) -> Spool:
    """The spool of these settings (`<data_dir>/spool.sqlite`); the caller closes it."""
    return Spool(
        settings.resolved_data_dir / SPOOL_FILE, max_pending=settings.spool_max_pending, clock=clock
    )
