"""Time ranges of the shift views (alerts, events, incidents) and their histograms.

One parser for every page, so a range means the same everywhere and is kept in the URL as
`range=24h` or `range=custom&from=…&to=…` (local Europe/Amsterdam time, as people type it).
Histograms are counted by the stores (capped counts over index ranges) and drawn as
server-side SVG with the same numbers as a table for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import ValidationError

PRESETS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
# English msgids; the templates translate them (dashboard/locale).
PRESET_LABELS: dict[str, str] = {
    "15m": "15 min",
    "1h": "1 hour",
    "24h": "24 hours",
    "7d": "7 days",
    "30d": "30 days",
    "all": "all",
    "custom": "custom",
}
MAX_SPAN = timedelta(days=3660)
BUCKETS = 24
_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A chosen range; `start`/`end` None for "all"; `params` rebuild it in a URL."""

    key: str
    start: datetime | None
    end: datetime | None
    start_input: str = ""
    end_input: str = ""

    @property
    def params(self) -> list[tuple[str, str]]:
        if self.key == "custom":
            return [("range", "custom"), ("from", self.start_input), ("to", self.end_input)]
        return [("range", self.key)]


def parse_range(
    *,
    key: str | None,
    start: str | None,
    end: str | None,
    now: datetime,
    zone: ZoneInfo,
    default: str = "24h",
) -> TimeRange:
    """The range a page asked for; ValidationError names `range`, `from` or `to`."""
    chosen = (key or default).strip()
    if chosen == "all":
        return TimeRange("all", None, None)
    if chosen in PRESETS:
        # Open-ended: "the last hour" keeps counting what arrives while the page is open.
        begin = now - PRESETS[chosen]
        return TimeRange(chosen, begin, None, _input(begin, zone), _input(now, zone))
    if chosen != "custom":
        raise ValidationError("range", "must be one of 15m, 1h, 24h, 7d, 30d, all, custom")
    begin = _parse_local("from", start, zone)
    finish = _parse_local("to", end, zone) if end else now
    if finish <= begin:
        raise ValidationError("to", "must be after 'from'")
    if finish - begin > MAX_SPAN:
        raise ValidationError("from", "a range spans at most ten years")
    return TimeRange("custom", begin, finish, _input(begin, zone), _input(finish, zone))


def _parse_local(name: str, value: str | None, zone: ZoneInfo) -> datetime:
    text = (value or "").strip()
    if not text:
        raise ValidationError(name, "a custom range needs a start time (dd-mm-yyyy hh:mm)")
    for pattern in (_INPUT_FORMAT, "%Y-%m-%dT%H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    raise ValidationError(name, "is no valid time; use dd-mm-yyyy hh:mm")


def _input(moment: datetime, zone: ZoneInfo) -> str:
    """The value of an `<input type=datetime-local>`: local time to the minute."""
    return moment.astimezone(zone).strftime(_INPUT_FORMAT)


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts per bucket and series (a level, or one series "events")."""

    starts: list[datetime]
    step: timedelta
    series: dict[str, list[int]]

    @property
    def max(self) -> int:
        return max((n for counts in self.series.values() for n in counts), default=0)

    def totals(self) -> list[int]:
        return [sum(counts[i] for counts in self.series.values()) for i in range(len(self.starts))]


# Slice lengths of an aligned histogram, as Kibana's automatic interval picks them.
STEPS = tuple(
    timedelta(seconds=n)
    for n in (
        *(1, 2, 5, 10, 15, 30),
        *(60 * m for m in (1, 2, 3, 5, 10, 15, 30)),
        *(3600 * h for h in (1, 2, 3, 6, 12)),
        *(86_400 * d for d in (1, 2, 7, 14, 30, 91, 182, 365)),
    )
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_slices(
    *, span: TimeRange, now: datetime, buckets: int = BUCKETS, aligned: bool = False
) -> tuple[list[datetime], timedelta] | None:
    """The starts and the length of a histogram's equal slices ("all": the last 30 days).

    `aligned`: slices of a whole length from STEPS (the shortest giving at most `buckets`),
    starting on multiples of it since the epoch (UTC), so "the last 24 hours" has hourly
    slices from a whole hour and keeps them while time moves on: the event store then counts
    a search's histogram again only for the events stored since (its SliceCounts cache). The
    first slice may start before the range; the stores clip it to the query's own start.
    """
    end = span.end or now + timedelta(seconds=1)  # the stores' ends are exclusive
    start = span.start or end - PRESETS["30d"]
    step = (end - start) / buckets
    if step <= timedelta(0):
        return None
    if not aligned:
        return [start + step * i for i in range(buckets)], step
    # 1 % slack: "24 hours" ends a second after now and still gets hourly slices (25 of them)
    step = next((s for s in STEPS if s * 1.01 >= step), STEPS[-1])
    first = _EPOCH + step * ((start - _EPOCH) // step)
    count = -((first - end) // step)  # ceil((end - first) / step)
    return [first + step * i for i in range(count)], step
