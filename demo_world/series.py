"""Event series: numbered copies of one ECS event, evenly spaced in time.

The generated world writes raw lines for the collectors to parse; a drill inject instead names
its events directly, as one ECS template repeated `count` times (`{n}` in any string becomes the
copy's number, from 1). This is the generator for that shape, so drills need none of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.clock import utc_iso
from core.events import Event

NUMBER = "{n}"


def _fill(value: Any, n: int) -> Any:
    """A deep copy of `value` with `{n}` replaced by `n` in every string (keys stay as they are)."""
    if isinstance(value, str):
        return value.replace(NUMBER, str(n))
    if isinstance(value, Mapping):
        return {key: _fill(item, n) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, n) for item in value]
    return value


def event_series(
    *,
    template: Mapping[str, Any],
    count: int,
    every_seconds: float,
    start: datetime,
    dataset: str,
) -> list[Event]:
    """`count` events from `template`, the n-th (from 1) stamped `start + (n - 1) * every_seconds`.

    Each is a fresh copy (the template is never changed) with `{n}` filled in, `event.kind`
    defaulting to `event` and `event.dataset` to `dataset`; what the template sets wins, except
    `@timestamp`, which the series sets. `count` below 1 gives no events.
    """
    events: list[Event] = []
    for n in range(1, count + 1):
        event: dict[str, Any] = _fill(template, n)
        meta = dict(event.get("event") or {})
        meta.setdefault("kind", "event")
        meta.setdefault("dataset", dataset)
        event["event"] = meta
        event["@timestamp"] = utc_iso(start + timedelta(seconds=every_seconds * (n - 1)))
        events.append(event)
    return events
