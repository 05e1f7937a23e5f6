"""The embedded alert store: the analyst's queue in its own SQLite file.

Alerts live in `alerts.sqlite`, not in the events file: SQLite allows one writer per file, and a
bulk ingest must not make detection wait to save an alert (or the other way round). Durability
and threading are as for the event store (WAL, synchronous=FULL, one instance per thread).

The queue's first page (`status IN (...) ORDER BY created_at DESC LIMIT 50`) is served by the
`(status, created_at)` index without a sort; skipped rows of an OFFSET are read from the index
only, the table row is fetched just for the rows on the page.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson

from core.clock import Clock, SystemClock
from core.errors import NotFoundError, ValidationError
from core.store.base import (
    ALERT_LEVELS,
    AlertQuery,
    AlertStatus,
    NewAlert,
    StoredAlert,
    check_alert_page,
    check_alert_query,
    check_exercise_id,
    check_new_alert,
    check_slices,
    status_change_ids,
)
from core.store.sqlite_common import (
    SqliteFile,
    apply_schema,
    connect,
    from_micros,
    schema_version,
    to_micros,
    write_transaction,
)

SCHEMA_VERSION = 3
# Version 3: event time of the first and last matching event, backfilled from the body
# (`event_time`, `last_seen`, as detection writes them) or the storage time.
_EVENT_TIME_COLUMNS = ("first_event_at", "last_event_at")
_EVENT_TIME_SCHEMA = """
UPDATE alerts SET first_event_at = coalesce(CAST(round(
    (julianday(json_extract(body, '$.event_time')) - 2440587.5) * 86400000) AS INTEGER) * 1000,
    created_at);
UPDATE alerts SET last_event_at = coalesce(CAST(round(
    (julianday(json_extract(body, '$.last_seen')) - 2440587.5) * 86400000) AS INTEGER) * 1000,
    first_event_at);
CREATE INDEX IF NOT EXISTS alerts_status_event ON alerts (status, first_event_at);
CREATE INDEX IF NOT EXISTS alerts_event ON alerts (first_event_at);
"""
_LEVEL_RANK = {level: rank for rank, level in enumerate(ALERT_LEVELS)}

# Times are epoch microseconds; `level_rank` orders by severity without a CASE expression.
_ALERT_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    level TEXT NOT NULL,
    level_rank INTEGER NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    host_name TEXT,
    user_name TEXT,
    exercise_id TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_status_created ON alerts (status, created_at);
CREATE INDEX IF NOT EXISTS alerts_status_level_created
    ON alerts (status, level_rank, created_at);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created_at);
CREATE INDEX IF NOT EXISTS alerts_rule_created ON alerts (rule_id, created_at);
CREATE INDEX IF NOT EXISTS alerts_host_created ON alerts (host_name, created_at);
CREATE INDEX IF NOT EXISTS alerts_user_created ON alerts (user_name, created_at);
CREATE INDEX IF NOT EXISTS alerts_assignee_status ON alerts (assignee, status);
CREATE INDEX IF NOT EXISTS alerts_exercise ON alerts (exercise_id) WHERE exercise_id IS NOT NULL;

-- Version 2: running totals per (status, level, drill or not), kept by triggers in the same
-- transaction as the change, so counting the queue by status and level sums at most 50 rows
-- instead of scanning an index (the page's total and the live counter over 1M alerts). A
-- total that reaches 0 is removed: deleting what was added leaves the tables as they were
-- (drill rollback checks that).
CREATE TABLE IF NOT EXISTS alert_counts (
    status TEXT NOT NULL,
    level TEXT NOT NULL,
    exercise INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, level, exercise)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS alert_counts_insert AFTER INSERT ON alerts BEGIN
{count_new_in}END;
CREATE TRIGGER IF NOT EXISTS alert_counts_delete AFTER DELETE ON alerts BEGIN
{count_old_out}END;
CREATE TRIGGER IF NOT EXISTS alert_counts_update AFTER UPDATE OF status, level, exercise_id
    ON alerts
    WHEN old.status IS NOT new.status OR old.level IS NOT new.level
        OR (old.exercise_id IS NULL) IS NOT (new.exercise_id IS NULL)
BEGIN
{count_old_out}{count_new_in}END;
-- Rebuilt whenever the schema is applied (new file, or an upgrade from version 1).
DELETE FROM alert_counts;
INSERT INTO alert_counts
    SELECT status, level, exercise_id IS NOT NULL, count(*) FROM alerts GROUP BY 1, 2, 3;
"""
# The totals' two steps, shared by the triggers: take the old row out (dropping a total that
# reaches 0), count the new row in.
_COUNT_OLD_OUT = """    UPDATE alert_counts SET n = n - 1
        WHERE status = old.status AND level = old.level
        AND exercise = (old.exercise_id IS NOT NULL);
    DELETE FROM alert_counts
        WHERE status = old.status AND level = old.level
        AND exercise = (old.exercise_id IS NOT NULL) AND n = 0;
"""
_COUNT_NEW_IN = """    INSERT INTO alert_counts
        VALUES (new.status, new.level, new.exercise_id IS NOT NULL, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
"""
ALERT_SCHEMA = _ALERT_SCHEMA.format(count_old_out=_COUNT_OLD_OUT, count_new_in=_COUNT_NEW_IN)

