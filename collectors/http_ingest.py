"""HTTP batch ingest: NDJSON bodies from a source holding an API token, into the spool.

Tokens: `create_token` returns `dwi_<random>` once; only its SHA-256 is stored, so a database
leak does not leak tokens, and a lookup by hash needs no constant-time comparison. Tokens never
appear in logs or errors.

Each line is either an ECS event (`@timestamp` + `event` object, validated as is) or any other
JSON object (wrapped by the `json` parser, `@timestamp` from its `timestamp` field). Good lines
are spooled (durable before the 200); bad lines are reported by line number with field and
reason and dead-lettered, so nothing posted is lost.

Idempotency: a request may carry an `Idempotency-Key` (1-255 visible ASCII characters, unique
per source). The key, a SHA-256 of the body and the reply are committed with the batch
(`Spool.append_once`), so a client that retries after a timeout or a collector crash gets the
first reply again and nothing is stored twice; the same key with another body is refused.
Keys expire after `ingest_idempotency_hours`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors.models import CollectorToken
from collectors.parsers import ParseError, get_parser
from collectors.spool import OnceKey, Remembered, Spool
from core.errors import DijkwachtError, ValidationError
from core.events import Event, validate_event
from core.store.base import DeadLetter

if TYPE_CHECKING:
    from collectors.hooks import EnrichFn

TOKEN_PREFIX = "dwi_"
SOURCE_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# Seconds a client should wait when the spool is full; the consumer drains ~thousands/s.
RETRY_AFTER_SECONDS = 5
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Visible ASCII only: keys end up in logs and error messages, and UUIDs and hashes fit.
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
DEFAULT_KEY_TTL = timedelta(hours=24)


class UnauthorizedError(DijkwachtError):
    """No token, an unknown or revoked token, or a token for another source."""


class PayloadTooLargeError(DijkwachtError):
    """The body or one line is over the configured limit."""


class SpoolFullError(DijkwachtError):
    """Back-pressure: the spool is full; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__("the collector spool is full; retry later")
        self.retry_after = retry_after


class KeyReusedError(ValidationError):
    """The idempotency key was already used for a different body (HTTP 422)."""

    def __init__(self) -> None:
        super().__init__(
            IDEMPOTENCY_HEADER, "already used for a different body; use a new key per batch"
        )


@dataclass(frozen=True, slots=True)
class Rejected:
    """One refused line: 1-based line number, the field at fault and why."""

    line: int
    field: str
    reason: str


