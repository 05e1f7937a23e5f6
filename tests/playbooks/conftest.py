"""Fixtures of the playbooks tests: a migrated database, a frozen clock, users of each role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.accounts import Role, User, create_user
from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from playbooks.runs import Units

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def units(db: Session) -> Units:
    """Write units of work on the test database, for services that commit between steps.

    Commit `db` before handing these to a service (the test is the boundary of its own setup),
    and expire it afterwards to read what the units wrote.
    """
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    factory = create_session_factory(engine)
    return lambda: unit_of_work(factory)


@pytest.fixture
def make_user(db: Session, clock: FrozenClock) -> Callable[[str, Role], User]:
    def make(username: str, role: Role) -> User:
        user = create_user(
            db=db, username=username, password="correct horse battery", role=role, clock=clock
        )
        db.commit()  # services write in the caller's unit now; the test is that boundary
        return user

    return make
