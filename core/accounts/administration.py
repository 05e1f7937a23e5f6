"""What an admin does to existing accounts: lift a lock-out, disable or enable a user, change
a role, reset a password.

Nobody can lock the platform out of its own administration: disabling or demoting the last
active admin is refused (`ensure_an_admin_remains`), from the dashboard and the CLI alike.
The newer functions (`set_role`, `reset_password`) follow the one-write-door rule: they take
the caller's session and never commit; the boundary's unit of work does.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.accounts.auth_models import WebSession
from core.accounts.models import Role, User
from core.accounts.service import DEFAULT_HASHER, _check_password, _parse_role, get_user
from core.accounts.sessions import end_user_sessions
from core.audit import record
from core.clock import Clock
from core.errors import ConflictError

LAST_ADMIN = "the platform needs at least one active admin; make another account admin first"


def ensure_an_admin_remains(*, db: Session, user: User, role: Role, active: bool) -> None:
    """Refuse a change that would leave no active admin (ConflictError naming the cause)."""
    if user.role is not Role.ADMIN or not user.active or (role is Role.ADMIN and active):
        return
    others = db.scalar(
        select(func.count(User.id)).where(
            User.role == Role.ADMIN, User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise ConflictError(f"{user.username}: {LAST_ADMIN}")


def active_admins(*, db: Session) -> int:
    """How many active admin accounts exist (0: nobody can administer, e.g. a fresh install)."""
    return int(
        db.scalar(select(func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True)))
        or 0
    )


def set_role(*, db: Session, username: str, role: Role | str, clock: Clock, actor: str) -> User:
    """Give a user another role; audited (`user.role_changed`, old and new role). Takes effect
    on the user's next request (sessions read the role from the account). Never commits.

    Raises:
        NotFoundError: no such user. ValidationError: unknown role.
        ConflictError: it would demote the last active admin.
    """
    new_role = _parse_role(role)
    user = get_user(db=db, username=username)
    if user.role is new_role:
        return user
    ensure_an_admin_remains(db=db, user=user, role=new_role, active=user.active)
    old_role = user.role
    user.role = new_role
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="user.role_changed",
        object_type="user",
        object_id=user.username,
        details={"from": old_role.value, "to": new_role.value},
    )
    db.flush()
    return user


def reset_password(
    *,
    db: Session,
    username: str,
    password: str,
    clock: Clock,
    actor: str,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> User:
    """Set a new password chosen by an admin; lifts a lock-out and ends the user's sessions
    (whoever held them must log in with the new one). Audited (`user.password_reset`, never
    the password). Never commits.

    Raises:
        NotFoundError: no such user. ValidationError: the password breaks the rules (field
        `password`).
    """
    user = get_user(db=db, username=username)
    _check_password(password, user.username)
    user.password_hash = hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="user.password_reset",
        object_type="user",
        object_id=user.username,
    )
    db.flush()
    return user


def unlock_user(*, db: Session, username: str, clock: Clock, actor: str) -> User:
    """Clear failed logins and the lock; audited (`user.unlocked`), in the caller's unit."""
    user = get_user(db=db, username=username)
    user.failed_logins = 0
    user.locked_until = None
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="user.unlocked",
        object_type="user",
        object_id=user.username,
    )
    return user


def set_active(*, db: Session, username: str, active: bool, clock: Clock, actor: str) -> User:
    """Enable or disable an account; disabling ends its sessions at once. Audited, in the
    caller's unit.

    Raises:
        ConflictError: an admin tried to disable their own account (it would lock them out),
            or the last active admin.
    """
    user = get_user(db=db, username=username)
    if not active and user.username == actor:
        raise ConflictError("you cannot disable your own account")
    ensure_an_admin_remains(db=db, user=user, role=user.role, active=active)
    user.active = active
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="user.enabled" if active else "user.disabled",
        object_type="user",
        object_id=user.username,
    )
    if not active:
        end_user_sessions(db=db, user_id=user.id)
    return user
