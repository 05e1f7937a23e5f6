"""Account logic: create users, authenticate with lock-out, look users up.

Functions write in the caller's unit of work and never commit. A refused login raises
`AuthenticationError` yet its failure count and audit entry must be kept, so the boundary opens
`unit_of_work(factory, commit_on=(AuthenticationError,))`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.audit import record
from core.clock import Clock
from core.errors import ConflictError, DijkwachtError, NotFoundError, ValidationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
ALLOWED_ROLES = ", ".join(role.value for role in Role)

# argon2id with the library's RFC 9106 defaults; stateless, so one shared instance is safe.
DEFAULT_HASHER = PasswordHasher()


class AuthenticationError(DijkwachtError):
    """Login refused. One message for every cause, so it does not reveal which usernames exist."""

    def __init__(self) -> None:
        super().__init__("invalid username or password, or the account is locked or disabled")


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """When to lock an account and for how long; back-off doubles with each further failure."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=1)
    max_lockout: timedelta = timedelta(hours=1)

    def lockout_for(self, failures: int) -> timedelta:
        """Lock duration after `failures` consecutive failures (at least `max_failures`)."""
        doublings = min(max(failures - self.max_failures, 0), 30)
        return min(self.lockout * (2**doublings), self.max_lockout)


def _clean_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise ValidationError(
            "username",
            "must be 2-64 characters: letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )
    return name


def _check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == username:
        raise ValidationError("password", "must not be the username")


def _parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError("role", f"unknown role {role!r}; allowed: {ALLOWED_ROLES}") from None


def create_user(
    *,
    db: Session,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    clock: Clock,
    actor: str = "system",
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> User:
    """Create an active user and audit it (`user.created`), in the caller's unit.

    Raises:
        ValidationError: bad username, password, role or display name (the field is named).
        ConflictError: the username is taken.
    """
    name = _clean_username(username)
    _check_password(password, name)
    parsed_role = _parse_role(role)
    shown_name = (display_name or name).strip()
    if not shown_name or len(shown_name) > 200:
        raise ValidationError("display_name", "must be 1-200 characters")

    if db.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(f"username: {name!r} already exists")
    user = User(
        username=name,
        display_name=shown_name,
        role=parsed_role,
        password_hash=hasher.hash(password),
        active=True,
        created_at=clock.now(),
        failed_logins=0,
        locked_until=None,
    )
    db.add(user)
    try:
        db.flush()
    except IntegrityError:
        raise ConflictError(f"username: {name!r} already exists") from None
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="user.created",
        object_type="user",
        object_id=name,
        details={"role": parsed_role.value},
    )
    return user


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("dijkwacht-timing-equaliser")


def _password_matches(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _refuse(
    db: Session, clock: Clock, *, actor: str, object_id: str | None, details: dict[str, object]
) -> AuthenticationError:
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="user.login_failed",
        object_type="user",
        object_id=object_id,
        details=details,
    )
    return AuthenticationError()


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """A password verified before the login's write unit (`check_password`).

    argon2 costs a few hundred milliseconds of CPU, more on a busy machine; done inside the
    write unit it held the database's one write lock that long, and thirty analysts logging in
    together left the last waiting past the busy timeout (503s in bench/load.py). `hash` is
    the stored hash the password was checked against: `authenticate` uses the result only
    while the account still has that hash.
    """

    username: str
    hash: str | None
    matches: bool
    new_hash: str | None = None


def check_password(
    *, db: Session, username: str, password: str, hasher: PasswordHasher = DEFAULT_HASHER
) -> PasswordCheck:
    """Verify the password against the stored hash without writing (a read unit will do).

    Unknown users cost one verification too, so timing does not reveal which names exist. A
    correct password under an outdated hash also gets its new hash here (argon2 again).
    """
    name = username.strip().lower()[:64]
    stored = db.scalar(select(User.password_hash).where(User.username == name)) if name else None
    if stored is None:
        _password_matches(hasher, _dummy_hash(hasher), password)
        return PasswordCheck(name, None, False)
    matches = _password_matches(hasher, stored, password)
    rehash = matches and hasher.check_needs_rehash(stored)
    return PasswordCheck(name, stored, matches, hasher.hash(password) if rehash else None)


def authenticate(
    *,
    db: Session,
    username: str,
    password: str,
    clock: Clock,
    policy: LoginPolicy = LoginPolicy(),
    hasher: PasswordHasher = DEFAULT_HASHER,
    checked: PasswordCheck | None = None,
) -> User:
    """Check a login and return the user; every outcome is audited in the caller's unit
    (which must commit on `AuthenticationError` too).

    Unknown users cost one hash verification too, so timing does not reveal which names
    exist. A hash made with older parameters is replaced on success. Consecutive failures
    lock the account (`policy`), with the lock doubling on each further failure. `checked`
    (from `check_password`, before the unit) saves the verification inside the unit while
    the account's hash is unchanged; otherwise the password is verified here.

    Raises:
        AuthenticationError: wrong password, unknown, locked or disabled account.
    """
    name = username.strip().lower()[:64]
    user = db.scalar(select(User).where(User.username == name)) if name else None
    now = clock.now()
    usable = checked if checked is not None and checked.username == name else None
    if usable is not None and usable.hash != (None if user is None else user.password_hash):
        usable = None  # the account changed since the check: verify again, under the lock

    if user is None:
        if usable is None:
            _password_matches(hasher, _dummy_hash(hasher), password)
        raise _refuse(
            db,
            clock,
            actor="anonymous",
            object_id=None,
            details={"username": name, "reason": "unknown user"},
        )
    if user.locked_until is not None and user.locked_until > now:
        if usable is None:
            _password_matches(hasher, _dummy_hash(hasher), password)
        raise _refuse(
            db,
            clock,
            actor=name,
            object_id=name,
            details={"reason": "locked", "locked_until": user.locked_until.isoformat()},
        )

    if usable is not None:
        matches = usable.matches
    else:
        matches = _password_matches(hasher, user.password_hash, password)
    if matches and not user.active:
        raise _refuse(db, clock, actor=name, object_id=name, details={"reason": "disabled"})
    if not matches:
        user.failed_logins += 1
        details: dict[str, object] = {"reason": "wrong password", "failures": user.failed_logins}
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + policy.lockout_for(user.failed_logins)
            details["locked_until"] = user.locked_until.isoformat()
        raise _refuse(db, clock, actor=name, object_id=name, details=details)

    if usable is not None and usable.new_hash is not None:
        user.password_hash = usable.new_hash
    elif usable is None and hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    record(
        db=db,
        clock=clock,
        actor=name,
        action="user.logged_in",
        object_type="user",
        object_id=name,
    )
    return user


def get_user(*, db: Session, username: str) -> User:
    """The user with this username (case-insensitive); raises NotFoundError."""
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFoundError(f"user {username!r} does not exist")
    return user


def list_users(*, db: Session) -> list[User]:
    """All users by username."""
    return list(db.scalars(select(User).order_by(User.username)))


LANGUAGES = ("nl", "en")


def set_language(*, db: Session, user_id: int, language: str) -> User:
    """Remember the dashboard language a person chose (nl or en) on their account.

    A preference, not a security change, so it is not audited; NotFoundError for an account
    that no longer exists, ValidationError for another language.
    """
    if language not in LANGUAGES:
        raise ValidationError("language", f"must be one of {', '.join(LANGUAGES)}")
    user = db.get(User, user_id)
    if user is None:
        raise NotFoundError(f"account {user_id} does not exist")
    user.language = language
    db.flush()
    return user