@dataclass(slots=True)
class IngestResult:
    """The reply to one request; `replayed` when it is the stored reply to an earlier one."""

    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    replayed: bool = False

    @classmethod
    def from_json(cls, data: bytes) -> IngestResult:
        value = orjson.loads(data)
        return cls(
            accepted=value["accepted"],
            rejected=[Rejected(r["line"], r["field"], r["reason"]) for r in value["rejected"]],
            replayed=True,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [
                {"line": r.line, "field": r.field, "reason": r.reason} for r in self.rejected
            ],
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_source(source: str) -> str:
    """Source names are slugs: they become metric labels and dead-letter sources."""
    if not SOURCE_RE.fullmatch(source):
        raise ValidationError("source", "must be 1-64 of a-z, 0-9, '_', '.', '-' (lowercase)")
    return source


def check_idempotency_key(key: str) -> str:
    if not KEY_RE.fullmatch(key):
        raise ValidationError(IDEMPOTENCY_HEADER, "must be 1-255 visible ASCII characters")
    return key


def _replay(earlier: Remembered, fingerprint: str) -> IngestResult:
    if earlier.fingerprint != fingerprint:
        raise KeyReusedError()
    return IngestResult.from_json(earlier.response)


def create_token(*, db: Session, source: str, now: datetime) -> str:
    """Create a token for `source`; the caller shows it once, it cannot be recovered."""
    check_source(source)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(CollectorToken(source=source, token_sha256=_digest(token), created_at=now))
    db.flush()  # the caller's unit of work commits
    return token


def authenticate(*, db: Session, source: str, authorization: str | None) -> None:
    """Raise UnauthorizedError unless `authorization` is `Bearer <live token for source>`."""
    if not authorization or not authorization.startswith("Bearer "):
        raise UnauthorizedError("Authorization: expected 'Bearer <token>'")
    token = authorization.removeprefix("Bearer ").strip()
    row = db.scalars(
        select(CollectorToken).where(CollectorToken.token_sha256 == _digest(token))
    ).first()
    if row is None or row.revoked_at is not None or row.source != source:
        raise UnauthorizedError("Authorization: token unknown, revoked or not for this source")


def token_source(*, db: Session, authorization: str | None) -> str:
    """The source a live `Bearer` token belongs to (OTLP exporters name no source in the path)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise UnauthorizedError("Authorization: expected 'Bearer <token>'")
    token = authorization.removeprefix("Bearer ").strip()
    row = db.scalars(
        select(CollectorToken).where(CollectorToken.token_sha256 == _digest(token))
    ).first()
    if row is None or row.revoked_at is not None:
        raise UnauthorizedError("Authorization: token unknown or revoked")
    return row.source


def ingest_ndjson(
    *,
    spool: Spool,
    source: str,
    body: bytes,
    max_line_bytes: int,
    received_at: datetime,
    peer: str,
    enrich: EnrichFn | None = None,
    idempotency_key: str | None = None,
    key_ttl: timedelta = DEFAULT_KEY_TTL,
) -> IngestResult:
    """Spool every good line of an NDJSON body; report and dead-letter the bad ones.

    `enrich` runs on each accepted event before it is spooled (see `collectors.hooks`). With
    `idempotency_key`, a body already stored under that key is not stored again: the first
    reply comes back with `replayed` set (KeyReusedError if the body differs). A retry is
    answered even while the spool is full, since it needs no room.
    """
    check_source(source)
    once: OnceKey | None = None
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
        fingerprint = hashlib.sha256(body).hexdigest()
        once = OnceKey(source, idempotency_key, fingerprint, received_at + key_ttl)
        earlier = spool.remembered(scope=source, key=idempotency_key)
        if earlier is not None:
            return _replay(earlier, fingerprint)
    if spool.is_full():
        raise SpoolFullError()
    wrapper = get_parser("json", dataset=f"http.{source}")
    result = IngestResult()
    events: list[Event] = []
    dead: list[DeadLetter] = []
    letter_source = f"http/{source}"
    offset = 0
    for number, raw in enumerate(body.split(b"\n"), start=1):
        start, offset = offset, offset + len(raw) + 1
        line = raw.rstrip(b"\r")
        if not line.strip():
            continue
        problem: Rejected | None
        if len(line) > max_line_bytes:
            problem = Rejected(number, "line", f"longer than {max_line_bytes} bytes")
        else:
            event, problem = _read_line(line, number, wrapper, received_at, peer)
            if event is not None:
                events.append(enrich(event) if enrich is not None else event)
                continue
        assert problem is not None
        result.rejected.append(problem)
        dead.append(
            DeadLetter(
                source=letter_source,
                reason=f"line {number}: {problem.field}: {problem.reason}",
                raw=line,
                offset=start,
                received_at=received_at,
                raw_length=len(line),
            )
        )
    result.accepted = len(events)
    if once is None:
        spool.append(events, source=letter_source, dead=dead)
        return result
    response = orjson.dumps(result.as_dict())
    earlier = spool.append_once(
        events, source=letter_source, dead=dead, once=once, response=response
    )
    # Another request under the same key committed first (a concurrent retry).
    return result if earlier is None else _replay(earlier, once.fingerprint)


def _read_line(
    line: bytes, number: int, wrapper: Any, received_at: datetime, peer: str
) -> tuple[Event | None, Rejected | None]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return None, Rejected(number, "line", f"not JSON ({exc.msg})")
    if not isinstance(value, dict):
        return None, Rejected(number, "line", "must be a JSON object")
    if "@timestamp" in value and isinstance(value.get("event"), dict):
        head = value["event"]
        head.setdefault("original", line.decode("utf-8"))
        head.setdefault("kind", "event")
        head.setdefault("dataset", "http")
        try:
            validate_event(value)
        except ValidationError as exc:
            return None, Rejected(number, exc.field, exc.problem)
        return value, None
    try:
        return wrapper.parse(line, received_at=received_at, source=peer), None
    except ParseError as exc:
        return None, Rejected(number, exc.field or "line", exc.reason)
