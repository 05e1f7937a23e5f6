"""Fixtures shared by the core suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate


@pytest.fixture
def sessions(db_settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated database, once per backend (SQLite and PostgreSQL)."""
    migrate(db_settings)
    engine = create_db_engine(db_settings)
    yield create_session_factory(engine)
    engine.dispose()
