"""The embedded event store: one SQLite file with indexed ECS columns, a JSON body and FTS5.

Durability: the database runs in WAL mode with `synchronous=FULL`. A transaction is committed
only after its WAL frames are written *and fsynced*, so a committed batch survives both a SIGKILL
of the process and a power loss. (`synchronous=NORMAL` would also survive SIGKILL, because the
frames are already in the OS page cache, but it can roll back the last commits on power loss;
"nothing acknowledged is lost" rules that out. The cost is one fsync per batch, not per event.)

Validation: `add_batch` validates every event before writing anything and raises
`InvalidEventError` (a `ValidationError` naming the index and field) for the first bad one; the
batch is then not stored at all. Callers that must keep going (the ingest command, collectors)
validate per record first and dead-letter what fails.

Threads: a store instance owns one connection; it may move between threads (FastAPI closes a
request-scoped store in another pool thread) but must never be used by two at once. Open one
instance per request, thread or process; WAL lets
readers run while one writer commits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from core.clock import Clock, SystemClock
from core.errors import NotFoundError, ValidationError
from core.events import Event, get_field, validate_event
from core.store import sqlite_event_text as text_plans
from core.store.base import (
    MAX_DEAD_LETTER_BYTES,
    MAX_REASON_CHARS,
    DeadLetter,
    DeadLetterCount,
    EventQuery,
    InvalidEventError,
    StoredEvent,
    check_counts_by,
    check_dead_letter_listing,
    check_event_page,
    check_exercise_id,
    check_slices,
)
from core.store.sqlite_common import EPOCH as EPOCH
from core.store.sqlite_common import ONE_MICROSECOND as ONE_MICROSECOND
from core.store.sqlite_common import PRAGMAS as PRAGMAS
from core.store.sqlite_common import (
    SqliteFile,
    apply_schema,
    connect,
    from_micros,
    schema_version,
    to_micros,
    write_transaction,
)
from core.store.sqlite_event_sql import (
    INDEXED_COLUMNS,
    json_path,
    match_of,
    span_of,
    where_clause,
)

# 2: the FTS index is fed by `add_batch` (one statement per batch), not a per-row trigger.
# 3: the indexes on nullable columns (host, user, source ip) are partial: rows without the
#    field are not indexed (see EVENT_SCHEMA).
# 4: `event_deletions` counts deleted rows (the delete trigger), so cached histograms
#    (core.store.sqlite_event_text.SliceCounts) know when rows they counted are gone.
SCHEMA_VERSION = 4
# Raw dead-letter input beyond MAX_DEAD_LETTER_BYTES (core.store.base) is cut off (the full
# length is kept in `raw_length`): one runaway line must not fill the disk, and 64 KiB is
# enough to see what went wrong.

# An `event.id` in the store's own id format is used as the row id (idempotent redelivery from
# the collectors' spool); upstream ids of other shapes are not unique enough to key the store.
_OWN_ID = re.compile(r"[0-9a-f]{26}")

# Indexed columns read from nested dicts on the hot path (dataset and kind are read directly).
_EXTRACTED = tuple(
    (path, tuple(path.split("."))) for path in ("host.name", "user.name", "source.ip")
)

# `ts` is epoch microseconds (INTEGER): compact, exact, and range scans compare integers.
# `id` is time-sortable hex (see `_ids`); rowid stays the physical key so FTS5 can refer to it.
# The FTS table is contentless: the text lives once, in `body`. `add_batch` feeds the index per
# batch, in the same transaction (bound text, or one INSERT ... SELECT when some ids were already
# stored): an AFTER INSERT trigger made FTS5 flush its pending terms to a new segment for every
# row (each trigger run is a savepoint), about 4x slower in total.
# The indexes on host, user and source ip are partial (`WHERE ... IS NOT NULL`): many events
# (syslog, most network records) lack some of them, and a full index paid a B-tree insert per
# row for a NULL nobody looks up. `col = ?` and `col IN (...)` imply NOT NULL, so SQLite still
# uses them for every indexed filter; only a `None` filter (`col IS NULL`) scans. A schema 2 file
# gets them when opened (a one-time index build): the DROP/CREATE pairs below are idempotent
# (new `*_partial` names, IF [NOT] EXISTS).
EVENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    kind TEXT NOT NULL,
    host_name TEXT,
    user_name TEXT,
    source_ip TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_dataset_ts ON events (dataset, ts);
DROP INDEX IF EXISTS events_host_ts;
DROP INDEX IF EXISTS events_user_ts;
DROP INDEX IF EXISTS events_source_ip_ts;
CREATE INDEX IF NOT EXISTS events_host_ts_partial ON events (host_name, ts)
    WHERE host_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_user_ts_partial ON events (user_name, ts)
    WHERE user_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_source_ip_ts_partial ON events (source_ip, ts)
    WHERE source_ip IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5 (
    original, content='', tokenize='unicode61'
);
DROP TRIGGER IF EXISTS events_fts_insert;
CREATE TABLE IF NOT EXISTS event_deletions (n INTEGER NOT NULL);
INSERT INTO event_deletions (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM event_deletions);
DROP TRIGGER IF EXISTS events_fts_delete;
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, original)
    VALUES ('delete', old.rowid, json_extract(old.body, '$.event.original'));
    UPDATE event_deletions SET n = n + 1;
END;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    "offset" INTEGER,
    raw BLOB NOT NULL,
    raw_length INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_source ON dead_letters (source, id);
"""

