"""API tokens, the one kind: random, shown once, stored as SHA-256, scoped, revocable, audited.

A token acts as its user, but only for routes that accept one of its scopes: a route that
names no scope refuses every token. So a token never does more than both its scopes and its
user's role allow. The `ingest` scope is what the collector's HTTP ingest and OTLP receiver
accept; an `ingest` token may be bound to one collector `source`, and a token without a user
(a collector's) may hold nothing but `ingest`. Collector tokens from before the two kinds were
one (`dwi_...`, migration tokens01) are stored the same way and still verify.

Creation, revocation and a token's first use are audit entries (`token.created`,
`token.revoked`, `token.first_used`); later use only moves `last_used_at` (at most once a
minute), so a busy collector does not flood the audit chain.
"""

from __future__ import annotations

import hashlib
import re
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
from core.errors import DijkwachtError, NotFoundError, ValidationError

__all__ = [
    "INGEST",
    "SCOPES",
    "SOURCE_RE",
    "IssuedToken",
    "TokenForbiddenError",
    "TokenIdentity",
    "TokenRefusedError",
    "authorize_ingest",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "shown_prefix",
    "touch_token",
    "verify_token",
]

TOKEN_PREFIX = "dkw_"
# Collector tokens issued before the tokens were one model (migration tokens01).
LEGACY_PREFIX = "dwi_"
INGEST = "ingest"
# What each scope lets a token do; routes name the scope they accept.
SCOPES: dict[str, str] = {
    INGEST: "send event batches to the HTTP ingest endpoint",
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
# Collector source names are slugs: they become metric labels and dead-letter sources.
SOURCE_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# Refresh `last_used_at` at most this often.
_TOUCH_EVERY = timedelta(minutes=1)


class TokenRefusedError(DijkwachtError):
    """The token is unknown, revoked or expired, or its user is disabled (HTTP 401)."""


class TokenForbiddenError(DijkwachtError):
    """A valid token whose scopes or source binding do not cover the call (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """The secret is in `token` only here, once; afterwards only its hash exists."""

    id: int
    token: str
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """Who a presented token acts as (no user: a collector's token), and what it may do."""

    token_id: int
    user: User | None
    scopes: frozenset[str]
    # `last_used_at` is older than a minute: the boundary records the use in a write unit.
    touch_due: bool = False
    source: str | None = None


def hash_token(token: str) -> str:
    """SHA-256 hex; tokens carry 256 random bits, so a fast hash is safe to store."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def shown_prefix(token: ApiToken) -> str:
    """How a token is recognised in lists: its public prefix, never the secret."""
    if token.prefix == LEGACY_PREFIX:
        return f"{LEGACY_PREFIX}…"
    return f"{TOKEN_PREFIX}{token.prefix}_…"


def _clean_scopes(scopes: Iterable[str], role: Role | None) -> tuple[str, ...]:
    cleaned = tuple(sorted({scope.strip() for scope in scopes}))
    if not cleaned:
        raise ValidationError("scope", "give at least one scope: " + ", ".join(SCOPES))
    unknown = [scope for scope in cleaned if scope not in SCOPES]
    if unknown:
        raise ValidationError(
            "scope", f"unknown scope {unknown[0]!r}; allowed: " + ", ".join(SCOPES)
        )
    if role is None and cleaned != (INGEST,):
        raise ValidationError(
            "scope", f"a token without a user may only hold {INGEST!r}; give a user for others"
        )
    if "admin" in cleaned and role is not Role.ADMIN:
        raise ValidationError("scope", "'admin' needs a user with the admin role")
    return cleaned


def _clean_source(source: str | None, scopes: tuple[str, ...]) -> str | None:
    if source is None:
        return None
    if not SOURCE_RE.fullmatch(source):
        raise ValidationError("source", "must be 1-64 of a-z, 0-9, '_', '.', '-' (lowercase)")
    if INGEST not in scopes:
        raise ValidationError("source", f"binds an {INGEST!r} token; add that scope")
    return source


def create_token(
    *,
    db: Session,
    username: str | None,
    name: str,
    scopes: Iterable[str],
    clock: Clock,
    actor: str,
    expires_in: timedelta | None = None,
    source: str | None = None,
) -> IssuedToken:
    """Issue a token and audit it (`token.created`), in the caller's unit.

    Without `username` the token acts for no account and may hold only `ingest` (a
    collector's); `source` binds an `ingest` token to one collector source.

    Raises:
        NotFoundError: no such user.
        ValidationError: bad name, scope, source or lifetime (the field is named).
    """
    user = get_user(db=db, username=username) if username is not None else None
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 100:
        raise ValidationError("name", "must be 1-100 characters")
    clean_scopes = _clean_scopes(scopes, None if user is None else user.role)
    clean_source = _clean_source(source, clean_scopes)
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationError("expires_in", "must be positive")
    now = clock.now()
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        user_id=None if user is None else user.id,
        name=clean_name,
        source=clean_source,
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
        details={
            "user": None if user is None else user.username,
            "name": clean_name,
            "scopes": list(clean_scopes),
            "source": clean_source,
            "expires_at": None if row.expires_at is None else row.expires_at.isoformat(),
        },
    )
    return IssuedToken(row.id, token, clean_name, clean_scopes, row.expires_at, clean_source)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def verify_token(*, db: Session, token: str, clock: Clock) -> TokenIdentity:
    """The identity of a live token.

    Raises:
        TokenRefusedError: unknown, revoked or expired, or its user is disabled; the message
            says which (never the secret).
    """
    if not token.startswith((TOKEN_PREFIX, LEGACY_PREFIX)) or len(token) > 200:
        raise TokenRefusedError("Authorization: not a Dijkwacht API token")
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        raise TokenRefusedError("Authorization: unknown token")
    now = clock.now()
    if row.revoked_at is not None:
        raise TokenRefusedError(
            f"Authorization: token {row.id} was revoked at {_stamp(row.revoked_at)}"
        )
    if row.expires_at is not None and row.expires_at <= now:
        raise TokenRefusedError(
            f"Authorization: token {row.id} expired at {_stamp(row.expires_at)}"
        )
    user: User | None = None
    if row.user_id is not None:
        user = db.get(User, row.user_id)
        if user is None or not user.active:
            raise TokenRefusedError(f"Authorization: the account of token {row.id} is disabled")
    touch_due = row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY
    return TokenIdentity(
        row.id,
        user,
        frozenset(str(scope) for scope in row.scopes),
        touch_due=touch_due,
        source=row.source,
    )


def authorize_ingest(
    *, db: Session, authorization: str | None, clock: Clock, source: str | None
) -> TokenIdentity:
    """The identity of a `Bearer` token that may send events for `source`.

    `source` None (OTLP, where no path names it) needs a token bound to a source; the
    identity's `source` is then the one to store under.

    Raises:
        TokenRefusedError: no bearer token, or one that is unknown, revoked or expired (401).
        TokenForbiddenError: a live token without `ingest`, or bound to another source (403).
    """
    if not authorization or not authorization.startswith("Bearer "):
        raise TokenRefusedError("Authorization: expected 'Bearer <token>'")
    identity = verify_token(db=db, token=authorization.removeprefix("Bearer ").strip(), clock=clock)
    if INGEST not in identity.scopes:
        raise TokenForbiddenError(f"this token lacks the {INGEST!r} scope")
    if source is None:
        if identity.source is None:
            raise TokenForbiddenError(
                "this token is bound to no source; OTLP needs one (dijkwacht tokens create "
                "--source NAME)"
            )
        return identity
    if identity.source is not None and identity.source != source:
        raise TokenForbiddenError(
            f"this token is bound to source {identity.source!r}, not {source!r}"
        )
    return TokenIdentity(
        identity.token_id, identity.user, identity.scopes, identity.touch_due, source
    )


def touch_token(*, db: Session, token_id: int, clock: Clock) -> None:
    """Record that a token was used, in the caller's write unit (only when `touch_due`); the
    first use is also an audit entry (`token.first_used`)."""
    row = db.get(ApiToken, token_id)
    if row is None:
        return
    if row.last_used_at is None:
        record(
            db=db,
            clock=clock,
            actor=_holder(db, row),
            action="token.first_used",
            object_type="api_token",
            object_id=str(token_id),
            details={"name": row.name, "source": row.source},
        )
    db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=clock.now()))


def _holder(db: Session, row: ApiToken) -> str:
    if row.user_id is not None:
        user = db.get(User, row.user_id)
        if user is not None:
            return user.username
    return f"token:{row.id}"


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
            details={"name": row.name, "source": row.source},
        )
    return row


def list_tokens(*, db: Session) -> list[tuple[ApiToken, str | None]]:
    """Every token with its user's name (None: a collector's), newest first (never the
    secret)."""
    rows = db.execute(
        select(ApiToken, User.username)
        .outerjoin(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
    )
    return [(token, username) for token, username in rows]
