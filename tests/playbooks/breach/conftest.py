"""Fixtures of the breach tests: a migrated database, a frozen clock, a DPO and an analyst."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.accounts.service import create_user
from core.clock import FrozenClock
from core.config import Settings, load_settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from playbooks.runs import Units

# Cheap hashing: these tests are about breaches, not passwords.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
START = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)  # 12:00 in Amsterdam (CET), day before DST


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        organisation_name="Gemeente Dijkstad",
        dpo_name="Fenna de Groot",
        dpo_email="fg@dijkstad.example",
        dpo_phone="050 123 45 67",
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    migrate(settings)  # head: breach tables, cases01 and the resident requests register
    engine = create_db_engine(settings)
    with create_session_factory(engine)() as session:
        yield session
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
def dpo(db: Session, clock: FrozenClock) -> User:
    user = create_user(
        db=db, username="fenna", password="een lang wachtwoord 123", role="dpo",
        display_name="Fenna de Groot", clock=clock, hasher=FAST_HASHER,
    )  # fmt: skip
    db.commit()  # services write in the caller's unit now; the test is that boundary
    return user


@pytest.fixture
def analyst(db: Session, clock: FrozenClock) -> User:
    user = create_user(
        db=db, username="ali", password="een lang wachtwoord 456", role="analyst",
        clock=clock, hasher=FAST_HASHER,
    )  # fmt: skip
    db.commit()  # services write in the caller's unit now; the test is that boundary
    return user
