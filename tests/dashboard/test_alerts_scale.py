"""/api/alerts and the alert detail page cost the same over 20,000 alerts as over 2,000.

Work is counted, not timed (the bounds hold on a loaded machine): SQLite VM steps of the alert
store's queries (a progress handler), and relational statements per request, with those run
while the main database's write lock is held counted apart (every other writer waits on them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.dashboard import fill
from core.accounts.models import Role
from core.store.sqlite_alerts import SqliteAlertStore
from dashboard.services.alert_views import related_alerts
from detection.triage import build_query, queue_page
from tests.dashboard.conftest import Env, add_user, login

SMALL, LARGE = 2_000, 20_000


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, SqliteAlertStore]]:
    opened = {}
    for count in (SMALL, LARGE):
        store = SqliteAlertStore(tmp_path_factory.mktemp(f"alerts{count}") / "alerts.sqlite")
        fill(store, count)
        opened[count] = store
    yield opened
    for store in opened.values():
        store.close()


def _steps(store: SqliteAlertStore, call: Callable[[], Any]) -> int:
    """Hundreds of SQLite VM steps `call` takes on the store's connection."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    store._conn.set_progress_handler(tick, 100)
    try:
        call()
    finally:
        store._conn.set_progress_handler(None, 0)
    return counted[0]


def _page_calls(store: SqliteAlertStore) -> dict[str, Callable[[], Any]]:
    """What /api/alerts (pages 1 and 5, as bench/load.py asks) and the detail page read."""
    alert = store.search(build_query(page=1))[0]
    return {
        "api page 1": lambda: queue_page(store=store, query=build_query(page=1)),
        "api page 5": lambda: queue_page(store=store, query=build_query(page=5)),
        "detail get": lambda: store.get(alert.id),
        "detail related": lambda: related_alerts(store=store, alert=alert),
    }


def test_alert_pages_do_not_read_more_rows_over_more_alerts(
    stores: dict[int, SqliteAlertStore],
) -> None:
    small, large = _page_calls(stores[SMALL]), _page_calls(stores[LARGE])
    for name, call in large.items():
        few, many = _steps(stores[SMALL], small[name]), _steps(stores[LARGE], call)
        # Ten times the alerts: the same index walk, not a scan or a sort of the matches.
        assert many <= few * 1.5 + 5, f"{name}: {many} vs {few} (x100 VM steps)"
        assert many < 200, f"{name}: {many} x100 VM steps over {LARGE} alerts"


def test_the_page_queries_use_an_index_without_a_sort(stores: dict[int, SqliteAlertStore]) -> None:
    from core.store.sqlite_alerts import page_sql

    conn = sqlite3.connect(stores[SMALL].path)
    try:
        for query in (build_query(page=1), build_query(page=5)):
            sql, params = page_sql(query)
            plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()


@contextmanager
def _statements() -> Iterator[dict[str, int]]:
    """Relational statements run, and those run between BEGIN IMMEDIATE and its commit."""
    counts = {"all": 0, "locked": 0, "units": 0}
    holding = [False]

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counts["all"] += 1
        if statement.startswith("BEGIN IMMEDIATE"):
            holding[0] = True
            counts["units"] += 1
        elif holding[0]:
            counts["locked"] += 1

    def ended(_conn: Any) -> None:
        holding[0] = False

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "commit", ended)
    event.listen(Engine, "rollback", ended)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "commit", ended)
        event.remove(Engine, "rollback", ended)


def _request_counts(env: Env, tmp_path: Path, alerts: int) -> dict[str, dict[str, int]]:
    store = SqliteAlertStore(env.settings.alert_db_path)
    try:
        fill(store, alerts)
        alert_id = store.search(build_query(page=1))[0].id
    finally:
        store.close()
    client = env.client()
    login(client, "ana")
    found = {}
    for name, path in (("api", "/api/alerts?page=3"), ("detail", f"/alerts/{alert_id}")):
        client.get(path)  # first use: caches warm
        with _statements() as counts:
            assert client.get(path).status_code == 200
        found[name] = dict(counts)
    return found


def test_alert_requests_run_few_statements_and_hold_the_write_lock_for_the_audit_only(
    env: Env, tmp_path: Path
) -> None:
    add_user(env, "ana", Role.ANALYST)
    few = _request_counts(env, tmp_path, SMALL // 10)
    many = _request_counts(env, tmp_path, SMALL)
    assert few == many  # no N+1: the same statements over ten times the alerts
    for name, counts in many.items():
        # One audit write unit per read: the chain's last entry and the new one, nothing else.
        assert (counts["units"], counts["locked"]) == (1, 2), (name, counts)
        assert counts["all"] <= 8, (name, counts)
