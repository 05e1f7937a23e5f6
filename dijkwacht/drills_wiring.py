"""Composition root for drills: the event sink technical drills inject into.

Collectors have no `service` module a domain may import, so the root hands drills the durable
spool: events appended here go through the real pipeline (consumer → event store →
detection → alerts), exactly like syslog or HTTP ingest. Named in
`drills.technical.SINK_FACTORY`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from core.config import Settings
from core.events import Event
from drills.technical import EventSink


@contextmanager
def open_event_sink(settings: Settings) -> Iterator[EventSink]:
    """A sink writing to the collectors' spool; closed when the caller is done."""
    from collectors.spool import open_spool

    spool = open_spool(settings)

    def sink(events: Sequence[Event], *, source: str) -> None:
        spool.append(list(events), source=source)

    try:
        yield sink
    finally:
        spool.close()
