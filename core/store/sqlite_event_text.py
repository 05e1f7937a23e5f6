"""Query plans of the SQLite event store for searches with free text (FTS5).

A text search is an intersection of two sets that SQLite cannot merge by itself: the FTS
matches (all time, in rowid order) and the events of the time range (in `ts` order). The
obvious `rowid IN (SELECT rowid FROM events_fts WHERE ... MATCH ?)` copies *every* match into a
temporary B-tree first (about 0.25 us each) and then sorts them all by time, reading every body;
the event search page asked that 26 times per answer (page, total and 24 histogram slices). With
100,000 matching events that was about 1 s quiet and, with ingest writing and 30 analysts on the
pages, a p95 of 16 s (bench/load.py). Measured on the same 100,000 matches:

- `page_rowids`: when the text matches many events (at least FEW_MATCHES), walk the time index
  newest first and ask FTS which rows of each chunk of CHUNK rowids match (one rowid-range
  query per chunk; it was one probe per row, about 80 us per hit), stopping at the page's
  end. When that walk finds no full page within DENSE_SCAN rows, or the text is rare, let
  FTS drive: stream the matches (no temporary B-tree), look up each
  one's `ts` and keep only the page's rowids in a top-N sort: 36 ms (was 125 ms), bodies are
  then read for the page only.
- `capped_count`: FTS drives and the count stops at `cap`: 1.4 ms for "10,000+" (was 28 ms);
  FTS alone when the range holds every stored event and nothing else filters.
- `slice_counts`: one pass over the matches grouped by slice: 32 ms for the whole histogram
  (was 24 passes, 580 ms); with a `SliceCounts` cache, asking again counts only the events
  stored since.
- A common word over a range that leaves stored events out is cut to that range's rowids
  (`_fts_source`), so the FTS-driven plans do not walk other days' matches.

The whole /events page for a word in 120,000 events, measured in one process on a loaded
machine (load average 13): 4,478 ms before, 505 ms after; CPU 1,010 ms before, 75 ms after,
of which the histogram is 50 ms (its cost stays linear in the range's matches).

Every function takes the WHERE clause of the other filters (`where`, `params`, built by the
store without the text) and the FTS5 query `match`. In the joins FTS is named `f` and the
events `e`; the clause's bare column names resolve to `e` (FTS has no such columns).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
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


Span = tuple[int | None, int | None]


def _fts_source(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str,
    span: Span,
    rowids: Span = (None, None),
) -> tuple[str, list[Any]]:
    """FROM ... WHERE of the FTS-driven join, and its parameters.

    A common word over a time range is cut to the rowids that range holds (min and max rowid
    of its rows, from the time index): FTS5 then skips the matches of other days instead of
    looking up each one's `ts`, so the last 24 hours of a 30-day store cost a day's matches.
    Exact whatever the arrival order; an event stored long before its time (a sender's clock
    far ahead) only widens the cut. `rowids` (after, up to and including) narrows it further:
    the histogram cache counts only the rows stored since it last counted.
    """
    sql = f"{_FTS_JOIN} WHERE events_fts MATCH ?"
    args: list[Any] = [match]
    low = None if rowids[0] is None else rowids[0] + 1
    high = rowids[1]
    if _cuts(conn, span) and matches_at_least(conn, match, FEW_MATCHES):
        clauses = [c for c, v in zip(("ts >= ?", "ts < ?"), span, strict=True) if v is not None]
        first, last = conn.execute(
            f"SELECT min(rowid), max(rowid) FROM events WHERE {' AND '.join(clauses)}",
            [v for v in span if v is not None],
        ).fetchone()
        if first is None:
            first, last = -1, -1
        low = first if low is None else max(low, first)
        high = last if high is None else min(high, last)
    if low is not None or high is not None:
        # One BETWEEN: FTS5 seeks to its ends (two separate bounds may leave one as a filter).
        sql += " AND f.rowid BETWEEN ? AND ?"
        args += [-(2**63) if low is None else low, 2**63 - 1 if high is None else high]
    return sql + _and(where), args + params


def _cuts(conn: sqlite3.Connection, span: Span) -> bool:
    """Whether the range leaves out some stored events (two index seeks): else no cut helps."""
    start, end = span
    if start is None and end is None:
        return False
    # Two subqueries: SQLite answers a lone min() or max() from the index, both at once by a scan.
    oldest, newest = conn.execute(
        "SELECT (SELECT min(ts) FROM events), (SELECT max(ts) FROM events)"
    ).fetchone()
    if oldest is None:
        return False
    return (start is not None and start > oldest) or (end is not None and end <= newest)


def page_rowids(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str,
    span: Span,
    order: Literal["asc", "desc"],
    limit: int,
    offset: int,
) -> list[int]:
    """Rowids of one page of matching events, by (ts, rowid) in `order`.

    `span` is the query's time range (epoch micros, None where open), also part of `where`.
    """
    needed = offset + limit
    if needed > 0 and 4 * needed <= DENSE_SCAN and matches_at_least(conn, match, FEW_MATCHES):
        found = _dense_page(conn, where=where, params=params, match=match, order=order, n=needed)
        if found is not None:
            return found[offset:]
    direction = "DESC" if order == "desc" else "ASC"
    source, args = _fts_source(conn, where=where, params=params, match=match, span=span)
    sql = (
        f"SELECT e.rowid FROM {source} "
        f"ORDER BY e.ts {direction}, e.rowid {direction} LIMIT ? OFFSET ?"
    )
    return [row[0] for row in conn.execute(sql, [*args, limit, offset])]


# The dense walk reads the range's rowids in chunks and asks FTS once per chunk for the matches
# between the chunk's lowest and highest rowid (one seek and a short doclist read) instead of
# one MATCH per row (about 80 us each: FTS5 parses the query every time). A chunk whose rowids
# are spread wider than SPREAD x its size (events stored far out of time order) is probed row
# by row, so the FTS answer stays small.
CHUNK = 100
SPREAD = 8


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
    answer is then unknown here, and the caller lets FTS drive.
    """
    direction = "DESC" if order == "desc" else "ASC"
    sql = f"SELECT rowid FROM events{where} ORDER BY ts {direction}, rowid {direction}"
    found: list[int] = []
    seen = 0
    cursor = conn.execute(sql, params)
    try:
        while seen < DENSE_SCAN:
            chunk = [row[0] for row in cursor.fetchmany(min(CHUNK, DENSE_SCAN - seen))]
            if not chunk:
                return found  # the whole range was probed: fewer than `n` matches exist
            seen += len(chunk)
            hits = _matching(conn, match, chunk)
            for rowid in chunk:
                if rowid in hits:
                    found.append(rowid)
                    if len(found) == n:
                        return found
    finally:
        cursor.close()
    return None


