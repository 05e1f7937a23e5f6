"""A write lock held past SQLite's busy timeout: the app answers 503 + Retry-After, never 500.

Another connection holds the database's write lock (BEGIN IMMEDIATE) while requests arrive;
the busy timeout is made short (a module constant read at connect time) so the test runs in
well under a second per request. Pure reads still answer: WAL readers never wait for writers.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url

from core.accounts.models import Role
from core.accounts.tokens import create_token
from core.audit import count
from core.store.base import NewAlert
from core.store.factory import open_alert_store
from dashboard.security import BUSY_RETRY_AFTER_S
from tests.dashboard.conftest import Env, add_user

BUSY_TIMEOUT_MS = 150


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.store.relational.SQLITE_BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS)


@contextmanager
def write_lock_held(env: Env) -> Iterator[None]:
    """Another connection holds the relational database's write lock for the block."""
    path = make_url(env.settings.sqlalchemy_url).database
    assert path
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def _token(env: Env) -> dict[str, str]:
    add_user(env, "ana", Role.ANALYST)
    with env.write() as db:
        issued = create_token(
            db=db,
            username="ana",
            name="busy",
            scopes=["read:alerts", "write:alerts"],
            clock=env.clock,
            actor="test",
        )
    return {"Authorization": f"Bearer {issued.token}"}


def _one_alert(env: Env) -> str:
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        alert = NewAlert(
            rule_id="r1", rule_title="Rule r1", level="medium", created_at=env.clock.now()
        )
        return store.add_batch([alert])[0]
    finally:
        store.close()


def test_a_write_past_the_busy_timeout_is_503_with_retry_after(
    env: Env, short_busy_timeout: None
) -> None:
    headers = _token(env)
    client = env.client()
    bulk = {"ids": [_one_alert(env)], "action": "acknowledge"}
    assert client.get("/api/alerts", headers=headers).status_code == 200  # audited: it writes
    with write_lock_held(env):
        began = time.monotonic()
        busy = client.post("/api/alerts/bulk", json=bulk, headers=headers)
        waited = time.monotonic() - began
        assert busy.status_code == 503, busy.text
        assert busy.headers["Retry-After"] == str(BUSY_RETRY_AFTER_S)
        assert "busy" in busy.json()["detail"]
        # BEGIN IMMEDIATE waited for the lock (the busy timeout applied) before giving up
        assert waited >= BUSY_TIMEOUT_MS / 1000
        # an audited read fails closed: no entry, no data
        read = client.get("/api/alerts", headers=headers)
        assert read.status_code == 503 and "alerts" not in read.json()
        assert read.headers["Retry-After"] == str(BUSY_RETRY_AFTER_S)
        # a page gets the error page with the same status and header
        page = env.client().get("/login")
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        assert page.headers["Retry-After"] == str(BUSY_RETRY_AFTER_S)
        # reads that write nothing go on while the lock is held
        assert client.get("/api/alerts/count", headers=headers).status_code == 200
    env.db.rollback()
    before = count(db=env.db)
    assert client.post("/api/alerts/bulk", json=bulk, headers=headers).status_code == 200
    assert client.get("/api/alerts", headers=headers).status_code == 200
    env.db.rollback()
    assert count(db=env.db) == before + 2  # the bulk action and the read, both committed