# `OR IGNORE`: an event that carries its id (the collectors' spool assigns one, see
# `_OWN_ID`) and is redelivered after a crash is stored once; fresh random ids never collide.
INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (id, ts, dataset, kind, host_name, user_name, source_ip, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# SQLite gives a new row max(rowid) + 1, so the rows this transaction inserted are exactly those
# above the maximum before it; duplicates ignored by `OR IGNORE` are not indexed twice.
INDEX_NEW_TEXT = (
    "INSERT INTO events_fts (rowid, original) "
    "SELECT rowid, json_extract(body, '$.event.original') FROM events WHERE rowid > ?"
)
# When every row of the batch was inserted (no id was already stored), the new rowids are
# exactly max + 1 .. max + n in batch order (the transaction holds the write lock), so the text
# is bound from the events instead: json_extract re-parsed every body, about 2 us per event.
INDEX_TEXT = "INSERT INTO events_fts (rowid, original) VALUES (?, ?)"


def _indexed_value(event: Mapping[str, Any], path: str, parts: tuple[str, ...]) -> str | None:
    node: Any = event
    for part in parts:
        if type(node) is not dict:
            node = None
            break
        node = node.get(part)
    if node is None:
        # Flat keys such as {"host.name": ...}, which get_field understands; for a two-part
        # path whose nested walk found nothing, that is exactly the top-level key.
        node = event.get(path) if len(parts) == 2 else get_field(event, path)
        if node is None:
            return None
    if type(node) is str:
        return node
    # Numbers and booleans become text so the exact-match filter still finds them.
    return str(node) if isinstance(node, int | float) else None


def _originals(events: Sequence[Event]) -> Iterator[Any]:
    """What `json_extract(body, '$.event.original')` gives for each event (None if absent)."""
    for event in events:
        head = event.get("event")
        yield head.get("original") if type(head) is dict else None


class SqliteEventStore(SqliteFile):
    """`EventStore` on one SQLite file; see the module docstring for durability and threads."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        timeout_s: float = 10.0,
        slice_cache: text_plans.SliceCounts | None = None,
    ) -> None:
        """`slice_cache`: histograms counted before (shared by a process's stores; see
        `SliceCounts`); without one every histogram is counted in full."""
        self.path = path
        self._clock = clock or SystemClock()
        self._slice_cache = slice_cache
        self._conn = connect(path, timeout_s=timeout_s)
        version = schema_version(self._conn, path, newest=SCHEMA_VERSION, name="event database")
        if version < SCHEMA_VERSION:
            # Only a new or older file needs the DDL (a write transaction): opening a current
            # store must not wait for the write lock another process holds (the collector).
            apply_schema(self._conn, EVENT_SCHEMA, version=SCHEMA_VERSION)

    # -- writing -------------------------------------------------------------------------------

    def add_batch(self, events: Sequence[Event]) -> list[str]:
        """Validate all, then insert all in one transaction; return the new ids in order."""
        if not events:
            return []
        rows = self._rows(events)
        conn = self._conn
        with write_transaction(conn):
            before = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
            inserted = conn.executemany(INSERT_EVENT, rows).rowcount
            if inserted == len(rows):
                first = before + 1
                conn.executemany(
                    INDEX_TEXT,
                    zip(range(first, first + len(rows)), _originals(events), strict=True),
                )
            else:  # a redelivered batch: index only the rows that were new
                conn.execute(INDEX_NEW_TEXT, (before,))
        return [row[0] for row in rows]

    def _rows(self, events: Sequence[Event]) -> list[tuple[Any, ...]]:
        """Row tuples for `INSERT_EVENT`; the per-event hot path of ingest, so kept flat."""
        # Ids: 14 hex digits of epoch microseconds (sortable until the year 4254) + 12 random hex
        # digits, drawn for the whole batch at once.
        randomness = os.urandom(6 * len(events)).hex()
        dumps = orjson.dumps
        fromiso = datetime.fromisoformat
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        for index, event in enumerate(events):
            try:
                validate_event(event)
                ts = (fromiso(get_field(event, "@timestamp")) - EPOCH) // ONE_MICROSECOND
                if ts < 0:
                    raise ValidationError("@timestamp", "must not be before 1970-01-01")
                body = dumps(event).decode()
            except ValidationError as exc:
                raise InvalidEventError(index, exc.field, exc.problem) from None
            except orjson.JSONEncodeError as exc:
                raise InvalidEventError(
                    index, "event", f"cannot be stored as JSON: {exc}"
                ) from None
            head = event.get("event")
            if type(head) is dict and "dataset" in head and "kind" in head:
                dataset, kind = head["dataset"], head["kind"]
            else:
                dataset, kind = get_field(event, "event.dataset"), get_field(event, "event.kind")
            start = 12 * index
            own = head.get("id") if type(head) is dict else None
            append(
                (
                    own
                    if type(own) is str and _OWN_ID.fullmatch(own)
                    else f"{ts:014x}{randomness[start : start + 12]}",
                    ts,
                    dataset,
                    kind,
                    *[_indexed_value(event, path, parts) for path, parts in _EXTRACTED],
                    body,
                )
            )
        return rows

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        """Keep unparseable input with its reason; raw bytes are cut at MAX_DEAD_LETTER_BYTES."""
        now = to_micros(self._clock.now(), field="clock")
        rows = [
            (
                letter.source,
                letter.reason[:MAX_REASON_CHARS],
                letter.offset,
                bytes(letter.raw[:MAX_DEAD_LETTER_BYTES]),
                letter.raw_length if letter.raw_length is not None else len(letter.raw),
                now
                if letter.received_at is None
                else to_micros(letter.received_at, field="received_at"),
            )
            for letter in letters
        ]
        if not rows:
            return
        with write_transaction(self._conn):
            self._conn.executemany(
                'INSERT INTO dead_letters (source, reason, "offset", raw, raw_length, received_at)'
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    # -- reading -------------------------------------------------------------------------------

    def search(self, query: EventQuery) -> list[StoredEvent]:
        """Matching events ordered by time (ties by insertion order), one page.

        With free text the page's rowids come first (core.store.sqlite_event_text picks the
        plan), then the bodies of that page only.
        """
        check_event_page(query)  # no result window: SQLite pages as deep as asked
        direction = "DESC" if query.order == "desc" else "ASC"
        loads = orjson.loads
        match = match_of(query)
        if match is None:
            where, params = where_clause(query)
            sql = (
                f"SELECT id, body FROM events{where} "
                f"ORDER BY ts {direction}, rowid {direction} LIMIT ? OFFSET ?"
            )
            rows = self._conn.execute(sql, [*params, query.limit, query.offset]).fetchall()
            return [StoredEvent(id=row[0], event=loads(row[1])) for row in rows]
        where, params = where_clause(query, text=False)
        rowids = text_plans.page_rowids(
            self._conn,
            where=where,
            params=params,
            match=match,
            span=span_of(query),
            order=query.order,
            limit=query.limit,
            offset=query.offset,
        )
        if not rowids:
            return []
        marks = ", ".join("?" * len(rowids))
        sql = f"SELECT rowid, id, body FROM events WHERE rowid IN ({marks})"
        bodies = {row[0]: (row[1], row[2]) for row in self._conn.execute(sql, rowids)}
        return [
            StoredEvent(id=bodies[r][0], event=loads(bodies[r][1])) for r in rowids if r in bodies
        ]

    def count(self, query: EventQuery, *, cap: int | None = None) -> int:
        """Number of matching events, up to `cap` when given; limit and offset are ignored."""
        match = match_of(query)
        if match is not None:
            where, params = where_clause(query, text=False)
            return text_plans.capped_count(
                self._conn,
                where=where,
                params=params,
                match=match,
                span=span_of(query),
                cap=cap,
                filtered=bool(query.filters or query.exclude),
            )
        where, params = where_clause(query)
        if cap is None:
            sql = f"SELECT count(*) FROM events{where}"
        else:
            sql = f"SELECT count(*) FROM (SELECT 1 FROM events{where} LIMIT ?)"
            params.append(max(cap, 0))
        return int(self._conn.execute(sql, params).fetchone()[0])

    def count_slices(
        self, query: EventQuery, *, start: datetime, step: timedelta, buckets: int
    ) -> list[int]:
        """Matches of `query` in each of `buckets` slices of `step` from `start`, in one pass.

        The query's own start and end still apply; a histogram of 24 slices reads the matches
        once instead of 24 times.
        """
        check_slices(start=start, step=step, buckets=buckets)
        step_us = step // ONE_MICROSECOND
        where, params = where_clause(replace(query, start=None, end=None), text=False)
        return text_plans.slice_counts(
            self._conn,
            where=where,
            params=params,
            match=match_of(query),
            span=span_of(query),
            start=to_micros(start, field="start"),
            step=step_us,
            buckets=buckets,
            cache=self._slice_cache,
        )

    def counts_by(
        self, field: str, query: EventQuery | None = None, *, limit: int = 20
    ) -> list[tuple[Any, int]]:
        """(value, count) of an ECS field over matching events, most frequent first (dashboards)."""
        check_counts_by(field, limit=limit)
        where, params = where_clause(query or EventQuery())
        column = INDEXED_COLUMNS.get(field)
        if column is not None:
            key, key_params = column, []
        else:
            key, key_params = "json_extract(body, ?)", [json_path(field)]
        sql = (
            f"SELECT {key} AS value, count(*) AS n FROM events{where} "
            "GROUP BY value ORDER BY n DESC, value LIMIT ?"
        )
        rows = self._conn.execute(sql, [*key_params, *params, limit]).fetchall()
        return [(row[0], int(row[1])) for row in rows]

    def get(self, event_id: str) -> StoredEvent:
        row = self._conn.execute("SELECT id, body FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"event {event_id!r} not found")
        return StoredEvent(id=row[0], event=orjson.loads(row[1]))

    def list_dead_letters(self, *, source: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters oldest first, so reprocessing sees them in arrival order."""
        check_dead_letter_listing(limit=limit)
        sql = 'SELECT id, source, reason, "offset", raw, raw_length, received_at FROM dead_letters'
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        return [
            DeadLetter(
                id=row[0],
                source=row[1],
                reason=row[2],
                offset=row[3],
                raw=bytes(row[4]),
                raw_length=row[5],
                received_at=from_micros(row[6]),
            )
            for row in self._conn.execute(sql, params)
        ]

    def dead_letter_counts(self) -> list[DeadLetterCount]:
        """Dead letters per source, most first (the `dead_letters_source` index serves it)."""
        rows = self._conn.execute(
            "SELECT source, COUNT(*), MAX(received_at) FROM dead_letters GROUP BY source"
            " ORDER BY COUNT(*) DESC, source"
        )
        return [
            DeadLetterCount(row[0], int(row[1]), from_micros(row[2]) if row[2] else None)
            for row in rows
        ]

    def delete_dead_letters(self, ids: Sequence[int]) -> int:
        """Remove dead letters that were replayed successfully; return how many were removed."""
        if not ids:
            return 0
        with write_transaction(self._conn):
            cursor = self._conn.executemany(
                "DELETE FROM dead_letters WHERE id = ?", [(int(i),) for i in ids]
            )
        return int(cursor.rowcount)

    def delete_by_exercise(self, exercise_id: str) -> int:
        """Remove a drill's events (the FTS trigger removes their text); return how many."""
        check_exercise_id(exercise_id)
        with write_transaction(self._conn):
            cursor = self._conn.execute(
                "DELETE FROM events WHERE json_extract(body, '$.dijkwacht.exercise.id') = ?",
                (exercise_id,),
            )
        return int(cursor.rowcount)
