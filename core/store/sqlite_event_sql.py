"""SQL of the embedded event store's searches: ECS paths to columns, filters to a WHERE clause.

Apart from `core.store.sqlite_events` (storage, schema, reads) so each stays one screenful of
purpose: values and JSON paths are always bound parameters, never spliced into SQL.
"""

from __future__ import annotations

from typing import Any

from core.store.base import EventQuery, check_event_query
from core.store.sqlite_common import to_micros

# ECS path -> column; these filters use an index, every other path uses json_extract on `body`.
INDEXED_COLUMNS: dict[str, str] = {
    "event.dataset": "dataset",
    "event.kind": "kind",
    "host.name": "host_name",
    "user.name": "user_name",
    "source.ip": "source_ip",
}


def fts_phrase_query(text: str) -> str | None:
    """Turn user words into an FTS5 query: every word must occur, FTS5 syntax is not parsed.

    Each word becomes a quoted phrase, so `10.0.0.5` or `C:\\Windows` match as written and a
    stray `"` or `-` from an analyst is not an FTS5 syntax error.
    """
    words = text.split()
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def json_path(path: str) -> str:
    """SQLite JSON path for a dotted ECS path; keys are quoted so `@timestamp` etc. work."""
    return "$" + "".join('."' + part.replace('"', '\\"') + '"' for part in path.split("."))


def span_of(query: EventQuery) -> tuple[int | None, int | None]:
    """The query's time range in epoch micros (None where open)."""
    return (
        None if query.start is None else to_micros(query.start, field="start"),
        None if query.end is None else to_micros(query.end, field="end"),
    )


def match_of(query: EventQuery) -> str | None:
    """The FTS5 query of the search's free text, None without text."""
    return None if query.text is None else fts_phrase_query(query.text)


def where_clause(query: EventQuery, *, text: bool = True) -> tuple[str, list[Any]]:
    """WHERE clause and parameters; values and JSON paths are bound, never spliced into SQL.

    `text=False` leaves the free text out, for the plans of core.store.sqlite_event_text.
    """
    check_event_query(query)
    clauses: list[str] = []
    params: list[Any] = []
    if query.start is not None:
        clauses.append("ts >= ?")
        params.append(to_micros(query.start, field="start"))
    if query.end is not None:
        clauses.append("ts < ?")
        params.append(to_micros(query.end, field="end"))
    for path, value in query.filters.items():
        column = INDEXED_COLUMNS.get(path)
        if column is not None:
            target, target_params = column, []
        else:
            target, target_params = "json_extract(body, ?)", [json_path(path)]
        if value is None:
            clauses.append(f"{target} IS NULL")
            params.extend(target_params)
            continue
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        if column is not None:
            values = [v if isinstance(v, str) else str(v) for v in values]
        marks = ", ".join("?" * len(values))
        clauses.append(f"{target} IN ({marks})" if len(values) > 1 else f"{target} = ?")
        params.extend(target_params)
        params.extend(values)
    for path, value in query.exclude.items():
        column = INDEXED_COLUMNS.get(path)
        target = column or "json_extract(body, ?)"
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        if column is not None:
            values = [v if isinstance(v, str) else str(v) for v in values]
        marks = ", ".join("?" * len(values))
        # NULL-safe: events without the field stay in (NOT IN alone would drop them).
        clauses.append(f"({target} IS NULL OR {target} NOT IN ({marks}))")
        if column is None:
            params.extend([json_path(path), json_path(path)])
        params.extend(values)
    if text and query.text is not None:
        match = fts_phrase_query(query.text)
        if match is not None:
            clauses.append("rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)")
            params.append(match)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