def _matching(conn: sqlite3.Connection, match: str, rowids: list[int]) -> set[int]:
    """Which of `rowids` FTS matches: one rowid-range query, or one probe each when spread."""
    low, high = min(rowids), max(rowids)
    if high - low < SPREAD * len(rowids):
        sql = "SELECT rowid FROM events_fts WHERE events_fts MATCH ? AND rowid BETWEEN ? AND ?"
        return {row[0] for row in conn.execute(sql, (match, low, high))}
    probe = "SELECT 1 FROM events_fts WHERE events_fts MATCH ? AND rowid = ?"
    return {r for r in rowids if conn.execute(probe, (match, r)).fetchone() is not None}


def capped_count(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str,
    span: Span,
    cap: int | None,
    filtered: bool = True,
) -> int:
    """Matching events, counted up to `cap` when given (FTS drives; nothing is copied).

    `filtered`: whether `where` holds filters besides the range. Without them, a range that is
    open at its end and starts at or before the oldest event holds every stored event (as the
    presets "last 24 hours" etc. do on a store that keeps less), and FTS alone counts: the join
    to each match's row was two thirds of the count.
    """
    if not filtered and span[1] is None and not _cuts(conn, span):
        inner = "SELECT 1 FROM events_fts WHERE events_fts MATCH ?"
        args: list[Any] = [match]
    else:
        source, args = _fts_source(conn, where=where, params=params, match=match, span=span)
        inner = f"SELECT 1 FROM {source}"
    if cap is None:
        return int(conn.execute(f"SELECT count(*) FROM ({inner})", args).fetchone()[0])
    sql = f"SELECT count(*) FROM ({inner} LIMIT ?)"
    return int(conn.execute(sql, [*args, max(cap, 0)]).fetchone()[0])


# The newest rowid and the deletion counter in one snapshot (schema 4 keeps the counter).
_WATERMARK = "SELECT coalesce((SELECT max(rowid) FROM events), 0), (SELECT n FROM event_deletions)"


@dataclass(frozen=True, slots=True)
class _Counted:
    upto: int  # the highest rowid counted
    deletions: int  # the store's deletion counter when counted
    counts: tuple[int, ...]


