"""The relational store: migrations to head, SQLite settings, models matching migrations."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import core.audit  # noqa: F401  (register the core tables on Base.metadata)
from core.config import Settings
from core.store.relational import (
    Base,
    UTCDateTime,
    acquire_write_lock,
    alembic_config,
    create_db_engine,
    create_session_factory,
    current_revision,
    migrate,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def _head(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def _schema(db_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db_path) as connection:
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    return [tuple(row) for row in rows]


def test_migrate_creates_core_tables_on_a_fresh_file(settings: Settings) -> None:
    assert current_revision(settings) is None
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"alembic_version", "users", "audit_log"} <= tables
    assert current_revision(settings) == _head(settings)


def test_migrate_twice_is_a_no_op(settings: Settings) -> None:
    migrate(settings)
    db_path = settings.resolved_data_dir / "dijkwacht.sqlite"
    before = _schema(db_path)
    migrate(settings)
    assert _schema(db_path) == before
    assert current_revision(settings) == _head(settings)


def test_constraints_follow_the_naming_convention(settings: Settings) -> None:
    migrate(settings)
    sql = dict(
        (name, ddl) for _kind, name, ddl in _schema(settings.resolved_data_dir / "dijkwacht.sqlite")
    )
    assert "CONSTRAINT uq_users_username UNIQUE" in sql["users"]
    assert "CONSTRAINT ck_users_role_known" in sql["users"]
    assert "CONSTRAINT pk_audit_log PRIMARY KEY" in sql["audit_log"]
    assert {"audit_log_no_update", "audit_log_no_delete"} <= set(sql)


def _import_every_models_module() -> None:
    """Every domain's tables share the database and its migrations: register them all."""
    import importlib
    import pkgutil

    for package in (
        "core",
        "collectors",
        "detection",
        "playbooks",
        "drills",
        "awareness",
        "dashboard",
    ):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if info.name.rsplit(".", 1)[-1] == "models":
                importlib.import_module(info.name)


def test_models_match_the_migrations(settings: Settings) -> None:
    _import_every_models_module()
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(settings: Settings) -> None:
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert (connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    finally:
        engine.dispose()
    assert settings.resolved_data_dir.is_dir()


def test_acquire_write_lock_takes_the_lock_at_begin(settings: Settings) -> None:
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            acquire_write_lock(db)
            other = sqlite3.connect(settings.resolved_data_dir / "dijkwacht.sqlite", timeout=0.1)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
            db.rollback()
    finally:
        engine.dispose()


def test_utc_datetime_round_trips_aware_and_refuses_naive(settings: Settings) -> None:
    engine = create_db_engine(settings)
    column = UTCDateTime()
    moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    stored = column.process_bind_param(moment, engine.dialect)
    assert stored is not None and stored.tzinfo is None
    assert column.process_result_value(stored, engine.dialect) == moment
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 3, 1), engine.dialect)
    engine.dispose()


def test_transactions_are_atomic_for_reads_then_writes(settings: Settings) -> None:
    """pysqlite's implicit transactions are off: a rolled-back DDL/DML leaves no trace."""
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            with connection.begin() as transaction:
                connection.execute(text("CREATE TABLE scratch (id INTEGER)"))
                transaction.rollback()
            assert "scratch" not in inspect(connection).get_table_names()
    finally:
        engine.dispose()


def test_two_processes_migrating_at_once_both_succeed(settings: Settings) -> None:
    code = (
        "import sys; from core.config import load_settings; "
        "from core.store.relational import migrate; "
        "migrate(load_settings(environment='test', data_dir=sys.argv[1]))"
    )
    data_dir = str(settings.resolved_data_dir)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, data_dir], cwd=REPO_ROOT) for _ in range(2)
    ]
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0]
    assert current_revision(settings) == _head(settings)
