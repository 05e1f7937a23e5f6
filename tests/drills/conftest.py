"""Shared fixtures for the drills tests: a migrated database and a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate

PARTICIPANTS = [
    {"role": "ciso", "name": "CISO (oefening)", "email": "oefening@gemeente.test"},
    {"role": "fg", "name": "FG (oefening)", "email": "oefening@gemeente.test"},
    {"role": "it", "name": "IT (oefening)", "email": "it-echt@gemeente.test"},
]


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
