"""SqliteAlertStore specifics: the queue's index and the status/level totals.

What every alert store does (add, search, status updates, merge_body) is in
contract/test_alerts_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store.base import AlertQuery, NewAlert
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


STATUSES = ("new", "acknowledged", "assigned", "suppressed", "closed")
LEVELS = ("critical", "high", "medium", "low", "informational")


def _row_count(store: SqliteAlertStore, query: AlertQuery) -> int:
    """count(*) over the rows themselves, bypassing the `alert_counts` totals."""
    clauses, params = [], []
    if query.statuses:
        clauses.append(f"status IN ({', '.join('?' * len(query.statuses))})")
        params.extend(query.statuses)
    if query.levels:
        clauses.append(f"level IN ({', '.join('?' * len(query.levels))})")
        params.extend(query.levels)
    if query.exercise is not None:
        clauses.append("exercise_id IS NOT NULL" if query.exercise else "exercise_id IS NULL")
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return int(store._conn.execute(f"SELECT count(*) FROM alerts{where}", params).fetchone()[0])


def _check_totals(store: SqliteAlertStore) -> None:
    queries = [AlertQuery(), AlertQuery(statuses=("new", "acknowledged", "assigned"))]
    queries += [AlertQuery(statuses=(status,)) for status in STATUSES]
    queries += [AlertQuery(levels=(level,), exercise=True) for level in LEVELS]
    queries += [AlertQuery(statuses=("new",), levels=("high", "low"), exercise=False)]
    for query in queries:
        assert store.count(query) == _row_count(store, query), query
    empty = store._conn.execute("SELECT count(*) FROM alert_counts WHERE n <= 0").fetchone()[0]
    assert empty == 0, "a total of 0 is removed, so a rollback leaves no trace"


_ALERT = st.tuples(st.sampled_from(STATUSES), st.sampled_from(LEVELS), st.booleans())
_STEP = st.one_of(
    st.tuples(st.just("add"), st.lists(_ALERT, min_size=1, max_size=8)),
    st.tuples(st.just("update"), st.tuples(st.integers(0, 50), st.sampled_from(STATUSES))),
    st.tuples(st.just("rollback"), st.just(None)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, min_size=1, max_size=12))
def test_status_and_level_totals_always_equal_the_rows(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, Any]]
) -> None:
    """The trigger-kept totals answer the queue's count; they must never drift from the rows."""
    path = tmp_path_factory.mktemp("totals") / "alerts.sqlite"
    with SqliteAlertStore(path) as store:
        ids: list[str] = []
        drills: set[str] = set()
        for kind, arg in steps:
            if kind == "add":
                added = store.add_batch(
                    [
                        NewAlert(
                            rule_id="r",
                            rule_title="R",
                            level=level,
                            status=status,
                            assignee="a" if status == "assigned" else None,
                            created_at=datetime(2026, 11, 28, tzinfo=UTC),
                            exercise_id="drill-1" if drill else None,
                            body={},
                        )
                        for status, level, drill in arg
                    ]
                )
                ids += added
                drills.update(i for i, (_s, _l, drill) in zip(added, arg, strict=True) if drill)
            elif kind == "update" and ids:
                index, status = arg
                store.update_status([ids[index % len(ids)]], status=status, assignee="b")
            elif kind == "rollback":
                store.delete_by_exercise("drill-1")
                ids = [alert_id for alert_id in ids if alert_id not in drills]
            _check_totals(store)


def test_totals_are_built_when_a_version_1_file_is_opened(tmp_path: Path) -> None:
    """Files written before the totals existed get them, filled from their rows, on open."""
    path = tmp_path / "alerts.sqlite"
    with SqliteAlertStore(path) as store:
        store.add_batch(
            [
                NewAlert(
                    rule_id="r",
                    rule_title="R",
                    level=LEVELS[n % 5],
                    status=STATUSES[n % 2],
                    created_at=datetime(2026, 11, 28, tzinfo=UTC),
                    body={},
                )
                for n in range(30)
            ]
        )
        store._conn.executescript(
            "DROP TRIGGER alert_counts_insert; DROP TRIGGER alert_counts_delete; "
            "DROP TRIGGER alert_counts_update; DROP TABLE alert_counts; PRAGMA user_version=1;"
        )
    with SqliteAlertStore(path) as store:
        assert store.count(AlertQuery(statuses=("new",))) == 15
        _check_totals(store)


def test_a_row_filter_still_counts_rows(store: SqliteAlertStore) -> None:
    store.add_batch(
        [
            NewAlert(
                rule_id=f"r{n % 3}",
                rule_title="R",
                level="high",
                host_name=f"h{n % 2}",
                created_at=datetime(2026, 11, 28, tzinfo=UTC),
                body={},
            )
            for n in range(12)
        ]
    )
    assert store.count(AlertQuery(statuses=("new",), host_name="h1")) == 6
    assert store.count(AlertQuery(rule_ids=("r0",)), cap=3) == 3
    assert store.count(AlertQuery(statuses=("new",), levels=("high",))) == 12


def test_event_times_are_backfilled_when_a_version_2_file_is_opened(tmp_path: Path) -> None:
    """Alerts stored before the event-time columns get them from their body on open."""
    path = tmp_path / "alerts.sqlite"
    stored = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with SqliteAlertStore(path) as store:
        store.add_batch(
            [
                NewAlert(
                    rule_id="r",
                    rule_title="R",
                    level="high",
                    created_at=stored,
                    body={"event_time": "2026-12-06T09:30:00.250Z"},
                ),
                NewAlert(rule_id="r", rule_title="R", level="low", created_at=stored, body={}),
            ]
        )
        store._conn.executescript(
            "DROP INDEX alerts_status_event; DROP INDEX alerts_event; "
            "ALTER TABLE alerts DROP COLUMN first_event_at; "
            "ALTER TABLE alerts DROP COLUMN last_event_at; PRAGMA user_version=2;"
        )
    with SqliteAlertStore(path) as store:
        found = store.search(AlertQuery(time="event", sort="oldest"))
        assert [a.first_event_at for a in found] == [
            datetime(2026, 12, 6, 9, 30, 0, 250_000, tzinfo=UTC),
            stored,  # no event time in the body: the storage time
        ]
        assert [a.last_event_at for a in found] == [a.first_event_at for a in found]


def test_an_upgrade_another_process_finished_first_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two web workers open an old file at once: both see the old version, one upgrades it,
    and the other's ALTER then finds the columns there ("duplicate column name")."""
    import core.store.sqlite_alerts as sqlite_alerts

    path = tmp_path / "alerts.sqlite"
    with SqliteAlertStore(path) as store:  # a file from before the event-time columns
        store._conn.executescript(
            "DROP INDEX alerts_status_event; DROP INDEX alerts_event; "
            "ALTER TABLE alerts DROP COLUMN first_event_at; "
            "ALTER TABLE alerts DROP COLUMN last_event_at; PRAGMA user_version=2;"
        )
    real = sqlite_alerts.apply_schema
    raced: list[bool] = []

    def other_process_wins(conn: Any, schema: str, *, version: int) -> None:
        if version == sqlite_alerts.SCHEMA_VERSION and not raced:
            raced.append(True)
            SqliteAlertStore(path).close()  # the other worker upgrades first
        real(conn, schema, version=version)

    monkeypatch.setattr(sqlite_alerts, "apply_schema", other_process_wins)
    with SqliteAlertStore(path) as store:
        assert store.count(AlertQuery()) == 0
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == (
            sqlite_alerts.SCHEMA_VERSION
        )
    assert raced == [True]
