"""API tokens for collectors and scripts: random, shown once, stored as SHA-256, scoped.

A token acts as its user, but only for routes that accept one of its scopes: a route that
names no scope refuses every token. So a token never does more than both its scopes and its
user's role allow.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.accounts.auth_models import ApiToken
from core.accounts.models import Role, User
from core.accounts.service import get_user
from core.audit import record
from core.clock import Clock
from core.errors import NotFoundError, ValidationError

TOKEN_PREFIX = "dkw_"
# What each scope lets a token do; routes name the scope they accept.
SCOPES: dict[str, str] = {
    "ingest": "send event batches to the HTTP ingest endpoint",
    "read:alerts": "read the alert queue and alert details",
    "write:alerts": "acknowledge, assign and suppress alerts",
    "read:events": "search stored events",
    "read:rules": "list detection rules, their state and ATT&CK coverage; test a rule",
    "write:rules": "enable and disable detection rules",
    "read:intel": "list threat-intel indicators and their feeds",
    "read:ldv": "query Logboek Dataverwerkingen records (the LDV read API)",
    "read:metrics": "scrape /metrics (Prometheus; admin users only)",
    "admin": "administer users and tokens (admin users only)",
}
# Refresh `last_used_at` at most this often.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """The secret is in `token` only here, once; afterwards only its hash exists."""

    id: int
    token: str
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """Who a presented token acts as, and what it may do."""

    token_id: int
    user: User
    scopes: frozenset[str]
    # `last_used_at` is older than a minute: the boundary records the use in a write unit.
    touch_due: bool = False


def hash_token(token: str) -> str:
    """SHA-256 hex; tokens carry 256 random bits, so a fast hash is safe to store."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_scopes(scopes: Iterable[str], role: Role) -> tuple[str, ...]:
    cleaned = tuple(sorted({scope.strip() for scope in scopes}))
    if not cleaned:
        raise ValidationError("scope", "give at least one scope: " + ", ".join(SCOPES))
    unknown = [scope for scope in cleaned if scope not in SCOPES]
    if unknown:
        raise ValidationError(
            "scope", f"unknown scope {unknown[0]!r}; allowed: " + ", ".join(SCOPES)
        )
    if "admin" in cleaned and role is not Role.ADMIN:
        raise ValidationError("scope", "'admin' needs a user with the admin role")
    return cleaned


def create_token(
    *,
    db: Session,
    username: str,
    name: str,
    scopes: Iterable[str],
    clock: Clock,
    actor: str,
    expires_in: timedelta | None = None,
) -> IssuedToken:
    """Issue a token for `username` and audit it (`token.created`), in the caller's unit.

    Raises:
        NotFoundError: no such user.
        ValidationError: bad name, scope or lifetime (the field is named).
    """
    user = get_user(db=db, username=username)
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 100:
        raise ValidationError("name", "must be 1-100 characters")
    clean_scopes = _clean_scopes(scopes, user.role)
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationError("expires_in", "must be positive")
    now = clock.now()
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        user_id=user.id,
        name=clean_name,
        prefix=prefix,
        token_hash=hash_token(token),
        scopes=list(clean_scopes),
        created_at=now,
        created_by=actor,
        expires_at=None if expires_in is None else now + expires_in,
    )
    db.add(row)
    db.flush()
    record(
        db=db,
        clock=clock,
        actor=actor,
        action="token.created",
        object_type="api_token",
        object_id=str(row.id),
        details={"user": user.username, "name": clean_name, "scopes": list(clean_scopes)},
    )
    return IssuedToken(row.id, token, clean_name, clean_scopes, row.expires_at)


def identify_token(*, db: Session, token: str, clock: Clock) -> TokenIdentity | None:
    """The identity of a valid token; None when unknown, revoked, expired or its user inactive."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    now = clock.now()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.active:
        return None
    touch_due = row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY
    return TokenIdentity(
        row.id, user, frozenset(str(scope) for scope in row.scopes), touch_due=touch_due
    )


def touch_token(*, db: Session, token_id: int, clock: Clock) -> None:
    """Record that a token was used, in the caller's write unit (only when `touch_due`)."""
    db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=clock.now()))


def revoke_token(*, db: Session, token_id: int, clock: Clock, actor: str) -> ApiToken:
    """Revoke a token for good and audit it, in the caller's unit. Raises NotFoundError."""
    row = db.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(f"token {token_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        record(
            db=db,
            clock=clock,
            actor=actor,
            action="token.revoked",
            object_type="api_token",
            object_id=str(token_id),
        )
    return row


def list_tokens(*, db: Session) -> list[tuple[ApiToken, str]]:
    """Every token with its user's name, newest first (never the secret)."""
    rows = db.execute(
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
    )
    return [(token, username) for token, username in rows]
