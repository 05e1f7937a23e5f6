"""First page of the alert queue over 1,000,000 alerts: rendered page against the bare SELECT.

Run: `.venv/bin/python bench/dashboard.py [--alerts N] [--requests R]`.

The store is filled through `SqliteAlertStore.add_batch` (the store's own insert API) in
batches of 20,000, one transaction each. The page is measured through the real app, started as
`dijkwacht up` starts it (uvicorn with the app factory, settings from the environment) in a
child process on 127.0.0.1, asked over one keep-alive connection by the standard library's
HTTP client, logged in as an analyst through the login form: the time is what a browser on the
machine waits for, and includes the HTTP parsing, the session check, the total count, the
template and the response. The client runs in this process, the server in its own, as in use.

The baseline is the exact SELECT the store runs for that page (`page_sql`), timed from execute
to fetched rows, in the same run, interleaved with the page requests. The headline `baseline`
runs it on a connection opened just before (not timed), as a one-off query would run; the
server lends its requests long-lived pooled connections whose page cache is warm, so the same
SELECT on a warm long-lived connection is printed too (`baseline_warm_connection_ms`,
`ratio_warm_connection`) to show how much of the gap is fixed per-request cost. So is the
floor: the same server answering its cheapest request (`/livez`: no store, no template, no
thread) on the same connection, interleaved; `ratio_ceiling` = baseline / floor is the best
ratio any page of this server could reach.

The page's own steps are also timed in this process, interleaved, the way the page runs them
but without HTTP and FastAPI (`stages_ms`): the session check, the queue read (count, SELECT,
rows, pseudonym scan) and the template render into the response. What the page costs beyond
the floor and those steps is FastAPI's dependency resolution, routing and response handling
(`framework_ms`). `ratio_steps_only` = baseline / steps is the best ratio of any server doing
those steps at all; `ratio_floor_and_steps` = baseline / (floor + steps) that of this server if
its dependency resolution cost nothing.

The last line printed is one JSON object for the bench tracker.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from core.store.base import ALERT_LEVELS, AlertQuery, NewAlert  # noqa: E402
from core.store.sqlite_alerts import SqliteAlertStore, page_sql  # noqa: E402

BATCH = 20_000
SEED = 20261128
PASSWORD = "bench horse battery staple"
RULES = tuple(
    (f"rule-{n:03d}", f"Verdachte activiteit {n} / suspicious activity {n}") for n in range(120)
)
HOSTS = tuple(f"gm-{role}-{n:02d}" for role in ("web", "db", "dc", "ws", "fs") for n in range(20))
USERS = tuple(f"user{n:03d}.gemeente" for n in range(200))
STATUSES = ("new",) * 6 + ("acknowledged", "assigned", "suppressed", "closed")
# The cheapest request the server answers: no store, template or thread, and asked without the
# session cookie, so no session check either (the page's session check is one of its steps).
# Its time is the floor of any page; bare / floor is the best ratio any page can have.
FLOOR_PATH = "/livez"
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


class Browser:
    """One keep-alive HTTP/1.1 connection with a cookie jar of one cookie, as a browser tab.

    The standard library's client: its own cost per request is a few tens of microseconds, so
    the time measured is the server's, not the client library's.
    """

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(
        self, method: str, path: str, body: str | None = None, *, cookie: bool = True
    ) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie and cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        set_cookie = response.getheader("set-cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return response.status, text

    def login(self) -> None:
        """Log in through the real form, as a browser would."""
        _, page = self.request("GET", "/login")
        token = _CSRF.search(page)
        assert token, "no CSRF token on the login page"
        form = {"username": "analist1", "password": PASSWORD, "csrf_token": token.group(1)}
        status, text = self.request("POST", "/login", urllib.parse.urlencode(form))
        assert status == 303, text


@contextmanager
def serve(data_dir: Path) -> Iterator[int]:
    """The API as `dijkwacht up` starts it (uvicorn, app factory, settings from the
    environment) in a child process on a free 127.0.0.1 port; yields the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIJKWACHT_")}
    env |= {"DIJKWACHT_ENVIRONMENT": "test", "DIJKWACHT_DATA_DIR": str(data_dir)}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "dashboard.app:create_app_from_environment",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    child = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the API did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        child.terminate()
        child.wait(20)


class PageStages:
    """The page's own steps, run in this process as the page runs them, without HTTP/FastAPI."""

    def __init__(self, settings: Any, session_id: str) -> None:
        from starlette.requests import Request

        from core.clock import SystemClock
        from core.store.factory import open_alert_store
        from core.store.relational import create_db_engine, create_session_factory
        from dashboard.app import create_app

        self.app = create_app(settings)
        self.engine = create_db_engine(settings)
        self.sessions = create_session_factory(self.engine)
        self.store = open_alert_store(settings)
        self.clock = SystemClock()
        self.session_id = session_id
        self.request = Request({"type": "http", "app": self.app, "headers": [], "state": {}})

    def run(self) -> dict[str, float]:
        """Milliseconds of each step, once."""
        from core.accounts.sessions import look_up_session
        from dashboard.security import Principal
        from dashboard.views.alerts import queue_context
        from detection.service import QueueFilter, read_queue

        times = {}
        with self.sessions() as db:
            began = time.perf_counter()
            found = look_up_session(db=db, session_id=self.session_id, clock=self.clock)
            session = found.session
            times["session_check"] = (time.perf_counter() - began) * 1000
            assert session is not None
            principal = Principal.of_session(session)
            assert principal is not None
            filters = QueueFilter()
            began = time.perf_counter()
            result, grouping = read_queue(
                store=self.store, db=db, clock=self.clock, reader=principal,
                filters=filters, accounts=False,
            )  # fmt: skip
            times["queue_read"] = (time.perf_counter() - began) * 1000
        self.request.state.principal = principal
        self.request.state.web_session = session
        began = time.perf_counter()
        response = self.app.state.templates.TemplateResponse(
            self.request, "alerts.html", queue_context(result, grouping, filters, False)
        )
        times["render"] = (time.perf_counter() - began) * 1000
        assert response.body.count(b'name="ids"') == 50
        return times

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()


