"""Local accounts: creation rules, argon2id hashes, login with lock-out and back-off."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from core.accounts import (
    AuthenticationError,
    LoginPolicy,
    Role,
    User,
    authenticate,
    create_user,
    get_user,
    list_users,
)
from core.audit import entries, verify
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ConflictError, NotFoundError, ValidationError

# Cheap parameters keep the suite fast; the rehash test then moves to stronger ones.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "rivierdijk-hoogwater-2026"


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (a fresh schema per test)."""
    return db_settings


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 2, 1, 8, 0, tzinfo=UTC))


def _create(db: Session, clock: FrozenClock, username: str = "Anna.deVries", **kw: object) -> User:
    args: dict[str, object] = {
        "password": PASSWORD,
        "role": "analyst",
        "display_name": "Anna de Vries",
        "hasher": FAST,
    }
    args.update(kw)
    return create_user(db=db, username=username, clock=clock, **args)  # type: ignore[arg-type]


def _login(db: Session, clock: FrozenClock, password: str = PASSWORD, **kw: object) -> User:
    args: dict[str, object] = {"hasher": FAST}
    args.update(kw)
    return authenticate(db=db, username="anna.devries", password=password, clock=clock, **args)  # type: ignore[arg-type]


def test_create_user_stores_a_lowercase_argon2id_account_and_audits_it(
    db: Session, clock: FrozenClock
) -> None:
    user = _create(db, clock, actor="cli:root")
    assert user.username == "anna.devries"
    assert user.role is Role.ANALYST and user.active and user.failed_logins == 0
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert user.created_at == clock.now()
    [entry] = entries(db=db, object_type="user", object_id="anna.devries")
    assert (entry.action, entry.actor, entry.details) == (
        "user.created",
        "cli:root",
        {"role": "analyst"},
    )
    assert get_user(db=db, username="ANNA.devries").id == user.id
    assert [u.username for u in list_users(db=db)] == ["anna.devries"]


def test_duplicate_username_is_a_conflict(db: Session, clock: FrozenClock) -> None:
    _create(db, clock)
    with pytest.raises(ConflictError, match="already exists"):
        _create(db, clock, username="ANNA.DEVRIES")
    assert len(list_users(db=db)) == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"password": "kort-wacht"}, "password", "at least 12"),
        ({"username": "jan.jansen.1", "password": "JAN.JANSEN.1"}, "password", "username"),
        ({"role": "superuser"}, "role", "allowed: analyst, incident_manager"),
        ({"username": "bad name!"}, "username", "letters, digits"),
        ({"display_name": "x" * 201}, "display_name", "1-200"),
    ],
)
def test_invalid_input_names_the_field(
    db: Session, clock: FrozenClock, kwargs: dict[str, object], field: str, fragment: str
) -> None:
    kwargs = dict(kwargs)  # the parametrize dict is shared by both backends' runs
    username = str(kwargs.pop("username", "anna.devries"))
    with pytest.raises(ValidationError) as error:
        _create(db, clock, username=username, **kwargs)
    assert error.value.field == field and fragment in error.value.problem
    assert list_users(db=db) == []


def test_every_role_can_be_assigned(db: Session, clock: FrozenClock) -> None:
    for role in Role:
        user = _create(db, clock, username=f"user-{role.value}", role=role.value)
        assert user.role is role


def test_authenticate_returns_the_user_and_audits_the_login(
    db: Session, clock: FrozenClock
) -> None:
    _create(db, clock)
    user = _login(db, clock)
    assert user.username == "anna.devries"
    assert entries(db=db)[-1].action == "user.logged_in"


def test_wrong_password_and_unknown_user_are_refused_alike(db: Session, clock: FrozenClock) -> None:
    _create(db, clock)
    with pytest.raises(AuthenticationError) as wrong:
        _login(db, clock, password="verkeerd-wachtwoord")
    with pytest.raises(AuthenticationError) as unknown:
        authenticate(db=db, username="nobody", password=PASSWORD, clock=clock, hasher=FAST)
    assert str(wrong.value) == str(unknown.value)
    assert get_user(db=db, username="anna.devries").failed_logins == 1
    failed = [e for e in entries(db=db) if e.action == "user.login_failed"]
    assert [e.details["reason"] for e in failed] == ["wrong password", "unknown user"]
    assert verify(db=db).ok


