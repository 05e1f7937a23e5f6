"""Read a generated world through the real collectors: parsers, then enrichment.

Each event is paired with the id ``<file>:<line>`` the manifest uses, and the stream is put in
event-time order (as a live collector would see it) before the stateful enricher runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collectors.service import Enricher, ParseError, get_parser, load_context
from core.events import Event, get_field
from core.privacy.service import Pseudonymiser
from demo_world.formats import FILES

# The demo's own pseudonym key: demo output never meets real BSNs, and tests must be stable.
DEMO_KEY = b"dijkwacht-demo-pseudonym-key-not-for-production"


@dataclass
class Ingested:
    """Parsed, enriched events in time order, plus lines the parsers refused (with why)."""

    events: list[tuple[str, Event]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def read_world(
    *, directory: Path, key: bytes = DEMO_KEY, received_at: datetime | None = None
) -> Ingested:
    """Parse every raw file of a world and enrich it with the world's context tables."""
    received = received_at or datetime.now(UTC)
    zone = ZoneInfo("Europe/Amsterdam")
    pseudonymiser = Pseudonymiser(key)
    result = Ingested()
    parsed: list[tuple[str, str, Event]] = []
    for name, (parser_name, options) in FILES.items():
        path = directory / name
        if not path.is_file():
            continue
        parser = get_parser(parser_name, tz=zone, pseudonymiser=pseudonymiser, **options)
        for line, raw in _lines(path):
            event_id = f"{name}:{line}"
            try:
                event = parser.parse(raw, received_at=received, source=f"file:{name}")
            except ParseError as exc:
                result.refused.append((event_id, str(exc)))
                continue
            parsed.append((_sort_key(event), event_id, event))
    parsed.sort(key=lambda item: (item[0], item[1]))
    enricher = Enricher(context=load_context(directory=directory / "context", key=key))
    result.events = [(event_id, enricher.enrich(event)) for _, event_id, event in parsed]
    return result


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


def _sort_key(event: dict[str, Any]) -> str:
    stamp = get_field(event, "@timestamp")
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).isoformat()
    except (TypeError, ValueError):
        return ""
