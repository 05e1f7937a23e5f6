"""What an admin does to existing accounts: lift a lock-out, disable or enable a user."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.accounts.models import User
from core.accounts.service import get_user
from core.accounts.sessions import end_user_sessions
from core.audit import record
from core.clock import Clock
from core.errors import ConflictError


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
        ConflictError: an admin tried to disable their own account (it would lock them out).
    """
    user = get_user(db=db, username=username)
    if not active and user.username == actor:
        raise ConflictError("you cannot disable your own account")
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