_COLUMNS = (
    "id, created_at, updated_at, rule_id, rule_title, level, status, assignee, "
    "host_name, user_name, exercise_id, body, first_event_at, last_event_at"
)
_TIME_COLUMN = {"created": "created_at", "event": "first_event_at"}
_ORDER = {
    "newest": "{t} DESC, rowid DESC",
    "oldest": "{t} ASC, rowid ASC",
    "severity": "level_rank DESC, {t} DESC, rowid DESC",
}


class SqliteAlertStore(SqliteFile):
    """`AlertStore` on one SQLite file; see the module docstring for the file choice."""

    def __init__(self, path: Path, *, clock: Clock | None = None, timeout_s: float = 10.0) -> None:
        self.path = path
        self._clock = clock or SystemClock()
        self._conn = connect(path, timeout_s=timeout_s)
        version = schema_version(self._conn, path, newest=SCHEMA_VERSION, name="alert database")
        if version < 2:
            # Only a new or older file needs the DDL: applying it on every open is a write
            # transaction (and an fsync) per dashboard request.
            apply_schema(self._conn, ALERT_SCHEMA, version=2)
        if version < SCHEMA_VERSION:
            have = {row[1] for row in self._conn.execute("PRAGMA table_info(alerts)")}
            adds = "".join(
                f"ALTER TABLE alerts ADD COLUMN {name} INTEGER;\n"
                for name in _EVENT_TIME_COLUMNS
                if name not in have
            )
            try:
                apply_schema(self._conn, adds + _EVENT_TIME_SCHEMA, version=SCHEMA_VERSION)
            except sqlite3.OperationalError as exc:
                # Another process (a second web worker) upgraded the file between our look
                # and our write lock: its columns are there, so ours are not needed.
                upgraded = schema_version(
                    self._conn, path, newest=SCHEMA_VERSION, name="alert database"
                )
                if "duplicate column" not in str(exc) or upgraded < SCHEMA_VERSION:
                    raise

    def add_batch(self, alerts: Sequence[NewAlert]) -> list[str]:
        """Validate all, then insert all in one transaction; return the new ids in order."""
        if not alerts:
            return []
        now = to_micros(self._clock.now(), field="clock")
        randomness = os.urandom(6 * len(alerts)).hex()
        rows = []
        for index, alert in enumerate(alerts):
            check_new_alert(index, alert)
            created = to_micros(alert.created_at, field=f"alerts[{index}].created_at")
            start = 12 * index
            try:
                body = orjson.dumps(alert.body).decode()
            except orjson.JSONEncodeError as exc:
                raise ValidationError(f"alerts[{index}].body", f"not JSON: {exc}") from None
            first, last = _event_times(index, alert, created)
            rows.append(
                (
                    f"{created:014x}{randomness[start : start + 12]}",
                    created,
                    now,
                    alert.rule_id,
                    alert.rule_title,
                    alert.level,
                    _LEVEL_RANK[alert.level],
                    alert.status,
                    alert.assignee,
                    alert.host_name,
                    alert.user_name,
                    alert.exercise_id,
                    body,
                    first,
                    last,
                )
            )
        with write_transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO alerts (id, created_at, updated_at, rule_id, rule_title, level, "
                "level_rank, status, assignee, host_name, user_name, exercise_id, body, "
                "first_event_at, last_event_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return [row[0] for row in rows]

    def search(self, query: AlertQuery) -> list[StoredAlert]:
        """One page of matching alerts in the requested order (ties by insertion order)."""
        check_alert_page(query)  # no result window: SQLite pages as deep as asked
        sql, params = page_sql(query)
        rows = self._conn.execute(sql, params).fetchall()
        return [_stored(row) for row in rows]

    def count(self, query: AlertQuery, *, cap: int | None = None) -> int:
        """Matching alerts; `cap` bounds the index scan (a status filter over 1M rows is 20 ms).

        Filters on status, level and drill only are answered exactly from `alert_counts`.
        """
        totals = _totals_sql(query)
        if totals is not None:
            return int(self._conn.execute(*totals).fetchone()[0])
        where, params = _where(query)
        if cap is None:
            sql = f"SELECT count(*) FROM alerts{where}"
        else:
            sql = f"SELECT count(*) FROM (SELECT 1 FROM alerts{where} LIMIT ?)"
            params.append(max(cap, 0))
        return int(self._conn.execute(sql, params).fetchone()[0])

    def count_slices(
        self, query: AlertQuery, *, start: datetime, step: timedelta, buckets: int
    ) -> dict[str, list[int]]:
        """Per level and slice in one grouped pass over the range's rows (see AlertStore)."""
        check_slices(start=start, step=step, buckets=buckets)
        where, params = _where(query)
        column = _time_column(query)
        first, size = to_micros(start, field="start"), step // timedelta(microseconds=1)
        bounds = f"{column} >= ? AND {column} < ?"
        where = f"{where} AND {bounds}" if where else f" WHERE {bounds}"
        sql = (
            f"SELECT level, ({column} - ?) / ? AS slice, count(*) FROM alerts{where} "
            "GROUP BY level, slice"
        )
        counts: dict[str, list[int]] = {level: [0] * buckets for level in ALERT_LEVELS}
        rows = self._conn.execute(sql, [first, size, *params, first, first + size * buckets])
        for level, index, n in rows:
            if level in counts:
                counts[level][int(index)] = int(n)
        return counts

    def get(self, alert_id: str) -> StoredAlert:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"alert {alert_id!r} not found")
        return _stored(row)

    def update_status(
        self, ids: Sequence[str], *, status: AlertStatus, assignee: str | None = None
    ) -> int:
        """Set status (and assignee) of all ids at once; unknown ids change nothing and raise."""
        unique = status_change_ids(ids, status=status, assignee=assignee)
        if not unique:
            return 0
        now = to_micros(self._clock.now(), field="clock")
        with write_transaction(self._conn):
            self._conn.executemany(
                "UPDATE alerts SET status = ?, assignee = coalesce(?, assignee), updated_at = ? "
                "WHERE id = ?",
                [(status, assignee, now, alert_id) for alert_id in unique],
            )
            missing = self._missing(unique)
            if missing:
                # Raising inside the transaction rolls back the alerts that did exist.
                shown = ", ".join(repr(alert_id) for alert_id in missing[:5])
                raise NotFoundError(f"{len(missing)} alert(s) not found: {shown}")
        return len(unique)

    def merge_body(self, alert_id: str, updates: Mapping[str, Any]) -> None:
        """Set top-level body keys of one alert (a repeat count, the last event seen)."""
        try:
            patch = orjson.dumps(dict(updates)).decode()
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise ValidationError("updates", f"not JSON: {exc}") from None
        now = to_micros(self._clock.now(), field="clock")
        with write_transaction(self._conn):
            row = self._conn.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"alert {alert_id!r} not found")
            body = orjson.loads(row[0]) | orjson.loads(patch)
            self._conn.execute(
                "UPDATE alerts SET body = ?, updated_at = ? WHERE id = ?",
                (orjson.dumps(body).decode(), now, alert_id),
            )
            last = _body_time(updates.get("last_seen"))
            if last is not None:
                self._conn.execute(
                    "UPDATE alerts SET last_event_at = max(coalesce(last_event_at, 0), ?) "
                    "WHERE id = ?",
                    (last, alert_id),
                )

    def _missing(self, ids: list[str]) -> list[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self._conn.execute(f"SELECT id FROM alerts WHERE id IN ({marks})", chunk)
            )
        return [alert_id for alert_id in ids if alert_id not in found]

    def delete_by_exercise(self, exercise_id: str) -> int:
        """Remove a drill's alerts; return how many (real alerts have no exercise id)."""
        check_exercise_id(exercise_id)
        with write_transaction(self._conn):
            cursor = self._conn.execute("DELETE FROM alerts WHERE exercise_id = ?", (exercise_id,))
        return int(cursor.rowcount)


