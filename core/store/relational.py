"""Relational records (users, audit log, cases) through SQLAlchemy 2; SQLite by default.

Everything here is built by factories from the settings: no engine exists at import time. Schema
changes go through Alembic migrations in `core/store/migrations`; `migrate(settings)` applies them.
The SQL stays portable (named constraints, no SQLite-only types) so PostgreSQL can take over.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from core.config import Settings
from core.store.sqlite_common import create_private

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Engine execution option holding the settings the engine was built from: code that is handed
# only a Session (the audit log's record() and verify(), migrations) reaches the secrets store
# through it instead of through a global. See `engine_settings`.
SETTINGS_OPTION = "dijkwacht_settings"

# PostgreSQL cuts identifiers at 63 bytes (SQLAlchemy refuses longer ones there).
MAX_IDENTIFIER = 63


def _fk_name(constraint: Any, table: Any) -> str:
    """`<table>_<column>_<referred table>`, shortened with a stable hash past 63 characters."""
    column = next(iter(constraint.columns)).name if constraint.columns else "col"
    # From the "table.column" spec: the referred table need not be in this MetaData (Alembic).
    referred = (
        constraint.elements[0].target_fullname.split(".")[-2] if constraint.elements else "ref"
    )
    name = f"{table.name}_{column}_{referred}"
    if len(name) + 3 <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_IDENTIFIER - 3 - 9]}_{digest}"


# Named constraints: Alembic can only alter or drop what has a stable name, on every database.
NAMING_CONVENTION: dict[str, Any] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk_name": _fk_name,
    "fk": "fk_%(fk_name)s",
    "pk": "pk_%(table_name)s",
}

# Connection execution option: start this connection's SQLite transaction with BEGIN IMMEDIATE.
SQLITE_WRITE_LOCK = "dijkwacht_sqlite_write_lock"
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Key of the PostgreSQL transaction-level advisory lock that serialises migrations.
_PG_MIGRATE_LOCK_KEY = 0x44_4B_57_4D  # "DKWM"


class Base(DeclarativeBase):
    """Declarative base of every relational model, core and domains alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zones and returns naive values; storing naive UTC and re-attaching UTC on
    the way out keeps comparisons with `Clock.now()` correct. Naive input is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass a timezone-aware (UTC) value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_db_engine(settings: Settings) -> Engine:
    """The engine for `settings.sqlalchemy_url`; SQLite gets WAL, foreign keys and a busy wait."""
    url = make_url(settings.sqlalchemy_url)
    options = {SETTINGS_OPTION: settings}
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, execution_options=options)
    if url.database and url.database != ":memory:":
        database = Path(url.database).expanduser()
        database.parent.mkdir(parents=True, exist_ok=True)
        create_private(database)  # 0600 before SQLite creates it (and its -wal, -shm) 0644
    engine = create_engine(url, execution_options=options)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling skips BEGIN before SELECT and DDL, so a read followed by
    # a write is not atomic. We switch it off and emit BEGIN ourselves (SQLAlchemy's documented
    # recipe), which also lets a unit of work ask for BEGIN IMMEDIATE (the write lock up front).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_WRITE_LOCK, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def engine_settings(bind: Engine | Connection) -> Settings | None:
    """The settings `bind` was built from by `create_db_engine`; None for a foreign engine."""
    found = bind.get_execution_options().get(SETTINGS_OPTION)
    return found if isinstance(found, Settings) else None


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit (services return them)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def acquire_write_lock(db: Session) -> None:
    """Start the session's transaction holding the database write lock, where that matters.

    On SQLite a transaction that reads and then writes fails with "database is locked" when
    another writer committed in between; BEGIN IMMEDIATE takes the lock first and waits its
    turn. Call this at the start of a unit of work that reads before it writes. It only acts
    when the session has not begun yet; a transaction that already wrote holds the lock anyway.
    Other databases use row or advisory locks, taken by the caller that needs them.
    """
    if db.get_bind().dialect.name != "sqlite" or db.in_transaction():
        return
    db.connection(execution_options={SQLITE_WRITE_LOCK: True})


def alembic_config(settings: Settings, connection: Connection | None = None) -> Any:
    """Alembic configuration built in code (no alembic.ini): scripts here, URL from settings."""
    from alembic.config import Config  # noqa: PLC0415 - alembic: +160 ms on start-up

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("path_separator", "os")
    # Passed as attributes, not ini options: a password with "%" would break interpolation.
    config.attributes["sqlalchemy_url"] = settings.sqlalchemy_url
    config.attributes["connection"] = connection
    return config


def migrate(settings: Settings, revision: str = "head") -> None:
    """Upgrade the relational database to `revision`; safe to call on every start.

    On SQLite the whole upgrade runs in one BEGIN IMMEDIATE transaction, on PostgreSQL in one
    transaction holding an advisory lock, so two processes starting together do not both try
    to create the same tables.
    """
    from alembic import command  # noqa: PLC0415 - alembic: +160 ms on start-up

    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.execution_options(**{SQLITE_WRITE_LOCK: True})
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    # Two processes starting together: the second waits here, then finds the
                    # schema at head (Alembic's version table has no lock of its own).
                    connection.exec_driver_sql(
                        f"SELECT pg_advisory_xact_lock({_PG_MIGRATE_LOCK_KEY})"
                    )
                command.upgrade(alembic_config(settings, connection), revision)
    finally:
        engine.dispose()


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at (None when never migrated); for `db` commands and tests."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - alembic: +160 ms on start-up

    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            rev: str | None = MigrationContext.configure(connection).get_current_revision()
            return rev
    finally:
        engine.dispose()
