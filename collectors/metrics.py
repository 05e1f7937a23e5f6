"""Per-source collector counters as Prometheus text, and the "source silent" state.

The counters live in the spool file (`collectors.spool`), updated in the same transaction as
the data they count, so every collector process contributes and a restart keeps the totals.
A source is *silent* when its last record is older than `settings.source_silent_minutes`;
`dijkwacht_collector_source_silent` is 1 then, which an alert rule can watch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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


def _label(value: str) -> str:
    """Escape a label value as the exposition format requires (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(
    *, statuses: Sequence[SourceStatus], spool_pending: int, silent_after: timedelta
) -> str:
    """The Prometheus text exposition format (version 0.0.4) for all sources."""
    lines: list[str] = []
    for name, help_text in _COUNTERS:
        metric = f"dijkwacht_collector_{name}_total"
        lines.append(f"# HELP {metric} {help_text}")
        lines.append(f"# TYPE {metric} counter")
        for status in statuses:
            value = getattr(status.counters, name)
            lines.append(f'{metric}{{source="{_label(status.counters.source)}"}} {value}')
    metric = "dijkwacht_collector_last_seen_timestamp_seconds"
    lines.append(f"# HELP {metric} Unix time of the last record from the source.")
    lines.append(f"# TYPE {metric} gauge")
    for status in statuses:
        seen = status.counters.last_seen
        if seen is not None:
            lines.append(
                f'{metric}{{source="{_label(status.counters.source)}"}} {seen.timestamp():.3f}'
            )
    metric = "dijkwacht_collector_source_silent"
    minutes = int(silent_after.total_seconds() // 60)
    lines.append(f"# HELP {metric} 1 when the source sent nothing for {minutes} minutes.")
    lines.append(f"# TYPE {metric} gauge")
    for status in statuses:
        lines.append(f'{metric}{{source="{_label(status.counters.source)}"}} {int(status.silent)}')
    lines.append("# HELP dijkwacht_spool_pending Records spooled but not yet in the event store.")
    lines.append("# TYPE dijkwacht_spool_pending gauge")
    lines.append(f"dijkwacht_spool_pending {spool_pending}")
    return "\n".join(lines) + "\n"