def page_sql(query: AlertQuery) -> tuple[str, list[Any]]:
    """The exact SELECT `search` runs for a page; public so bench/dashboard.py times the same."""
    where, params = _where(query)
    order = _ORDER[query.sort].format(t=_time_column(query))
    sql = f"SELECT {_COLUMNS} FROM alerts{where} ORDER BY {order} LIMIT ? OFFSET ?"
    return sql, [*params, query.limit, query.offset]


def _stored(row: tuple[Any, ...]) -> StoredAlert:
    # Positional, in `_COLUMNS` order: this runs for every row of every queue page, and keyword
    # arguments made it a quarter slower.
    return StoredAlert(
        row[0],
        from_micros(row[1]),
        from_micros(row[2]),
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        cast(dict[str, Any], orjson.loads(row[11])),
        None if row[12] is None else from_micros(row[12]),
        None if row[13] is None else from_micros(row[13]),
    )


def _any_of(column: str, values: Sequence[str], clauses: list[str], params: list[Any]) -> None:
    if not values:
        return
    if isinstance(values, str):
        values = [values]
    if len(values) == 1:
        clauses.append(f"{column} = ?")
    else:
        clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
    params.extend(values)


def _totals_sql(query: AlertQuery) -> tuple[str, list[Any]] | None:
    """The count as a sum over `alert_counts`, when the query filters on nothing else."""
    if (
        query.rule_ids
        or query.start is not None
        or query.end is not None
        or any(getattr(query, column) is not None for column in _ROW_FILTERS)
    ):
        return None
    check_alert_query(query)
    clauses: list[str] = []
    params: list[Any] = []
    _any_of("status", query.statuses, clauses, params)
    _any_of("level", query.levels, clauses, params)
    if query.exercise is not None:
        clauses.append("exercise = ?")
        params.append(int(query.exercise))
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return f"SELECT coalesce(sum(n), 0) FROM alert_counts{where}", params


