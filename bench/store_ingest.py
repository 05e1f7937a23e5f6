"""Ingest throughput of SqliteEventStore against raw sqlite3 executemany on the same schema.

Run: `.venv/bin/python bench/store_ingest.py [--events N] [--rounds R]`. Both sides write the same
rows in batches of 1,000, one transaction per batch, into a fresh database with the same tables,
indexes, full-text index (fed once per batch, as the store does) and pragmas (WAL,
synchronous=FULL). The baseline gets its row tuples (ids, timestamps, serialised JSON bodies)
precomputed; the store starts from event dicts and
does its own validation, extraction and serialisation, which is exactly the overhead measured.
The last line printed is one JSON object for the bench tracker.
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.store.sqlite_events import (
    EPOCH,
    EVENT_SCHEMA,
    INDEX_NEW_TEXT,
    INSERT_EVENT,
    ONE_MICROSECOND,
    PRAGMAS,
    SqliteEventStore,
)

BATCH = 1000
SEED = 20240917

DATASETS = ("system.auth", "apache.access", "windows.security", "fortinet.firewall", "zeek.dns")
HOSTS = tuple(f"gm-{role}-{n:02d}" for role in ("web", "db", "dc", "ws", "fs") for n in range(12))
USERS = tuple(
    f"{name}.{dept}"
    for name in ("jan", "anouk", "pieter", "fatima", "sem", "lotte", "daan", "noor", "bram", "yara")
    for dept in ("bz", "fin", "ict", "wmo", "bgz")
)
PATHS = (
    "/burgerzaken/afspraak",
    "/parkeren/vergunning",
    "/api/v1/meldingen",
    "/login",
    "/wmo/aanvraag",
    "/belastingen/aanslag",
    "/static/app.js",
    "/afvalkalender",
)
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
)


def make_events(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """Deterministic, varied ECS events of roughly 600-800 bytes each."""
    rng = random.Random(seed)
    start = datetime(2024, 9, 1, tzinfo=UTC)
    events: list[dict[str, Any]] = []
    for i in range(count):
        moment = start + timedelta(milliseconds=i * 37 + rng.randrange(37))
        stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        dataset = DATASETS[i % len(DATASETS)]
        host, user = rng.choice(HOSTS), rng.choice(USERS)
        src = f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        dst = f"192.168.{rng.randrange(8)}.{rng.randrange(1, 255)}"
        path, agent = rng.choice(PATHS), rng.choice(AGENTS)
        outcome = "failure" if rng.random() < 0.1 else "success"
        port = rng.randrange(1024, 65535)
        original = (
            f"{stamp} {host} {dataset}[{rng.randrange(100, 9999)}]: {outcome} action by {user} "
            f"from {src}:{port} to {dst} GET {path}?session={rng.getrandbits(64):016x} "
            f"status={200 if outcome == 'success' else 403} bytes={rng.randrange(200, 90000)} "
            f'agent="{agent}"'
        )
        events.append(
            {
                "@timestamp": stamp,
                "event": {
                    "kind": "event",
                    "dataset": dataset,
                    "category": ["authentication" if "auth" in dataset else "network"],
                    "outcome": outcome,
                    "original": original,
                },
                "host": {"name": host, "ip": [dst]},
                "user": {"name": user, "domain": "GEMEENTE"},
                "source": {"ip": src, "port": port},
                "destination": {"ip": dst, "port": 443},
                "url": {"path": path},
                "user_agent": {"original": agent},
                "observer": {"vendor": "Dijkwacht", "product": "bench"},
            }
        )
    return events


def make_rows(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The baseline's row tuples, built outside the timed region."""
    rows = []
    for i, event in enumerate(events):
        moment = datetime.fromisoformat(event["@timestamp"])
        ts = (moment - EPOCH) // ONE_MICROSECOND
        rows.append(
            (
                f"{ts:014x}{i:012x}",
                ts,
                event["event"]["dataset"],
                event["event"]["kind"],
                event["host"]["name"],
                event["user"]["name"],
                event["source"]["ip"],
                orjson.dumps(event).decode(),
            )
        )
    return rows


def run_store(events: list[dict[str, Any]], directory: Path) -> float:
    store = SqliteEventStore(directory / "store.sqlite")
    try:
        began = time.perf_counter()
        for start in range(0, len(events), BATCH):
            store.add_batch(events[start : start + BATCH])
        elapsed = time.perf_counter() - began
    finally:
        store.close()
    return len(events) / elapsed


def run_raw(rows: list[tuple[Any, ...]], directory: Path) -> float:
    conn = sqlite3.connect(directory / "raw.sqlite", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.executescript(EVENT_SCHEMA)
        began = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            conn.execute("BEGIN IMMEDIATE")
            before = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
            conn.executemany(INSERT_EVENT, rows[start : start + BATCH])
            conn.execute(INDEX_NEW_TEXT, (before,))  # the same full-text work the store does
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - began
    finally:
        conn.close()
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    events = make_events(args.events)
    rows = make_rows(events)
    mean_size = statistics.fmean(len(row[-1]) for row in rows)
    print(f"{len(events)} events, mean JSON body {mean_size:.0f} bytes, batches of {BATCH}")

    ours: list[float] = []
    raw: list[float] = []
    for round_no in range(args.rounds):
        # Alternate which side goes first so cache warm-up favours neither.
        order = ("store", "raw") if round_no % 2 == 0 else ("raw", "store")
        for side in order:
            gc.collect()
            with tempfile.TemporaryDirectory(prefix="dijkwacht-bench-") as tmp:
                if side == "store":
                    ours.append(run_store(events, Path(tmp)))
                else:
                    raw.append(run_raw(rows, Path(tmp)))
            result = ours[-1] if side == "store" else raw[-1]
            print(f"round {round_no + 1} {side:5s}: {result:,.0f} events/s")

    value, baseline = statistics.median(ours), statistics.median(raw)
    print(
        orjson.dumps(
            {
                "metric": "sqlite_store_ingest_events_per_s",
                "value": round(value),
                "baseline": round(baseline),
                "ratio": round(value / baseline, 3),
                "target": 0.5,
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
