"""The SQLite event store's free-text plans: same answers as a plain scan, bounded work.

Work is counted in SQLite virtual-machine steps (a progress handler), not in seconds, so the
bounds hold on a loaded machine: a page of a common word must not read every match, and a
histogram must read the matches once, not once per slice.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.store import sqlite_event_text
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.core.store.sample import T0, make


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    with SqliteEventStore(tmp_path / "events.sqlite") as opened:
        yield opened


def fill(store: SqliteEventStore, n: int, *, word: str = "common", every: int = 1) -> None:
    """`n` events a second apart; each `every`-th one carries `word`, the rest "other"."""
    events = [
        make(0, text=word if i % every == 0 else "other") | {"@timestamp": _at(i)} for i in range(n)
    ]
    for first in range(0, n, 5_000):
        store.add_batch(events[first : first + 5_000])


def _at(second: int) -> str:
    return (T0 + timedelta(seconds=second)).isoformat()


def steps(store: SqliteEventStore, call: Callable[[], Any]) -> int:
    """Thousands of SQLite VM steps `call` takes on the store's connection."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    store._conn.set_progress_handler(tick, 1_000)
    try:
        call()
    finally:
        store._conn.set_progress_handler(None, 0)
    return counted[0]


def test_text_pages_match_a_plain_scan_on_every_plan(
    store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dense walk, its give-up and the FTS-driven plan all give the order of a full sort.

    Small thresholds make 600 events exercise every plan; times arrive out of order, so
    insertion order (rowid) is not time order.
    """
    monkeypatch.setattr(sqlite_event_text, "FEW_MATCHES", 50)
    monkeypatch.setattr(sqlite_event_text, "DENSE_SCAN", 120)
    rng = random.Random(7)
    seconds = rng.sample(range(10_000), 600)
    words = {s: ("alpha" if i % 2 else "alpha beta") if i < 500 else "gamma" for i, s in
             enumerate(seconds)}  # fmt: skip
    events = [make(0, text=words[s]) | {"@timestamp": _at(s)} for s in seconds]
    store.add_batch(events[:300])
    store.add_batch(events[300:])
    by_time = sorted(seconds)

    def expected(word: str, order: str, start: int, offset: int, limit: int) -> list[int]:
        hits = [s for s in by_time if s >= start and word in words[s].split()]
        hits = hits[::-1] if order == "desc" else hits
        return hits[offset : offset + limit]

    for word in ("alpha", "beta", "gamma"):
        for order in ("desc", "asc"):
            for start, offset, limit in ((0, 0, 10), (0, 20, 10), (5_000, 0, 25), (0, 0, 200)):
                query = EventQuery(
                    text=word,
                    order=order,  # type: ignore[arg-type]
                    start=T0 + timedelta(seconds=start),
                    offset=offset,
                    limit=limit,
                )
                found = [
                    round((_parse(e.event["@timestamp"]) - T0).total_seconds())
                    for e in store.search(query)
                ]
                assert found == expected(word, order, start, offset, limit), query
                assert store.count(query) == len(expected(word, order, start, 0, 10_000))


def _parse(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value)


def test_first_page_of_a_common_word_does_not_read_every_match(tmp_path: Path) -> None:
    """Page 1 and the capped total cost the same for 6,000 or 30,000 matches (was linear)."""
    cost = {}
    for n in (6_000, 30_000):
        with SqliteEventStore(tmp_path / f"{n}.sqlite") as store:
            fill(store, n)
            query = EventQuery(text="common", start=T0, limit=50)
            page = steps(store, lambda s=store, q=query: s.search(q))  # type: ignore[misc]
            total = steps(store, lambda s=store, q=query: s.count(q, cap=1_001))  # type: ignore[misc]
            assert len(store.search(query)) == 50
            assert store.count(query, cap=1_001) == 1_001
            cost[n] = page + total
    assert cost[30_000] < 1.5 * cost[6_000], cost


def test_histogram_reads_the_matches_once(store: SqliteEventStore) -> None:
    """24 slices cost about one pass over the matches (one slice as long), not 24 as they did."""
    fill(store, 12_000, every=3)
    query = EventQuery(text="common")
    step = timedelta(seconds=500)
    one_pass = steps(store, lambda: store.count_slices(query, start=T0, step=24 * step, buckets=1))
    histogram = steps(store, lambda: store.count_slices(query, start=T0, step=step, buckets=24))
    assert sum(store.count_slices(query, start=T0, step=step, buckets=24)) == 4_000
    assert histogram < 2 * one_pass, (histogram, one_pass)


def test_a_day_of_a_long_store_costs_a_day_of_matches(
    store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FTS is cut to the rowids of the range: counting the last of 20 "days" (1,000 s each
    here) costs a fraction of walking every match, and an event stored late still counts."""
    fill(store, 20_000)  # a second apart
    store.add_batch([make(0, text="common") | {"@timestamp": _at(19_999)}])
    store.add_batch([make(0, text="common") | {"@timestamp": _at(3)}])  # old time, high rowid
    last_day = EventQuery(text="common", start=T0 + timedelta(seconds=19_000))
    every_day = EventQuery(text="common", start=T0)
    assert store.count(last_day) == 1_001
    assert store.count(every_day) == 20_002
    assert store.count(replace(every_day, end=T0 + timedelta(seconds=4))) == 5
    assert [e.event["@timestamp"] for e in store.search(replace(last_day, limit=2))] == [
        _at(19_999),
        _at(19_999),
    ]
    start = T0 + timedelta(seconds=19_000)
    by_slice = store.count_slices(last_day, start=start, step=timedelta(seconds=100), buckets=10)
    assert sum(by_slice) == 1_001 and by_slice[-1] == 101
    cut = steps(store, lambda: store.count(last_day))
    monkeypatch.setattr(sqlite_event_text, "FEW_MATCHES", 10**9)  # never common: no cut
    uncut = steps(store, lambda: store.count(last_day))
    assert cut * 2 < uncut, (cut, uncut)


@pytest.fixture
def cached(tmp_path: Path) -> Iterator[SqliteEventStore]:
    counts = sqlite_event_text.SliceCounts()
    with SqliteEventStore(tmp_path / "events.sqlite", slice_cache=counts) as opened:
        yield opened


@pytest.mark.parametrize("text", ["common", None])
def test_a_cached_histogram_counts_only_newer_rows_and_stays_exact(
    cached: SqliteEventStore, tmp_path: Path, text: str | None
) -> None:
    """Asked again, the histogram reads the rows stored since (few steps) and equals a fresh
    count by a store without cache: also with an event stored late for an old slice, an
    event beyond the slices, and after a delete (which drops what was cached)."""
    fill(cached, 12_000, every=3)
    whole = EventQuery(text=text, start=T0)
    query = replace(whole, start=T0 + timedelta(seconds=250))  # the first slice is clipped
    step, plain = timedelta(seconds=500), SqliteEventStore(tmp_path / "events.sqlite")
    args = {"start": T0, "step": step, "buckets": 24}

    def both() -> tuple[list[int], list[int]]:
        return cached.count_slices(query, **args), plain.count_slices(query, **args)

    first = steps(cached, lambda: cached.count_slices(whole, **args))
    again = steps(cached, lambda: cached.count_slices(whole, **args))
    assert again * 20 < first, (again, first)
    mine, fresh = both()
    assert mine == fresh and mine[0] == len(range(252, 500, 3) if text else range(250, 500))
    late = [make(0, text="common") | {"@timestamp": _at(s)} for s in (10, 600, 11_999, 30_000)]
    cached.add_batch(late)
    mine, fresh = both()
    assert mine == fresh and mine[1] == fresh[1] and sum(mine) == sum(fresh)
    cached._conn.execute("DELETE FROM events WHERE rowid IN (SELECT rowid FROM events LIMIT 900)")
    cached._conn.commit()
    mine, fresh = both()
    assert mine == fresh, (mine, fresh)
    plain.close()


def test_slices_outside_the_query_range_are_zero(cached: SqliteEventStore) -> None:
    fill(cached, 3_000)
    query = EventQuery(
        text="common", start=T0 + timedelta(seconds=1_100), end=T0 + timedelta(seconds=1_750)
    )
    counts = cached.count_slices(query, start=T0, step=timedelta(seconds=500), buckets=6)
    assert counts == [0, 0, 400, 250, 0, 0]