def test_failures_lock_the_account_with_doubling_back_off(db: Session, clock: FrozenClock) -> None:
    policy = LoginPolicy(max_failures=3, lockout=timedelta(minutes=1))
    _create(db, clock)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            _login(db, clock, password="verkeerd-wachtwoord", policy=policy)
    user = get_user(db=db, username="anna.devries")
    assert user.locked_until == clock.now() + timedelta(minutes=1)

    # Locked: even the right password is refused, and the refusal does not count as a failure.
    with pytest.raises(AuthenticationError):
        _login(db, clock, policy=policy)
    assert get_user(db=db, username="anna.devries").failed_logins == 3

    # After the lock one more failure locks again, twice as long.
    clock.advance(timedelta(minutes=1, seconds=1))
    with pytest.raises(AuthenticationError):
        _login(db, clock, password="verkeerd-wachtwoord", policy=policy)
    assert get_user(db=db, username="anna.devries").locked_until == clock.now() + timedelta(
        minutes=2
    )

    clock.advance(timedelta(minutes=2, seconds=1))
    user = _login(db, clock, policy=policy)
    assert user.failed_logins == 0 and user.locked_until is None


def test_back_off_is_capped() -> None:
    policy = LoginPolicy(
        max_failures=5, lockout=timedelta(minutes=1), max_lockout=timedelta(hours=1)
    )
    assert policy.lockout_for(5) == timedelta(minutes=1)
    assert policy.lockout_for(7) == timedelta(minutes=4)
    assert policy.lockout_for(500) == timedelta(hours=1)


def test_disabled_user_is_refused(db: Session, clock: FrozenClock) -> None:
    user = _create(db, clock)
    user.active = False
    db.commit()
    with pytest.raises(AuthenticationError):
        _login(db, clock)
    assert entries(db=db)[-1].details == {"reason": "disabled"}


def test_hash_with_old_parameters_is_replaced_on_login(db: Session, clock: FrozenClock) -> None:
    old_hash = _create(db, clock).password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    user = authenticate(
        db=db, username="anna.devries", password=PASSWORD, clock=clock, hasher=stronger
    )
    assert user.password_hash != old_hash
    assert not stronger.check_needs_rehash(user.password_hash)
    assert stronger.verify(user.password_hash, PASSWORD)
    # The new hash still logs in, and is not replaced again.
    again = authenticate(
        db=db, username="anna.devries", password=PASSWORD, clock=clock, hasher=stronger
    )
    assert again.password_hash == user.password_hash


