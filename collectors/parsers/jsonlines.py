"""One JSON object per line: either an ECS event already, or any object we wrap.

An object with `@timestamp` and an `event` object is taken as ECS and kept as is (we only fill
`event.original`, `event.kind` and `event.dataset` when missing). Any other object is wrapped:
its fields go under `dijkwacht.json` (a flattened field, see docs/ecs-extension.md), its time
comes from a configurable field that must be present, and a string `message` is copied to ECS
`message`. JSON must be UTF-8 (RFC 8259), so invalid UTF-8 is a ParseError here.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

import orjson

from collectors.parsers.base import (
    ParseError,
    base_event,
    check_received_at,
    decode,
    finish,
    strip_line_end,
)
from core.clock import utc_iso
from core.events import Event, get_field

_EPOCH_MS_THRESHOLD = 100_000_000_000  # larger numbers are epoch milliseconds (after 1973)


def parse_time_value(value: Any, *, field: str, default_tz: tzinfo) -> datetime:
    """ISO 8601 string or epoch number (seconds, or milliseconds when very large)."""
    if isinstance(value, bool):
        raise ParseError("must be an ISO 8601 string or an epoch number", field=field)
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_THRESHOLD else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ParseError("epoch time out of range", field=field) from None
    if not isinstance(value, str):
        raise ParseError("must be an ISO 8601 string or an epoch number", field=field)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ParseError("not an ISO 8601 date-time", field=field) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=default_tz)


def load_object(line: bytes) -> dict[str, Any]:
    """Parse one line as a JSON object; every failure is a ParseError."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got {type(value).__name__}")
    return value


class JsonLinesParser:
    """JSON lines; `timestamp_field` (a dotted path) is required for non-ECS objects."""

    name = "json"

    def __init__(
        self,
        *,
        dataset: str = "json",
        timestamp_field: str = "timestamp",
        default_tz: tzinfo = UTC,
    ) -> None:
        self.dataset = dataset
        self.timestamp_field = timestamp_field
        self.default_tz = default_tz

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        line = strip_line_end(raw)
        decoded = decode(line)
        if not decoded.valid_utf8:
            raise ParseError("JSON text must be valid UTF-8")
        obj = load_object(line)
        if "@timestamp" in obj and isinstance(obj.get("event"), dict):
            return self._keep(obj, decoded.text, received_at, source)
        value = get_field(obj, self.timestamp_field)
        if value is None:
            raise ParseError("is required", field=self.timestamp_field)
        timestamp = parse_time_value(value, field=self.timestamp_field, default_tz=self.default_tz)
        event = base_event(
            timestamp=timestamp,
            received_at=received_at,
            dataset=self.dataset,
            decoded=decoded,
            raw=line,
            source=source,
        )
        event.setdefault("dijkwacht", {})["json"] = obj
        message = obj.get("message")
        if isinstance(message, str) and message:
            event["message"] = message
        return finish(event)

    def _keep(self, obj: dict[str, Any], text: str, received_at: datetime, source: str) -> Event:
        block: dict[str, Any] = obj["event"]
        block.setdefault("original", text)
        block.setdefault("kind", "event")
        block.setdefault("dataset", self.dataset)
        block.setdefault("created", utc_iso(received_at))
        host = obj.get("host")
        if (
            isinstance(host, dict)
            and not host.get("name")
            and isinstance(host.get("hostname"), str)
        ):
            # Shippers that fill only host.hostname: ECS searches and rules use host.name.
            host["name"] = host["hostname"]
        if source:
            extension = obj.setdefault("dijkwacht", {})
            if isinstance(extension, dict):
                extension.setdefault("ingest", {"source": source})
        return finish(obj)