_ROW_FILTERS = ("host_name", "user_name", "assignee")


def _where(query: AlertQuery) -> tuple[str, list[Any]]:
    """WHERE clause and bound parameters; column names come from this code, never the caller."""
    check_alert_query(query)
    clauses: list[str] = []
    params: list[Any] = []
    _any_of("status", query.statuses, clauses, params)
    _any_of("level", query.levels, clauses, params)
    _any_of("rule_id", query.rule_ids, clauses, params)
    for column in _ROW_FILTERS:
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.exercise is True:
        clauses.append("exercise_id IS NOT NULL")
    elif query.exercise is False:
        clauses.append("exercise_id IS NULL")
    column = _time_column(query)
    if query.start is not None:
        clauses.append(f"{column} >= ?")
        params.append(to_micros(query.start, field="start"))
    if query.end is not None:
        clauses.append(f"{column} < ?")
        params.append(to_micros(query.end, field="end"))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _time_column(query: AlertQuery) -> str:
    return _TIME_COLUMN[query.time]  # checked by check_alert_query


def _body_time(value: Any) -> int | None:
    """Epoch microseconds of an ISO time in an alert body; None when absent or no time."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return None
    return to_micros(moment, field="body")


def _event_times(index: int, alert: NewAlert, created: int) -> tuple[int, int]:
    prefix = f"alerts[{index}]"
    if alert.first_event_at is not None:
        first = to_micros(alert.first_event_at, field=f"{prefix}.first_event_at")
    else:
        first = _body_time(alert.body.get("event_time")) or created
    if alert.last_event_at is not None:
        last = to_micros(alert.last_event_at, field=f"{prefix}.last_event_at")
    else:
        last = _body_time(alert.body.get("last_seen")) or first
    return first, max(first, last)
