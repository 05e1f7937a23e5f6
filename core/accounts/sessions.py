"""Server-side web sessions: random ids, stored hashed, with idle and absolute expiry.

The cookie carries a 256-bit random id; the database keeps only its SHA-256, so a copy of the
database does not let anyone take over a session. Each session also holds the synchroniser
token that state-changing requests must echo (CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from core.accounts.auth_models import WebSession
from core.accounts.models import Role, User
from core.clock import Clock
from core.store.fast_read import PreparedRead


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives: idle timeout, hard maximum (a long shift), anonymous life."""

    idle: timedelta = timedelta(minutes=60)
    absolute: timedelta = timedelta(hours=12)
    anonymous: timedelta = timedelta(minutes=30)
    # Refresh `last_seen_at` at most this often, so reads do not each cost a write.
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionUser:
    """Who a session belongs to: plain values, read with the session in one query."""

    id: int
    username: str
    display_name: str
    role: Role

    @classmethod
    def of(cls, user: User) -> SessionUser:
        return cls(user.id, user.username, user.display_name, user.role)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A valid session as the dashboard sees it; `user` is None before login."""

    session_id: str
    csrf_token: str
    user: SessionUser | None
    expires_at: datetime


# Built once: this lookup runs on every request. Plain columns (no ORM entities in the identity
# map), read straight from the pool (`PreparedRead`), keep it at a tenth of an entity query's cost.
_LOOKUP = PreparedRead(
    select(
        WebSession.csrf_token,
        WebSession.user_id,
        WebSession.created_at,
        WebSession.last_seen_at,
        WebSession.expires_at,
        User.id,
        User.username,
        User.display_name,
        User.role,
        User.active,
    )
    .outerjoin(User, User.id == WebSession.user_id)
    .where(WebSession.id_hash == bindparam("session_hash"))
)
_BY_HASH = WebSession.id_hash == bindparam("session_hash")


def hash_session_id(session_id: str) -> str:
    """SHA-256 hex of the cookie value; ids are random, so no salt or slow hash is needed."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the synchroniser token."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def _new_row(user: User | None, clock: Clock, policy: SessionPolicy) -> tuple[str, WebSession]:
    now = clock.now()
    session_id = secrets.token_urlsafe(32)
    life = policy.anonymous if user is None else min(policy.idle, policy.absolute)
    row = WebSession(
        id_hash=hash_session_id(session_id),
        user_id=None if user is None else user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + life,
    )
    return session_id, row


def start_session(
    *,
    db: Session,
    user: User | None,
    clock: Clock,
    policy: SessionPolicy = SessionPolicy(),
    replaces: str | None = None,
) -> ActiveSession:
    """Create a session (anonymous or for `user`) and drop `replaces`, in the caller's unit.

    Always a fresh id: logging in through an existing (possibly planted) session id never
    promotes that id, which is what prevents session fixation.
    """
    if replaces:
        db.execute(delete(WebSession).where(WebSession.id_hash == hash_session_id(replaces)))
    session_id, row = _new_row(user, clock, policy)
    db.add(row)
    db.flush()
    return ActiveSession(
        session_id, row.csrf_token, None if user is None else SessionUser.of(user), row.expires_at
    )


@dataclass(frozen=True, slots=True)
class SessionLookup:
    """A read-only look at a session; `stale` when its row needs a write (expired or touch due).

    The request path reads without a write lock and opens a write unit only when `stale`: about
    once a minute per session, instead of a lock upgrade on every request.
    """

    session: ActiveSession | None
    stale: bool


def look_up_session(
    *, db: Session, session_id: str, clock: Clock, policy: SessionPolicy = SessionPolicy()
) -> SessionLookup:
    """The session with this id as it is now; never writes (see `load_session` for that)."""
    if not session_id or len(session_id) > 100:
        return SessionLookup(None, False)
    found = _LOOKUP.first(db, {"session_hash": hash_session_id(session_id)})
    if found is None:
        return SessionLookup(None, False)
    now = clock.now()
    csrf_token, user_id, _created_at, last_seen_at, expires_at = found[:5]
    uid, username, display_name, role, active = found[5:]
    if expires_at <= now or (user_id is not None and (uid is None or not active)):
        return SessionLookup(None, True)
    user = None if uid is None else SessionUser(uid, username, display_name, role)
    touch_due = now - last_seen_at >= policy.touch_every
    return SessionLookup(ActiveSession(session_id, csrf_token, user, expires_at), touch_due)


def load_session(
    *, db: Session, session_id: str, clock: Clock, policy: SessionPolicy = SessionPolicy()
) -> ActiveSession | None:
    """The valid session with this id, sliding its idle expiry; None when unknown or expired.

    Writes (deletes an expired row, refreshes `last_seen_at`) in the caller's unit, which must
    be a write unit; the request path calls `look_up_session` first and this only when stale.
    """
    if not session_id or len(session_id) > 100:
        return None
    id_hash = hash_session_id(session_id)
    found = _LOOKUP.first(db, {"session_hash": id_hash})
    now = clock.now()
    if found is None:
        return None
    csrf_token, user_id, created_at, last_seen_at, expires_at = found[:5]
    uid, username, display_name, role, active = found[5:]
    gone = expires_at <= now or (user_id is not None and (uid is None or not active))
    if gone:
        db.execute(delete(WebSession).where(_BY_HASH), {"session_hash": id_hash})
        return None
    if now - last_seen_at >= policy.touch_every:
        life = policy.anonymous if uid is None else policy.idle
        expires_at = min(now + life, created_at + policy.absolute)
        db.execute(
            update(WebSession).where(_BY_HASH).values(last_seen_at=now, expires_at=expires_at),
            {"session_hash": id_hash},
        )
    user = None if uid is None else SessionUser(uid, username, display_name, role)
    return ActiveSession(session_id, csrf_token, user, expires_at)


def end_session(*, db: Session, session_id: str) -> None:
    """Delete the session (logout), in the caller's unit."""
    db.execute(delete(WebSession).where(WebSession.id_hash == hash_session_id(session_id)))


def end_user_sessions(*, db: Session, user_id: int) -> int:
    """Delete every session of a user (disabled account, password reset), in the caller's unit."""
    result = db.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(*, db: Session, clock: Clock) -> int:
    """Delete expired sessions; a periodic task may call it, correctness does not depend on it."""
    result = db.execute(delete(WebSession).where(WebSession.expires_at <= clock.now()))
    return int(getattr(result, "rowcount", 0) or 0)


def session_count(*, db: Session, user_id: int) -> int:
    """Number of live session rows of a user (admin page)."""
    return len(list(db.scalars(select(WebSession.id_hash).where(WebSession.user_id == user_id))))
