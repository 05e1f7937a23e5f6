"""Per-source collector counters for Prometheus, and the "source silent" state.

The counters live in the spool file (`collectors.spool`), updated in the same transaction as
the data they count, so every collector process contributes and a restart keeps the totals.
A source is *silent* when its last record is older than `settings.source_silent_minutes`, or
than its own limit when it is on the list of expected sources (`collectors.expected`); an
expected source the spool never saw is *missing* and silent too.
`dijkwacht_collector_source_silent` is 1 then, which an alert rule can watch.

The exposition format is `prometheus_client`'s: `SourceCollector` yields metric families read
at scrape time, so the numbers are always the spool's, never a copy kept in this process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from collectors.spool import SourceCounters

_COUNTERS = (
    ("received", "Records received (parsed + dead-lettered + dropped)."),
    ("parsed", "Records parsed into events and spooled."),
    ("dead_lettered", "Records that could not be parsed, kept as dead letters."),
    (
        "dropped",
        "Records dropped before the spool (UDP: spool full, or lost in a full socket buffer).",
    ),
)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Counters of one source plus whether it has gone silent (or, expected, never came)."""

    counters: SourceCounters
    silent: bool
    silent_for: timedelta | None
    expected: bool = False
    missing: bool = False
    silent_after: timedelta | None = None


def source_status(
    *,
    counters: Sequence[SourceCounters],
    now: datetime,
    silent_after: timedelta,
    expected: Mapping[str, timedelta] | None = None,
) -> list[SourceStatus]:
    """Each source with its silent flag, by name.

    `expected` maps the sources that must be sending to their maximum silence: those use it
    instead of `silent_after`, and one the spool never saw is listed as missing (and silent).
    Without it, a source never seen is not listed (nothing to miss).
    """
    limits = expected or {}
    result = []
    for item in counters:
        limit = limits.get(item.source, silent_after)
        age = None if item.last_seen is None else now - item.last_seen
        silent = (age is not None and age >= limit) or (age is None and item.source in limits)
        result.append(
            SourceStatus(
                counters=item,
                silent=silent,
                silent_for=age if silent else None,
                expected=item.source in limits,
                missing=age is None and item.source in limits,
                silent_after=limit,
            )
        )
    seen = {item.source for item in counters}
    for name in sorted(set(limits) - seen):
        never = SourceCounters(name, 0, 0, 0, 0, None)
        result.append(
            SourceStatus(never, True, None, expected=True, missing=True, silent_after=limits[name])
        )
    return sorted(result, key=lambda status: status.counters.source)


class SourceCollector(Collector):
    """Collector counters, last-seen times, silent flags and the spool backlog of one scrape."""

    def __init__(
        self, *, statuses: Sequence[SourceStatus], spool_pending: int, silent_after: timedelta
    ) -> None:
        self._statuses = statuses
        self._pending = spool_pending
        self._silent_after = silent_after

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        for name, help_text in _COUNTERS:
            # prometheus_client appends `_total` to a counter family's name.
            counter = CounterMetricFamily(
                f"dijkwacht_collector_{name}", help_text, labels=["source"]
            )
            for status in self._statuses:
                counter.add_metric([status.counters.source], getattr(status.counters, name))
            yield counter
        seen = GaugeMetricFamily(
            "dijkwacht_collector_last_seen_timestamp_seconds",
            "Unix time of the last record from the source.",
            labels=["source"],
        )
        for status in self._statuses:
            if status.counters.last_seen is not None:
                seen.add_metric([status.counters.source], status.counters.last_seen.timestamp())
        yield seen
        minutes = int(self._silent_after.total_seconds() // 60)
        silent = GaugeMetricFamily(
            "dijkwacht_collector_source_silent",
            f"1 when the source sent nothing for {minutes} minutes.",
            labels=["source"],
        )
        for status in self._statuses:
            silent.add_metric([status.counters.source], int(status.silent))
        yield silent
        yield GaugeMetricFamily(
            "dijkwacht_spool_pending",
            "Records spooled but not yet in the event store.",
            value=self._pending,
        )


def render_prometheus(
    *, statuses: Sequence[SourceStatus], spool_pending: int, silent_after: timedelta
) -> str:
    """The Prometheus text exposition format for all sources (collector metrics only)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        SourceCollector(statuses=statuses, spool_pending=spool_pending, silent_after=silent_after)
    )
    return generate_latest(registry).decode("utf-8")
