"""Per-source collector counters for Prometheus, and the "source silent" state.

The counters live in the spool file (`collectors.spool`), updated in the same transaction as
the data they count, so every collector process contributes and a restart keeps the totals.
A source is *silent* when its last record is older than `settings.source_silent_minutes`;
`dijkwacht_collector_source_silent` is 1 then, which an alert rule can watch.

The exposition format is `prometheus_client`'s: `SourceCollector` yields metric families read
at scrape time, so the numbers are always the spool's, never a copy kept in this process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    """Counters of one source plus whether it has gone silent."""

    counters: SourceCounters
    silent: bool
    silent_for: timedelta | None


def source_status(
    *, counters: Sequence[SourceCounters], now: datetime, silent_after: timedelta
) -> list[SourceStatus]:
    """Each source with its silent flag; a source never seen is not listed (nothing to miss)."""
    result = []
    for item in counters:
        age = None if item.last_seen is None else now - item.last_seen
        silent = age is not None and age >= silent_after
        result.append(
            SourceStatus(counters=item, silent=silent, silent_for=age if silent else None)
        )
    return result


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
