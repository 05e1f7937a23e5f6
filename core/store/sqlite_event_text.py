"""Query plans of the SQLite event store for searches with free text (FTS5).

A text search is an intersection of two sets that SQLite cannot merge by itself: the FTS
matches (all time, in rowid order) and the events of the time range (in `ts` order). The
obvious `rowid IN (SELECT rowid FROM events_fts WHERE ... MATCH ?)` copies *every* match into a
temporary B-tree first (about 0.25 us each) and then sorts them all by time, reading every body;
the event search page asked that 26 times per answer (page, total and 24 histogram slices). With
100,000 matching events that was about 1 s quiet and, with ingest writing and 30 analysts on the
pages, a p95 of 16 s (bench/load.py). Measured on the same 100,000 matches:

- `page_rowids`: when the text matches many events (at least FEW_MATCHES), walk the time index
  newest first and probe FTS per row (about 80 us per hit, 8 us per miss), stopping at the
  page's end: 4 ms for page 1. When that walk finds no full page within DENSE_SCAN rows, or
  the text is rare, let FTS drive: stream the matches (no temporary B-tree), look up each
  one's `ts` and keep only the page's rowids in a top-N sort: 36 ms (was 125 ms), bodies are
  then read for the page only.
- `capped_count`: FTS drives and the count stops at `cap`: 1.4 ms for "10,000+" (was 28 ms).
- `slice_counts`: one pass over the matches grouped by slice: 32 ms for the whole histogram
  (was 24 passes, 580 ms).

Every function takes the WHERE clause of the other filters (`where`, `params`, built by the
store without the text) and the FTS5 query `match`. In the joins FTS is named `f` and the
events `e`; the clause's bare column names resolve to `e` (FTS has no such columns).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

# The text is "common" when FTS holds at least this many matches (counted up to here, 1 ms):
# then the newest rows of the range very likely include a page of them.
FEW_MATCHES = 5_000
# Rows of the time range probed before the dense plan gives up and FTS drives instead
# (worst case about 16 ms of misses); pages that need more rows than a quarter of it go
# straight to the FTS-driven plan.
DENSE_SCAN = 2_000

_FTS_JOIN = "events_fts AS f CROSS JOIN events AS e ON e.rowid = f.rowid"


def _and(where: str) -> str:
    """The other filters as an `AND ...` tail after the MATCH (the store's clause starts WHERE)."""
    return " AND " + where.removeprefix(" WHERE ") if where else ""


def matches_at_least(conn: sqlite3.Connection, match: str, n: int) -> bool:
    """Whether FTS holds `n` or more matches (all time); stops counting at `n`."""
    sql = "SELECT count(*) FROM (SELECT 1 FROM events_fts WHERE events_fts MATCH ? LIMIT ?)"
    return int(conn.execute(sql, (match, n)).fetchone()[0]) >= n


def page_rowids(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str,
    order: Literal["asc", "desc"],
    limit: int,
    offset: int,
) -> list[int]:
    """Rowids of one page of matching events, by (ts, rowid) in `order`."""
    needed = offset + limit
    if needed > 0 and 4 * needed <= DENSE_SCAN and matches_at_least(conn, match, FEW_MATCHES):
        found = _dense_page(conn, where=where, params=params, match=match, order=order, n=needed)
        if found is not None:
            return found[offset:]
    direction = "DESC" if order == "desc" else "ASC"
    sql = (
        f"SELECT e.rowid FROM {_FTS_JOIN} WHERE events_fts MATCH ?{_and(where)} "
        f"ORDER BY e.ts {direction}, e.rowid {direction} LIMIT ? OFFSET ?"
    )
    return [row[0] for row in conn.execute(sql, [match, *params, limit, offset])]


def _dense_page(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str,
    order: Literal["asc", "desc"],
    n: int,
) -> list[int] | None:
    """The first `n` matching rowids in time order, probing at most DENSE_SCAN rows of the range.

    None when the probed rows held fewer than `n` matches but the range has more rows: the
    answer is then unknown here, and the caller lets FTS drive. Rows are stepped one by one
    from Python, so the walk stops exactly where the page is full.
    """
    direction = "DESC" if order == "desc" else "ASC"
    sql = (
        "SELECT rowid, EXISTS (SELECT 1 FROM events_fts WHERE events_fts MATCH ? "
        f"AND rowid = events.rowid) FROM events{where} ORDER BY ts {direction}, rowid {direction}"
    )
    found: list[int] = []
    cursor = conn.execute(sql, [match, *params])
    try:
        for seen, (rowid, hit) in enumerate(cursor, start=1):
            if hit:
                found.append(rowid)
                if len(found) == n:
                    return found
            if seen == DENSE_SCAN:
                return None
    finally:
        cursor.close()
    return found  # the whole range was probed: fewer than `n` matches exist


def capped_count(
    conn: sqlite3.Connection, *, where: str, params: list[Any], match: str, cap: int | None
) -> int:
    """Matching events, counted up to `cap` when given (FTS drives; nothing is copied)."""
    inner = f"SELECT 1 FROM {_FTS_JOIN} WHERE events_fts MATCH ?{_and(where)}"
    if cap is None:
        return int(conn.execute(f"SELECT count(*) FROM ({inner})", [match, *params]).fetchone()[0])
    sql = f"SELECT count(*) FROM ({inner} LIMIT ?)"
    return int(conn.execute(sql, [match, *params, max(cap, 0)]).fetchone()[0])


def slice_counts(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str | None,
    start: int,
    step: int,
    buckets: int,
) -> list[int]:
    """Matches per time slice [start + i*step, start + (i+1)*step), in one pass (micros)."""
    span = "ts >= ? AND ts < ?"
    bounds = [start, start + step * buckets]
    if match is None:
        clause = f"{where} AND {span}" if where else f" WHERE {span}"
        source, args = f"events{clause}", [*params, *bounds]
    else:
        source = f"{_FTS_JOIN} WHERE events_fts MATCH ?{_and(where)} AND {span}"
        args = [match, *params, *bounds]
    sql = f"SELECT (ts - ?) / ? AS slice, count(*) FROM {source} GROUP BY slice"
    counts = [0] * buckets
    for index, n in conn.execute(sql, [start, step, *args]):
        counts[int(index)] = int(n)
    return counts
