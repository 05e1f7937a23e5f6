"""The normalised event: an ECS document.

An event is a plain nested dict in Elastic Common Schema form (`{"event": {"kind": ...}}`), the
shape Elasticsearch stores and Sigma's ECS pipelines expect. Code reads and writes it through
dotted paths (`get_field(event, "source.ip")`). Keys that themselves contain dots (as in
`winlog.event_data.*` from some shippers) are found too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from core.clock import utc_iso
from core.errors import ValidationError

Event = dict[str, Any]

REQUIRED_FIELDS = ("@timestamp", "event.kind", "event.dataset", "event.original")

# ECS allowed values for event.kind (ECS 8.x).
EVENT_KINDS = frozenset(
    {"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
)

_MISSING = object()


def get_field(event: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Value at a dotted ECS path, or `default` when absent."""
    if path in event:
        return event[path]
    node: Any = event
    parts = path.split(".")
    for index, part in enumerate(parts):
        # `type(...) is dict` first: nearly every node is a plain dict, and the ABC check
        # alone cost more than the rest of the walk (enrichment calls this ~7 times an event).
        if type(node) is not dict and not isinstance(node, Mapping):
            return default
        if part in node:
            node = node[part]
            continue
        # A key with dots inside (`"event_data.SubjectUserName"`) holds the rest of the path.
        rest = ".".join(parts[index:])
        return node.get(rest, default)
    return node


def has_field(event: Mapping[str, Any], path: str) -> bool:
    return get_field(event, path, _MISSING) is not _MISSING


def set_field(event: Event, path: str, value: Any) -> None:
    """Set a dotted ECS path, creating the nested objects on the way."""
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ValidationError(
                path, f"cannot set below {part!r}: it holds a {type(child).__name__}"
            )
        node = child
    node[parts[-1]] = value


def flatten(event: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted path, leaf value) pairs; lists are leaves."""
    for key, value in event.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{path}.")
        else:
            yield path, value


def new_event(
    *,
    timestamp: datetime | str,
    dataset: str,
    original: str,
    kind: str = "event",
    fields: Mapping[str, Any] | None = None,
) -> Event:
    """Build a valid event from its required parts plus any dotted `fields`."""
    event: Event = {
        "@timestamp": utc_iso(timestamp) if isinstance(timestamp, datetime) else timestamp,
        "event": {"kind": kind, "dataset": dataset, "original": original},
    }
    for path, value in (fields or {}).items():
        set_field(event, path, value)
    validate_event(event)
    return event


def validate_event(event: Any) -> Event:
    """Check the fields every stored event must have; raise ValidationError naming the field.

    On the ingest hot path: the common nested shape is read directly, dotted keys fall back to
    `get_field`.
    """
    if not isinstance(event, dict):
        raise ValidationError("event", f"must be a JSON object, got {type(event).__name__}")
    timestamp = event.get("@timestamp")
    meta = event.get("event")
    if isinstance(meta, dict):
        kind, dataset, original = meta.get("kind"), meta.get("dataset"), meta.get("original")
    else:
        kind = get_field(event, "event.kind")
        dataset = get_field(event, "event.dataset")
        original = get_field(event, "event.original")
    _check_timestamp(timestamp)
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        if kind is None:
            raise ValidationError("event.kind", "is required")
        raise ValidationError("event.kind", f"must be one of {sorted(EVENT_KINDS)}, got {kind!r}")
    for path, value in (("event.dataset", dataset), ("event.original", original)):
        if value is None:
            raise ValidationError(path, "is required")
        if not isinstance(value, str):
            raise ValidationError(path, f"must be a string, got {type(value).__name__}")
    if not str(dataset).strip():
        raise ValidationError("event.dataset", "must not be empty")
    return event


def _check_timestamp(timestamp: Any) -> None:
    if timestamp is None:
        raise ValidationError("@timestamp", "is required")
    if not isinstance(timestamp, str):
        kind = type(timestamp).__name__
        raise ValidationError("@timestamp", f"must be an ISO 8601 string, got {kind}")
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        raise ValidationError(
            "@timestamp", f"not an ISO 8601 date-time: {timestamp[:64]!r}"
        ) from None
    if parsed.tzinfo is None:
        raise ValidationError("@timestamp", "must carry a time zone (e.g. Z or +01:00)")


def event_time(event: Mapping[str, Any]) -> datetime:
    """The event's `@timestamp` as an aware datetime (after validation)."""
    return datetime.fromisoformat(get_field(event, "@timestamp"))
