"""Web sessions on SQLite and PostgreSQL: lookup, sliding expiry, end, and the pooled read path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.accounts import Role, create_user
from core.accounts.auth_models import WebSession
from core.accounts.models import User
from core.accounts.sessions import (
    ActiveSession,
    SessionPolicy,
    end_session,
    hash_session_id,
    load_session,
    look_up_session,
    start_session,
)
from core.clock import FrozenClock
from core.store.fast_read import PreparedRead
from core.store.unit_of_work import unit_of_work

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
START = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night the clocks go forward


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def _user(sessions: sessionmaker[Session], clock: FrozenClock) -> User:
    with unit_of_work(sessions) as db:
        return create_user(
            db=db,
            username="piet.analist",
            password="dijk-en-duin-2026",
            role=Role.ANALYST,
            display_name="Piet <b>Analist</b>",
            clock=clock,
            hasher=FAST,
        )


def _logged_in(sessions: sessionmaker[Session], clock: FrozenClock) -> tuple[User, ActiveSession]:
    user = _user(sessions, clock)
    with unit_of_work(sessions) as db:
        return user, start_session(db=db, user=user, clock=clock)


def test_a_session_is_found_with_its_user_role_and_aware_times(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    user, started = _logged_in(sessions, clock)
    with unit_of_work(sessions) as db:
        found = load_session(db=db, session_id=started.session_id, clock=clock)
    assert found is not None
    assert found.user is not None
    assert (found.user.id, found.user.username, found.user.role) == (
        user.id,
        "piet.analist",
        Role.ANALYST,
    )
    assert isinstance(found.user.role, Role)
    assert found.user.display_name == "Piet <b>Analist</b>"
    assert found.csrf_token == started.csrf_token
    assert found.expires_at == START + SessionPolicy().idle
    assert found.expires_at.tzinfo is not None


def test_unknown_expired_and_disabled_sessions_are_refused(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    user = _user(sessions, clock)
    with unit_of_work(sessions) as db:
        assert load_session(db=db, session_id="no-such-session", clock=clock) is None
        started = start_session(db=db, user=user, clock=clock)
        other = start_session(db=db, user=user, clock=clock)
    later = FrozenClock(START + SessionPolicy().idle + timedelta(seconds=1))
    with unit_of_work(sessions) as db:
        assert load_session(db=db, session_id=started.session_id, clock=later) is None
        # an expired session is deleted, not merely refused
        assert db.scalar(select(WebSession).where(WebSession.id_hash == hash_session_id(
            started.session_id))) is None  # fmt: skip
    with unit_of_work(sessions) as db:
        db.execute(update(User).where(User.id == user.id).values(active=False))
    with unit_of_work(sessions) as db:
        assert load_session(db=db, session_id=other.session_id, clock=clock) is None


def test_use_slides_the_idle_expiry_at_most_once_a_minute(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _, started = _logged_in(sessions, clock)
    policy = SessionPolicy()
    clock.advance(timedelta(seconds=30))
    with unit_of_work(sessions) as db:
        found = load_session(db=db, session_id=started.session_id, clock=clock)
        assert found is not None and found.expires_at == START + policy.idle
    clock.advance(timedelta(seconds=40))
    with unit_of_work(sessions) as db:
        found = load_session(db=db, session_id=started.session_id, clock=clock)
        assert found is not None and found.expires_at == clock.now() + policy.idle
    with unit_of_work(sessions) as db:
        end_session(db=db, session_id=started.session_id)
        assert load_session(db=db, session_id=started.session_id, clock=clock) is None


def test_the_request_path_reads_without_writing_until_the_row_is_stale(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """`look_up_session` never writes: it says `stale` when a touch or a delete is due, and
    only then does the caller open a write unit (`load_session`)."""
    _, started = _logged_in(sessions, clock)
    clock.advance(timedelta(seconds=30))
    with sessions() as db:
        fresh = look_up_session(db=db, session_id=started.session_id, clock=clock)
        assert not db.in_transaction()  # the pooled read: no transaction, so no lock upgrade
    assert fresh.session is not None and not fresh.stale
    clock.advance(timedelta(seconds=40))
    with sessions() as db:
        due = look_up_session(db=db, session_id=started.session_id, clock=clock)
    assert due.session is not None and due.stale
    with sessions() as db:  # still due: the lookup wrote nothing
        assert look_up_session(db=db, session_id=started.session_id, clock=clock).stale
    with unit_of_work(sessions) as db:
        assert load_session(db=db, session_id=started.session_id, clock=clock) is not None
    with sessions() as db:
        after = look_up_session(db=db, session_id=started.session_id, clock=clock)
    assert after.session is not None and not after.stale
    assert after.session.expires_at == clock.now() + SessionPolicy().idle
    expired = FrozenClock(clock.now() + SessionPolicy().idle + timedelta(seconds=1))
    with sessions() as db:
        gone = look_up_session(db=db, session_id=started.session_id, clock=expired)
    assert gone.session is None and gone.stale


def test_the_pooled_read_matches_the_orm_read_and_sees_an_open_transaction(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """`PreparedRead` outside a transaction agrees with `Session.execute`, types included;
    inside one it reads through the session, so uncommitted changes of that session show."""
    user, started = _logged_in(sessions, clock)
    statement = (
        select(WebSession.created_at, WebSession.expires_at, User.role, User.active, User.id)
        .outerjoin(User, User.id == WebSession.user_id)
        .where(WebSession.id_hash == bindparam("h"))
    )
    read = PreparedRead(statement)
    params = {"h": hash_session_id(started.session_id)}
    with sessions() as db:
        pooled = read.first(db, params)
        assert not db.in_transaction()
        orm = db.execute(statement, params).first()
    assert orm is not None
    assert pooled == tuple(orm)
    assert [type(v) for v in pooled] == [type(v) for v in orm]
    assert pooled[0] == START and pooled[2] is Role.ANALYST and pooled[3] is True
    with sessions() as db:
        db.execute(update(User).where(User.id == user.id).values(active=False))
        in_transaction = read.first(db, params)
        assert in_transaction is not None and in_transaction[3] is False
        db.rollback()
        assert read.first(db, {"h": "unknown"}) is None
