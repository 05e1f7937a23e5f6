"""First page of the alert queue over 1,000,000 alerts: rendered page against the bare SELECT.

Run: `.venv/bin/python bench/dashboard.py [--alerts N] [--requests R]`.

The store is filled through `SqliteAlertStore.add_batch` (the store's own insert API) in
batches of 20,000, one transaction each: that is fast enough (about 1M rows in well under two
minutes on 2 cores) that no private bulk path is needed. The page is measured through the real
app (`create_app`) served by a real uvicorn on 127.0.0.1 (in a thread of this process), asked
by an httpx client over one keep-alive connection, logged in as an analyst through the login
form: the time is what a browser on the machine waits for, and includes the HTTP parsing, the
session lookup, the total count, the template and the response. FastAPI's TestClient is not
used for the headline number: it runs each request through a thread portal that adds a few
ms of test-harness cost no user ever pays; its p50 is still printed (`testclient_p50_ms`) for
comparison with earlier runs. The baseline is the exact SELECT the store runs for that page,
on its own connection, timed from execute to fetched rows (the connection is opened before
the clock starts), in the same run, interleaved with the page requests.

The last line printed is one JSON object for the bench tracker.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.store.base import ALERT_LEVELS, AlertQuery, NewAlert
from core.store.sqlite_alerts import SqliteAlertStore, page_sql

BATCH = 20_000
SEED = 20261128
PASSWORD = "bench horse battery staple"
RULES = tuple(
    (f"rule-{n:03d}", f"Verdachte activiteit {n} / suspicious activity {n}") for n in range(120)
)
HOSTS = tuple(f"gm-{role}-{n:02d}" for role in ("web", "db", "dc", "ws", "fs") for n in range(20))
USERS = tuple(f"user{n:03d}.gemeente" for n in range(200))
STATUSES = ("new",) * 6 + ("acknowledged", "assigned", "suppressed", "closed")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def fill(store: SqliteAlertStore, count: int) -> float:
    """Insert `count` alerts spread over the last 90 days; returns seconds taken."""
    rng = random.Random(SEED)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    step = timedelta(days=90) / count
    began = time.perf_counter()
    for first in range(0, count, BATCH):
        batch = []
        for n in range(first, min(first + BATCH, count)):
            rule_id, title = RULES[rng.randrange(len(RULES))]
            status = STATUSES[rng.randrange(len(STATUSES))]
            batch.append(
                NewAlert(
                    rule_id=rule_id,
                    rule_title=title,
                    level=ALERT_LEVELS[rng.randrange(len(ALERT_LEVELS))],
                    created_at=start + step * n,
                    status=status,  # type: ignore[arg-type]
                    assignee="analist1" if status == "assigned" else None,
                    host_name=HOSTS[rng.randrange(len(HOSTS))],
                    user_name=USERS[rng.randrange(len(USERS))],
                    body={"event_ids": [f"ev-{n}"], "selections": ["selection"]},
                )
            )
        store.add_batch(batch)
    return time.perf_counter() - began


def login(client: object) -> None:
    """Log in through the real form, as a browser would."""
    page = client.get("/login")  # type: ignore[attr-defined]
    token = _CSRF.search(page.text)
    assert token, "no CSRF token on the login page"
    response = client.post(  # type: ignore[attr-defined]
        "/login",
        data={"username": "analist1", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code == 303, response.text


@contextmanager
def serve(app: object) -> Iterator[str]:
    """Run `app` under uvicorn on a free 127.0.0.1 port in a thread; yields the base URL."""
    import uvicorn

    # proto IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say
    # TCP, and without it Nagle plus delayed ACKs add ~40 ms to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def measure(client: object, path: Path, requests: int) -> tuple[list[float], list[float]]:
    """Page and bare-SELECT milliseconds, interleaved, after a short warm-up."""
    for _ in range(3):  # warm-up: caches, template compilation, first connections
        client.get("/alerts")  # type: ignore[attr-defined]
        bare_query(path)
    page_ms: list[float] = []
    bare_ms: list[float] = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get("/alerts")  # type: ignore[attr-defined]
        page_ms.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
        assert response.text.count('name="ids"') == 50
        bare_ms.append(bare_query(path))
    return page_ms, bare_ms


def bare_query(path: Path) -> float:
    """Milliseconds for the store's own first-page SELECT, rows fetched, on a fresh cursor."""
    conn = sqlite3.connect(path)
    try:
        sql, params = page_sql(AlertQuery())
        began = time.perf_counter()
        rows = conn.execute(sql, params).fetchall()
        took = (time.perf_counter() - began) * 1000
        assert len(rows) == 50
        return took
    finally:
        conn.close()


def main() -> None:
    """Fill, log in, then interleave page requests and bare queries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    import httpx
    from fastapi.testclient import TestClient

    from core.accounts import create_user
    from core.accounts.models import Role
    from core.clock import SystemClock
    from core.config import load_settings
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from dashboard.app import create_app

    with tempfile.TemporaryDirectory(prefix="dijkwacht-bench-") as tmp:
        settings = load_settings(environment="test", data_dir=Path(tmp))
        migrate(settings)
        with SqliteAlertStore(settings.alert_db_path) as store:
            seconds = fill(store, args.alerts)
        print(f"filled {args.alerts:,} alerts in {seconds:.1f} s", file=sys.stderr)
        engine = create_db_engine(settings)
        with create_session_factory(engine)() as db:
            create_user(
                db=db,
                username="analist1",
                password=PASSWORD,
                role=Role.ANALYST,
                clock=SystemClock(),
            )
        engine.dispose()

        app = create_app(settings)
        with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
            login(client)
            testclient_ms, _ = measure(client, settings.alert_db_path, args.requests)
        with serve(app) as url, httpx.Client(base_url=url, follow_redirects=False) as http:
            login(http)
            page_ms, bare_ms = measure(http, settings.alert_db_path, args.requests)

    page = statistics.median(page_ms)
    bare = statistics.median(bare_ms)
    print(
        f"page p50 {page:.2f} ms (min {min(page_ms):.2f}, max {max(page_ms):.2f}); "
        f"bare SELECT p50 {bare:.3f} ms; TestClient p50 {statistics.median(testclient_ms):.2f} ms",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "metric": "alert_queue_first_page_ms",
                "value": round(page, 3),
                "baseline": round(bare, 3),
                "ratio": round(bare / page, 4),
                "target": 0.33,
                "page_p50_ms": round(page, 3),
                "page_p50_target_ms": 100,
                "testclient_p50_ms": round(statistics.median(testclient_ms), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