class CountingHasher(PasswordHasher):
    """FAST's parameters, counting the argon2 verifications (`runs`) and hashes it makes."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.runs = 0
        self.hashes = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.runs += 1
        return super().verify(hash, password)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashes += 1
        return super().hash(password, salt=salt)


@pytest.mark.parametrize(
    ("username", "password", "outcome"),
    [
        ("anna.devries", PASSWORD, "user.logged_in"),
        ("anna.devries", "verkeerd-wachtwoord", "user.login_failed"),
        ("nobody", PASSWORD, "user.login_failed"),
    ],
)
def test_a_checked_password_costs_no_argon2_inside_the_write_unit(
    db: Session, clock: FrozenClock, username: str, password: str, outcome: str
) -> None:
    """The login view verifies before its write unit; the unit then does no argon2 at all."""
    from core.accounts import check_password

    _create(db, clock)
    db.commit()
    hasher = CountingHasher()
    checked = check_password(db=db, username=username, password=password, hasher=hasher)
    assert hasher.runs == 1  # unknown users cost one verification too (timing)
    hasher.runs = hasher.hashes = 0
    with contextlib.suppress(AuthenticationError):
        authenticate(
            db=db, username=username, password=password, clock=clock, hasher=hasher, checked=checked
        )
    assert (hasher.runs, hasher.hashes) == (0, 0)
    assert entries(db=db)[-1].action == outcome
    assert verify(db=db).ok


def test_a_check_made_before_the_hash_changed_is_not_trusted(
    db: Session, clock: FrozenClock
) -> None:
    """A password reset between the check and the unit: the unit verifies against the new hash."""
    _create(db, clock)
    db.commit()
    from core.accounts import check_password

    hasher = CountingHasher()
    checked = check_password(db=db, username="anna.devries", password=PASSWORD, hasher=hasher)
    assert checked.matches
    get_user(db=db, username="anna.devries").password_hash = FAST.hash("nieuw-wachtwoord-2026")
    hasher.runs = 0
    with pytest.raises(AuthenticationError):
        authenticate(
            db=db,
            username="anna.devries",
            password=PASSWORD,
            clock=clock,
            hasher=hasher,
            checked=checked,
        )
    assert hasher.runs == 1
    assert get_user(db=db, username="anna.devries").failed_logins == 1


def test_a_checked_login_under_old_parameters_gets_the_new_hash(
    db: Session, clock: FrozenClock
) -> None:
    from core.accounts import check_password

    old_hash = _create(db, clock).password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    checked = check_password(db=db, username="anna.devries", password=PASSWORD, hasher=stronger)
    assert checked.new_hash is not None
    user = authenticate(
        db=db,
        username="anna.devries",
        password=PASSWORD,
        clock=clock,
        hasher=stronger,
        checked=checked,
    )
    assert user.password_hash == checked.new_hash != old_hash
    assert stronger.verify(user.password_hash, PASSWORD)


def test_get_user_raises_not_found(db: Session) -> None:
    with pytest.raises(NotFoundError):
        get_user(db=db, username="ghost")


# -- administration: roles, password resets, the last admin ----------------------------------


def _admin(db: Session, clock: FrozenClock, username: str) -> User:
    return _create(db, clock, username=username, role="admin", password=PASSWORD + "!")


def test_set_role_is_audited_and_not_committed_by_the_service(
    db: Session, clock: FrozenClock
) -> None:
    from core.accounts.administration import set_role

    _create(db, clock)
    db.commit()  # the account exists before the change under test
    user = set_role(db=db, username="Anna.deVries", role="dpo", clock=clock, actor="beheerder")
    assert user.role is Role.DPO
    db.rollback()  # the boundary, not the service, commits
    assert get_user(db=db, username="anna.devries").role is Role.ANALYST
    set_role(db=db, username="anna.devries", role=Role.DPO, clock=clock, actor="beheerder")
    db.commit()
    entry = entries(db=db, object_id="anna.devries")[-1]
    assert (entry.action, entry.actor, entry.details) == (
        "user.role_changed",
        "beheerder",
        {"from": "analyst", "to": "dpo"},
    )
    with pytest.raises(ValidationError) as error:
        set_role(db=db, username="anna.devries", role="root", clock=clock, actor="x")
    assert error.value.field == "role"
    with pytest.raises(NotFoundError):
        set_role(db=db, username="ghost", role="dpo", clock=clock, actor="x")


def test_the_last_active_admin_cannot_be_demoted_or_disabled(
    db: Session, clock: FrozenClock
) -> None:
    from core.accounts.administration import set_active, set_role

    _admin(db, clock, "beheer1")
    db.commit()
    with pytest.raises(ConflictError, match="at least one active admin"):
        set_role(db=db, username="beheer1", role="analyst", clock=clock, actor="cli:root")
    with pytest.raises(ConflictError, match="at least one active admin"):
        set_active(db=db, username="beheer1", active=False, clock=clock, actor="cli:root")
    with pytest.raises(ConflictError, match="your own account"):
        set_active(db=db, username="beheer1", active=False, clock=clock, actor="beheer1")
    db.rollback()
    assert get_user(db=db, username="beheer1").role is Role.ADMIN
    # A second admin makes either possible; a disabled admin does not count.
    _admin(db, clock, "beheer2")
    set_active(db=db, username="beheer2", active=False, clock=clock, actor="cli:root")
    with pytest.raises(ConflictError):
        set_role(db=db, username="beheer1", role="analyst", clock=clock, actor="cli:root")
    set_active(db=db, username="beheer2", active=True, clock=clock, actor="cli:root")
    set_role(db=db, username="beheer1", role="analyst", clock=clock, actor="beheer2")
    db.commit()
    assert get_user(db=db, username="beheer1").role is Role.ANALYST


def test_reset_password_replaces_it_lifts_the_lock_and_ends_sessions(
    db: Session, clock: FrozenClock
) -> None:
    from core.accounts.administration import reset_password
    from core.accounts.sessions import session_count, start_session

    user = _create(db, clock)
    start_session(db=db, user=user, clock=clock)
    user.failed_logins, user.locked_until = 9, clock.now() + timedelta(hours=1)
    db.commit()
    new = "nieuw-wachtwoord-voor-anna"
    with pytest.raises(ValidationError) as error:
        reset_password(db=db, username="anna.devries", password="kort", clock=clock, actor="b")
    assert error.value.field == "password"
    reset_password(
        db=db, username="anna.devries", password=new, clock=clock, actor="beheerder", hasher=FAST
    )
    db.commit()
    assert session_count(db=db, user_id=user.id) == 0
    assert _login(db, clock, password=new).username == "anna.devries"
    with pytest.raises(AuthenticationError):
        _login(db, clock)
    [entry] = [e for e in entries(db=db) if e.action == "user.password_reset"]
    assert entry.actor == "beheerder" and new not in str(entry.details)
