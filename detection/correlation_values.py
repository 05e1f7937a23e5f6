"""The numeric correlation types: value_sum, value_avg, value_percentile, value_median.

A sum, mean, percentile or median of the events in a *sliding* window is not one number: every
run of events that fits in the timespan is some window, and a lone extreme value would be a
window of its own (``value_avg > 500`` would fire on any single event above 500). So these
types aggregate over fixed buckets of event time, as pySigma's Elasticsearch ES|QL backend
does (``date_trunc(timespan, @timestamp)``): ``[k * timespan, (k + 1) * timespan)`` in epoch
seconds, which for s/m/h/d timespans are the same buckets ``date_trunc`` makes in UTC. A bucket
is decided once no more events can enter it (see ``detection.correlation``): an average or a
median can fall again, and a sum too when a value is negative.

Percentiles interpolate linearly between the closest ranks (PostgreSQL's
``percentile_cont``, NumPy's default): the 90th percentile of 1..10 is 9.1. The median is the
50th percentile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

VALUE_KINDS = frozenset({"value_sum", "value_avg", "value_percentile", "value_median"})


def number(value: Any) -> float | None:
    """A field value as a finite number, or None (text, booleans, lists, NaN are no numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if not isinstance(value, int | float | str):
        return None
    try:
        result = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):  # OverflowError: an int beyond float's range
        return None
    return result if math.isfinite(result) else None


def bucket_start(time: float, timespan: float) -> float:
    """Start of the fixed bucket of event time that holds ``time``."""
    return math.floor(time / timespan) * timespan


def aggregate(kind: str, values: Sequence[float], percentile: int | None = None) -> float:
    """The metric a numeric correlation compares with its condition (``values`` not empty)."""
    if kind == "value_sum":
        return math.fsum(values)
    if kind == "value_avg":
        return math.fsum(values) / len(values)
    if kind == "value_median":
        return interpolated(sorted(values), 50)
    if kind == "value_percentile":
        assert percentile is not None  # refused at compile time
        return interpolated(sorted(values), percentile)
    raise ValueError(f"{kind!r} is no numeric correlation type")


def interpolated(ordered: Sequence[float], percentile: float) -> float:
    """Percentile of sorted values, linear between the closest ranks."""
    position = (len(ordered) - 1) * percentile / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
