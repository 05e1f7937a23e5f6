"""Alembic environment: connection or URL come from the config object, never from a global.

`core.store.relational.migrate(settings)` passes an open connection in `config.attributes`;
tools that build their own `Config` may pass `sqlalchemy_url` instead. Only core models are
imported here (for autogenerate); domain packages are not.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

# Imported to register the core tables on Base.metadata.
import core.accounts.models
import core.audit
import core.privacy.models  # noqa: F401
from core.store.relational import Base

config = context.config
target_metadata = config.attributes.get("target_metadata", Base.metadata)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables, and is a no-op elsewhere.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit SQL for review (`alembic upgrade --sql`) without a database connection."""
    url = config.attributes.get("sqlalchemy_url")
    if not url:
        raise RuntimeError("no sqlalchemy_url in config.attributes; use migrate(settings)")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate over the given connection, or over a fresh engine for the given URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("sqlalchemy_url")
    if not url:
        raise RuntimeError("no connection or sqlalchemy_url in config.attributes")
    engine = create_engine(url)
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
