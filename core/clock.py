"""The one source of "now": every deadline and schedule reads an injected clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to; tests and drills use it to control time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock.set needs a timezone-aware time")
        with self._lock:
            self._now = moment.astimezone(UTC)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a Z suffix, as ECS `@timestamp` expects."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_text(moment: datetime, zone: str, *, offset: bool = True) -> str:
    """A time as people read it in documents that leave the platform: `28-11-2026 10:00:07
    +01:00` in `zone` (the settings' `timezone`), to the second; the offset keeps it exact when
    the reader is elsewhere. The dashboard's own filter (`dashboard.app.local_time`) writes the
    same format."""
    local = moment.astimezone(ZoneInfo(zone))
    text = local.strftime("%d-%m-%Y %H:%M:%S")
    if offset:
        text += " " + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return text
