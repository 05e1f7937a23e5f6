"""Sigma's time-part modifiers (``|minute``, ``|hour``, ``|day``, ``|week``, ``|month``, ``|year``).

pySigma turns ``EventTime|hour: 3`` into a ``SigmaTimestampPart(HOUR, 3)`` and
``EventTime|hour|gte: 8`` into a ``SigmaCompareExpression`` around one; it leaves the meaning of
"the hour of a value" to the backend. Ours, so that a rule means one thing on every event:

- an ISO 8601 string (``2026-05-04T03:15:00Z``, ``2026-05-04 03:15:00.1234567``, basic format),
  a number (epoch seconds; milliseconds above 1e11, as ``detection.correlation`` reads event
  time) or a ``datetime`` is a timestamp; anything else (text, booleans, out-of-range numbers)
  is not, and the test does not match (it never raises);
- a timestamp with an offset is converted to UTC; one without an offset is taken as UTC
  (Windows and ECS write UTC), so daylight saving time never shifts a rule;
- ``week`` is the ISO 8601 week number (1-53, weeks start on Monday; 1 January can be in
  week 52 or 53 of the year before), ``day`` the day of the month (1-31).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sigma.types import CompareOperators, TimestampPart

from detection.errors import CompileError

# Index of each part in the tuple ``parts`` returns.
_POSITION = {
    TimestampPart.MINUTE: 0,
    TimestampPart.HOUR: 1,
    TimestampPart.DAY: 2,
    TimestampPart.WEEK: 3,
    TimestampPart.MONTH: 4,
    TimestampPart.YEAR: 5,
}
_OPERATORS: dict[CompareOperators | None, Callable[[int, int], bool]] = {
    None: operator.eq,
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}
Parts = tuple[int, int, int, int, int, int]  # minute, hour, day, ISO week, month, year


def part_test(
    part: TimestampPart, number: int, op: CompareOperators | None = None
) -> Callable[[str, Any], bool]:
    """A value test ``(low, raw) -> bool``: is this part of the raw timestamp ``op number``?"""
    if part not in _POSITION:
        raise CompileError(f"time part {part.name.lower()} is not supported")
    position = _POSITION[part]
    compare = _OPERATORS[op]

    def test(low: str, raw: Any) -> bool:
        found = parts(raw)
        return found is not None and compare(found[position], number)

    return test


def parts(raw: Any) -> Parts | None:
    """The UTC time parts of a raw field value, or None when it is no timestamp."""
    if isinstance(raw, bool):
        return None  # True would otherwise be the epoch second 1
    if isinstance(raw, datetime):
        try:
            return _split(raw)
        except OverflowError:
            return None  # its offset pushes it past datetime's range
    if not isinstance(raw, str | int | float):
        return None
    return _parsed(raw)


# Several time-part tests on one field (``hour|gte`` and ``hour|lt`` for office hours) parse
# the value once per event: the last few answers are remembered.
@functools.lru_cache(maxsize=256)
def _parsed(raw: str | int | float) -> Parts | None:
    try:
        if isinstance(raw, str):
            moment = datetime.fromisoformat(raw.strip().upper())
        else:
            seconds = raw / 1000.0 if raw > 1e11 else float(raw)  # epoch ms or s
            moment = datetime.fromtimestamp(seconds, UTC)
        return _split(moment)
    except (ValueError, OverflowError, OSError):
        return None  # not a timestamp (or out of datetime's range): no match


def _split(moment: datetime) -> Parts:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    week = moment.isocalendar().week
    return (moment.minute, moment.hour, moment.day, week, moment.month, moment.year)