class SliceCounts:
    """Histograms already counted, so asking again counts only the events stored since.

    A histogram of a common word reads every match of the range (about 0.4 us each: the join to
    `ts` and SQLite's GROUP BY sorter), 50 ms for 120,000 matches, on every page of the search
    and every reload. Events are only appended and rowids only grow, so the counts of the rows
    up to a rowid never change until a row is deleted: an entry keeps the counts up to the
    rowid it saw, and the next ask of the same search and slices adds the counts of the newer
    rows (the rowid range cut by FTS5 and the rowid B-tree). Any delete bumps a counter
    (`event_deletions`, by the delete trigger) and drops every entry counted before it. The
    dashboard keeps one per process (`dashboard.deps`); pages align their slices to whole
    minutes, hours or days, so the same search keeps its key while time moves on.
    """

    def __init__(self, entries: int = 256) -> None:
        self._entries: OrderedDict[Hashable, _Counted] = OrderedDict()
        self._size = entries
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> _Counted | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, counted: _Counted) -> None:
        with self._lock:
            self._entries[key] = counted
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def slice_counts(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str | None,
    span: Span,
    start: int,
    step: int,
    buckets: int,
    cache: SliceCounts | None = None,
) -> list[int]:
    """Matches per time slice [start + i*step, start + (i+1)*step), in one pass (micros).

    `where` holds the other filters but not the query's own range, `span`: slices wholly in
    the span come from one grouped count (cached when `cache` is given), a slice the span cuts
    is counted by itself with the cut, slices outside it are 0.
    """
    low, high = span
    # Slices [first, stop) lie wholly in the span; only the ones just outside it can be cut.
    first = 0 if low is None else min(buckets, max(0, -((start - low) // step)))
    stop = buckets if high is None else max(first, min(buckets, (high - start) // step))
    counts = [0] * buckets
    for i in {first - 1, stop} & set(range(buckets)):
        begin = start + step * i if low is None else max(start + step * i, low)
        end = start + step * (i + 1) if high is None else min(start + step * (i + 1), high)
        if begin < end:
            counts[i] = _grouped(
                conn, where=where, params=params, match=match, start=begin, step=end - begin,
                buckets=1,
            )[0]  # fmt: skip
    if first < stop:
        counts[first:stop] = _whole_slices(
            conn,
            where=where,
            params=params,
            match=match,
            start=start + step * first,
            step=step,
            buckets=stop - first,
            cache=cache,
        )
    return counts


def _whole_slices(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str | None,
    start: int,
    step: int,
    buckets: int,
    cache: SliceCounts | None,
) -> list[int]:
    """Grouped counts of whole slices; with `cache`, only the rows stored since the last ask."""

    def grouped(rowids: Span) -> list[int]:
        return _grouped(
            conn, where=where, params=params, match=match, start=start, step=step,
            buckets=buckets, rowids=rowids,
        )  # fmt: skip

    if cache is None:
        return grouped((None, None))
    upto, deletions = conn.execute(_WATERMARK).fetchone()
    key = (where, tuple(params), match, start, step, buckets)
    seen = cache.get(key)
    if seen is not None and seen.deletions == deletions and seen.upto <= upto:
        since, counts = seen.upto, list(seen.counts)
    else:
        since, counts = None, [0] * buckets
    if since != upto:
        counts = [a + b for a, b in zip(counts, grouped((since, upto)), strict=True)]
    cache.put(key, _Counted(upto, deletions, tuple(counts)))
    return counts


def _grouped(
    conn: sqlite3.Connection,
    *,
    where: str,
    params: list[Any],
    match: str | None,
    start: int,
    step: int,
    buckets: int,
    rowids: Span = (None, None),
) -> list[int]:
    """One grouped count over the slices, of the rows in `rowids` (after, up to) if given."""
    within = "ts >= ? AND ts < ?"
    bounds = [start, start + step * buckets]
    if match is None:
        clauses = [within] + [
            c for c, v in zip(("rowid > ?", "rowid <= ?"), rowids, strict=True) if v is not None
        ]
        tail = " AND ".join(clauses)
        clause = f"{where} AND {tail}" if where else f" WHERE {tail}"
        source = f"events{clause}"
        args = [*params, *bounds, *(v for v in rowids if v is not None)]
    else:
        joined, args = _fts_source(
            conn,
            where=where,
            params=params,
            match=match,
            span=(bounds[0], bounds[1]),
            rowids=rowids,
        )
        source, args = f"{joined} AND {within}", [*args, *bounds]
    sql = f"SELECT (ts - ?) / ? AS slice, count(*) FROM {source} GROUP BY slice"
    counts = [0] * buckets
    for index, n in conn.execute(sql, [start, step, *args]):
        counts[int(index)] = int(n)
    return counts
