"""StorePool: requests borrow open stores; unfit ones are closed, never lent again."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.store.base import AlertQuery, NewAlert
from core.store.pool import StorePool
from core.store.sqlite_alerts import SqliteAlertStore


def _alert() -> NewAlert:
    return NewAlert(
        rule_id="r", rule_title="R", level="high", created_at=datetime(2026, 11, 28, tzinfo=UTC)
    )


def _pool(
    path: Path, opened: list[SqliteAlertStore], max_idle: int = 2
) -> StorePool[SqliteAlertStore]:
    def open_store() -> SqliteAlertStore:
        store = SqliteAlertStore(path)
        opened.append(store)
        return store

    return StorePool(open_store, reusable=lambda store: store.reusable(), max_idle=max_idle)


def test_a_returned_store_is_lent_again(tmp_path: Path) -> None:
    opened: list[SqliteAlertStore] = []
    pool = _pool(tmp_path / "alerts.sqlite", opened)
    first = pool.acquire()
    pool.release(first)
    assert pool.acquire() is first
    assert len(opened) == 1


def test_no_more_than_max_idle_stay_open(tmp_path: Path) -> None:
    opened: list[SqliteAlertStore] = []
    pool = _pool(tmp_path / "alerts.sqlite", opened, max_idle=2)
    stores = [pool.acquire() for _ in range(3)]
    for store in stores:
        pool.release(store)
    assert pool.idle == 2
    with pytest.raises(Exception, match="closed"):
        stores[2].count(AlertQuery())


def test_a_store_left_in_a_transaction_is_closed_not_lent(tmp_path: Path) -> None:
    opened: list[SqliteAlertStore] = []
    pool = _pool(tmp_path / "alerts.sqlite", opened)
    store = pool.acquire()
    store._conn.execute("BEGIN IMMEDIATE")
    pool.release(store)
    assert pool.idle == 0
    again = pool.acquire()
    assert again is not store
    again.add_batch([_alert()])  # the write lock went with the closed connection
    assert again.count(AlertQuery()) == 1


def test_a_store_whose_file_was_replaced_is_not_lent_again(tmp_path: Path) -> None:
    """A restored or deleted file: the old connection would keep reading the old inode."""
    path = tmp_path / "alerts.sqlite"
    opened: list[SqliteAlertStore] = []
    pool = _pool(path, opened)
    store = pool.acquire()
    store.add_batch([_alert()])
    pool.release(store)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.unlink(f"{path}{suffix}")
    fresh = pool.acquire()
    assert fresh is not store
    assert fresh.count(AlertQuery()) == 0
    pool.release(fresh)


def test_close_closes_the_idle_and_later_returns(tmp_path: Path) -> None:
    opened: list[SqliteAlertStore] = []
    pool = _pool(tmp_path / "alerts.sqlite", opened)
    idle, borrowed = pool.acquire(), pool.acquire()
    pool.release(idle)
    pool.close()
    pool.release(borrowed)
    for store in (idle, borrowed):
        with pytest.raises(Exception, match="closed"):
            store.count(AlertQuery())


def test_negative_max_idle_is_refused() -> None:
    with pytest.raises(ValueError, match="max_idle"):
        StorePool(lambda: SqliteAlertStore(Path("unused")), max_idle=-1)
