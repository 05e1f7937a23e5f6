"""SqliteAlertStore specifics: the queue's index.

What every alert store does (add, search, status updates, merge_body) is in
test_store_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.store.sqlite_alerts import SqliteAlertStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteAlertStore]:
    with SqliteAlertStore(tmp_path / "alerts.sqlite") as opened:
        yield opened


def test_queue_first_page_needs_no_sort(store: SqliteAlertStore) -> None:
    plan = " ".join(
        str(row)
        for row in store._conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM alerts WHERE status = ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 50",
            ("new",),
        )
    )
    assert "alerts_status_created" in plan
    assert "TEMP B-TREE" not in plan
