"""Shared pieces of every parser: the one error they raise, byte decoding and the event skeleton.

Collectors receive bytes. Parsers turn them into ECS events or raise `ParseError`, which the
caller dead-letters together with the raw bytes, so a rejected record is never lost.

Invalid UTF-8 is handled the same way everywhere (see docs/collectors.md): text fields are
decoded with U+FFFD replacement, `event.original` keeps undecodable bytes visible as `\\xNN`,
the event is tagged `invalid_utf8`, and the exact bytes go to `dijkwacht.original_base64`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from collectors.errors import ParseError
from core.clock import utc_iso
from core.errors import ValidationError
from core.events import Event, set_field, validate_event

INVALID_UTF8_TAG = "invalid_utf8"


class Parser(Protocol):
    """What every parser offers: one raw record in, one ECS event out (or ParseError)."""

    name: str

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        """Parse one record received at `received_at` from `source` (e.g. "udp://10.0.0.5")."""
        ...


class Decoded(NamedTuple):
    """A record decoded for parsing (`text`) and for keeping (`original`).

    A NamedTuple rather than a frozen dataclass: one is built per record on the ingest hot
    path, and a frozen dataclass's `__init__` (one `object.__setattr__` per field) costs
    several times as much.
    """

    text: str
    original: str
    valid_utf8: bool


def decode(raw: bytes) -> Decoded:
    """Decode bytes; invalid UTF-8 is replaced in `text` and shown as `\\xNN` in `original`."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise ParseError(f"expected bytes, got {type(raw).__name__}")
    data = bytes(raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Decoded(
            data.decode("utf-8", errors="replace"),
            data.decode("utf-8", errors="backslashreplace"),
            False,
        )
    return Decoded(text, text, True)


def strip_line_end(raw: bytes) -> bytes:
    """Line-oriented formats: the line terminator is framing, not part of the record."""
    if raw[-1:] == b"\n":
        raw = raw[:-2] if raw[-2:] == b"\r\n" else raw[:-1]
    return raw


def check_received_at(received_at: datetime) -> datetime:
    """The reception time must be aware: a naive one would silently shift every timestamp."""
    if not isinstance(received_at, datetime) or received_at.tzinfo is None:
        raise ParseError("must be a timezone-aware datetime", field="received_at")
    return received_at


# A chunk's records share one reception time and floods repeat timestamps, so formatting (the
# costliest step of building the skeleton) is memoised; keys are immutable aware datetimes.
_iso = lru_cache(maxsize=1024)(utc_iso)


def base_event(
    *,
    timestamp: datetime | None,
    received_at: datetime,
    dataset: str,
    decoded: Decoded,
    raw: bytes,
    source: str,
) -> Event:
    """The skeleton every parser fills: required fields plus where and when we got it."""
    created = _iso(received_at)
    event: Event = {
        "@timestamp": _iso(timestamp) if timestamp is not None else created,
        "event": {
            "kind": "event",
            "dataset": dataset,
            "original": decoded.original,
            "created": created,
        },
    }
    if source:
        event["dijkwacht"] = {"ingest": {"source": source}}
    if not decoded.valid_utf8:
        event["tags"] = [INVALID_UTF8_TAG]
        dijkwacht = event.setdefault("dijkwacht", {})
        dijkwacht["original_base64"] = base64.b64encode(bytes(raw)).decode("ascii")
    return event


def put(event: Event, fields: Mapping[str, Any]) -> None:
    """Set several dotted fields, skipping None so absent values stay absent."""
    for path, value in fields.items():
        if value is not None:
            set_field(event, path, value)


def finish(event: Event) -> Event:
    """Validate the finished event; a failure here is a parser bug surfaced as ParseError."""
    try:
        return validate_event(event)
    except ValidationError as exc:
        raise ParseError(exc.problem, field=exc.field) from None


def host_fields(event: Event, hostname: str | None) -> None:
    """The sender's name as ECS `host.name` and `host.hostname` (what `hostname` prints)."""
    if hostname:
        event["host"] = {"name": hostname, "hostname": hostname}


def peer_host(source: str) -> str:
    """The address in a collector source such as `udp://10.0.0.5:514` (empty when none)."""
    _, sep, rest = source.partition("://")
    if not sep:
        return ""
    host, colon, port = rest.rpartition(":")
    host = host if colon and port.isdigit() else rest
    return host.strip("[]")