def measure(
    browser: Browser, path: Path, requests: int, stages: PageStages
) -> dict[str, list[float]]:
    """Page, floor, bare-SELECT and step milliseconds, interleaved, after a short warm-up."""
    warm = sqlite3.connect(path)
    try:
        for _ in range(5):  # warm-up: caches, template compilation, the pool's connections
            browser.request("GET", "/alerts")
            bare_query(path)
            bare_query(path, warm)
            stages.run()
        times: dict[str, list[float]] = {"page": [], "bare": [], "bare_warm": [], "floor": []}
        for _ in range(requests):
            began = time.perf_counter()
            status, text = browser.request("GET", "/alerts")
            times["page"].append((time.perf_counter() - began) * 1000)
            assert status == 200, status
            assert text.count('name="ids"') == 50
            began = time.perf_counter()
            status, _ = browser.request("GET", FLOOR_PATH, cookie=False)
            times["floor"].append((time.perf_counter() - began) * 1000)
            assert status == 200, status
            times["bare"].append(bare_query(path))
            times["bare_warm"].append(bare_query(path, warm))
            for step, took in stages.run().items():
                times.setdefault(step, []).append(took)
        return times
    finally:
        warm.close()


def bare_query(path: Path, conn: sqlite3.Connection | None = None) -> float:
    """Milliseconds for the store's own first-page SELECT, rows fetched.

    By default on a connection opened just before (not timed), as a one-off query would run;
    with `conn`, on that long-lived connection whose page cache is warm, as the server's
    pooled connections are.
    """
    own = conn is None
    conn = sqlite3.connect(path) if conn is None else conn
    try:
        sql, params = page_sql(AlertQuery())
        began = time.perf_counter()
        rows = conn.execute(sql, params).fetchall()
        took = (time.perf_counter() - began) * 1000
        assert len(rows) == 50
        return took
    finally:
        if own:
            conn.close()


def main() -> None:
    """Fill, log in, then interleave page requests and bare queries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from core.accounts import create_user
    from core.accounts.models import Role
    from core.clock import SystemClock
    from core.config import load_settings
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import unit_of_work

    with tempfile.TemporaryDirectory(prefix="dijkwacht-bench-") as tmp:
        settings = load_settings(environment="test", data_dir=Path(tmp))
        migrate(settings)
        with SqliteAlertStore(settings.alert_db_path) as store:
            seconds = fill(store, args.alerts)
        print(f"filled {args.alerts:,} alerts in {seconds:.1f} s", file=sys.stderr)
        engine = create_db_engine(settings)
        with unit_of_work(create_session_factory(engine)) as db:
            create_user(
                db=db,
                username="analist1",
                password=PASSWORD,
                role=Role.ANALYST,
                clock=SystemClock(),
            )
        engine.dispose()
        with serve(Path(tmp)) as port:
            browser = Browser(port)
            browser.login()
            stages = PageStages(settings, browser.cookie.split("=", 1)[1])
            try:
                times = measure(browser, settings.alert_db_path, args.requests, stages)
            finally:
                stages.close()

    page, bare, warm, floor = (
        statistics.median(times[k]) for k in ("page", "bare", "bare_warm", "floor")
    )
    steps = {k: statistics.median(times[k]) for k in ("session_check", "queue_read", "render")}
    framework = page - floor - sum(steps.values())
    print(
        f"page p50 {page:.2f} ms (min {min(times['page']):.2f}, max {max(times['page']):.2f}); "
        f"bare SELECT p50 {bare:.3f} ms on a new connection, {warm:.3f} ms on a warm one; "
        f"floor ({FLOOR_PATH}) p50 {floor:.2f} ms -> best possible ratio {bare / floor:.3f}",
        file=sys.stderr,
    )
    print(
        "page's own steps, p50 in this process: "
        + ", ".join(f"{k} {v:.3f} ms" for k, v in steps.items())
        + f"; FastAPI dependencies, routing and response beyond the floor {framework:.3f} ms; "
        f"bare / steps (no HTTP, no framework) {bare / sum(steps.values()):.3f}, "
        f"bare / (floor + steps) {bare / (floor + sum(steps.values())):.3f}",
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
                "baseline_warm_connection_ms": round(warm, 3),
                "ratio_warm_connection": round(warm / page, 4),
                "floor_ms": round(floor, 3),
                "floor_path": FLOOR_PATH,
                "ratio_ceiling": round(bare / floor, 4),
                "stages_ms": {k: round(v, 3) for k, v in steps.items()},
                "framework_ms": round(framework, 3),
                "ratio_steps_only": round(bare / sum(steps.values()), 4),
                "ratio_floor_and_steps": round(bare / (floor + sum(steps.values())), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
