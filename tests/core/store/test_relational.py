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
from sqlalchemy.engine import Connection

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


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (a fresh schema per test)."""
    return db_settings


def _head(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def _schema(settings: Settings) -> list[tuple[str, str, str]]:
    """(kind, name, definition) of every table, index, constraint and trigger, on any backend."""
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            rows: list[tuple[str, str, str]] = []
            for table in inspector.get_table_names():
                columns = inspector.get_columns(table)
                rows.append(("table", table, repr([(c["name"], str(c["type"])) for c in columns])))
                pk = inspector.get_pk_constraint(table)
                rows.append(("pk", str(pk.get("name")), f"{table} {pk['constrained_columns']}"))
                for kind, items in (
                    ("index", inspector.get_indexes(table)),
                    ("unique", inspector.get_unique_constraints(table)),
                    ("check", inspector.get_check_constraints(table)),
                    ("fk", inspector.get_foreign_keys(table)),
                ):
                    rows.extend((kind, str(item.get("name")), table) for item in items)
            rows.extend(("trigger", name, "") for name in _triggers(connection))
    finally:
        engine.dispose()
    return sorted(rows)


def _triggers(connection: Connection) -> list[str]:
    if connection.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    return [row[0] for row in connection.execute(text(sql))]


def _sqlite_only(settings: Settings) -> None:
    if not settings.sqlalchemy_url.startswith("sqlite"):
        pytest.skip("SQLite connection behaviour; PostgreSQL has its own tests below")


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
    before = _schema(settings)
    migrate(settings)
    assert _schema(settings) == before
    assert current_revision(settings) == _head(settings)


def test_constraints_follow_the_naming_convention(settings: Settings) -> None:
    migrate(settings)
    names = {(kind, name) for kind, name, _ in _schema(settings)}
    assert ("unique", "uq_users_username") in names
    assert ("check", "ck_users_role_known") in names
    assert ("pk", "pk_audit_log") in names
    triggers = {name for kind, name in names if kind == "trigger"}
    if settings.sqlalchemy_url.startswith("sqlite"):
        assert {"audit_log_no_update", "audit_log_no_delete"} <= triggers
    else:
        assert "audit_log_append_only" in triggers
    # PostgreSQL truncates identifiers at 63 bytes; every name must fit on both backends.
    assert all(len(name) <= 63 for _kind, name in names)


def _import_every_models_module() -> None:
    """Every domain's tables share the database and its migrations: register them all."""
    import importlib
    import importlib.util
    import pkgutil

    for package in (
        "core",
        "collectors",
        "detection",
        "intel",
        "playbooks",
        "drills",
        "awareness",
        "advisories",
        "compliance",
        "ldv",
        "dashboard",
    ):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if info.ispkg:
                continue
            spec = importlib.util.find_spec(info.name)
            origin = spec.origin if spec else None
            # a table may live next to its service (e.g. breach/resident_requests.py)
            if origin and "__tablename__" in Path(origin).read_text(encoding="utf-8"):
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
    _sqlite_only(settings)
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
    _sqlite_only(settings)
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
    _sqlite_only(settings)
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
        "migrate(load_settings(environment='test', data_dir=sys.argv[1], "
        "database_url=sys.argv[2] or None))"
    )
    data_dir = str(settings.resolved_data_dir)
    url = settings.database_url or ""
    procs = [
        subprocess.Popen([sys.executable, "-c", code, data_dir, url], cwd=REPO_ROOT)
        for _ in range(2)
    ]
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0]
    assert current_revision(settings) == _head(settings)
