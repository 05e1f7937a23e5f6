"""HTTP batch ingest: NDJSON bodies from a source holding an API token, into the spool.

Tokens are the platform's API tokens (`core.accounts.tokens`, `dijkwacht tokens create`) with
the `ingest` scope, optionally bound to one source; only their SHA-256 is stored, so a database
leak does not leak tokens, and a lookup by hash needs no constant-time comparison. Tokens never
appear in logs or errors. No or a dead token: 401 (the reply says unknown, revoked or expired);
a live token without `ingest` or bound to another source: 403.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.orm import Session

from collectors.parsers import ParseError, get_parser
from collectors.spool import OnceKey, Remembered, Spool
from core.accounts.tokens import (
    SOURCE_RE,
    TokenForbiddenError,
    TokenIdentity,
    TokenRefusedError,
    authorize_ingest,
)
from core.clock import Clock
from core.errors import DijkwachtError, ValidationError
from core.events import Event, validate_event
from core.store.base import DeadLetter

if TYPE_CHECKING:
    from collectors.hooks import EnrichFn

# Seconds a client should wait when the spool is full; the consumer drains ~thousands/s.
RETRY_AFTER_SECONDS = 5
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Visible ASCII only: keys end up in logs and error messages, and UUIDs and hashes fit.
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
DEFAULT_KEY_TTL = timedelta(hours=24)


class UnauthorizedError(DijkwachtError):
    """No token, or an unknown, revoked or expired one (HTTP 401)."""


class ForbiddenError(DijkwachtError):
    """A live token without the `ingest` scope, or bound to another source (HTTP 403)."""


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


def authenticate(
    *, db: Session, source: str, authorization: str | None, clock: Clock
) -> TokenIdentity:
    """The identity of `Bearer <token>` when it may send events for `source`.

    Raises UnauthorizedError (no, unknown, revoked or expired token) or ForbiddenError (no
    `ingest` scope, or bound to another source); the message says which.
    """
    try:
        return authorize_ingest(db=db, authorization=authorization, clock=clock, source=source)
    except TokenRefusedError as exc:
        raise UnauthorizedError(str(exc)) from None
    except TokenForbiddenError as exc:
        raise ForbiddenError(str(exc)) from None


def token_source(*, db: Session, authorization: str | None, clock: Clock) -> TokenIdentity:
    """The identity of a live `ingest` token bound to a source (OTLP exporters name no source
    in the path: its `source` is where the records go). Raises as `authenticate`."""
    try:
        return authorize_ingest(db=db, authorization=authorization, clock=clock, source=None)
    except TokenRefusedError as exc:
        raise UnauthorizedError(str(exc)) from None
    except TokenForbiddenError as exc:
        raise ForbiddenError(str(exc)) from None


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
