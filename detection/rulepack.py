"""Run a loaded rule base over a finite list of events in memory: rule tests and demo checks.

The same matcher and correlation engine as ``stream.process_batch``, without the relational
state, alert store or dedup: every match of a non-silenced rule and every correlation firing is
returned with the ids of its events. At the end the watermark is moved past every window so
closing conditions (lt/lte/eq) are decided too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detection.correlation import CorrelationEngine, Hit, event_timestamp
from detection.stream import Detector

FAR_FUTURE = 10.0**12  # seconds since the epoch, beyond any window


@dataclass(frozen=True)
class Detection:
    """One would-be alert: which rule, how (match or correlation), on which events."""

    rule_id: str
    kind: str
    event_ids: tuple[str, ...]


def evaluate(
    *,
    detector: Detector,
    events_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    include_silenced: bool = False,
    batch_size: int = 2000,
) -> list[Detection]:
    """Detections over the events in order; ``include_silenced`` also returns base-rule matches."""
    engine = CorrelationEngine(detector.correlations)
    found: list[Detection] = []
    for start in range(0, len(events_with_ids), batch_size):
        batch = events_with_ids[start : start + batch_size]
        events = [event for _, event in batch]
        hits: list[Hit] = []
        for match in detector.ruleset.match_batch(events):
            event_id, event = batch[match.event_index]
            moment = event_timestamp(event) or 0.0
            hits.append(Hit(match.rule_id, moment, event, event_id))
            if include_silenced or match.rule_id not in detector.silenced:
                found.append(Detection(match.rule_id, "match", (event_id,)))
        fired_now = engine.feed(hits)
        times = [t for _, event in batch if (t := event_timestamp(event)) is not None]
        if times:
            fired_now += engine.advance(max(times))  # close windows and prune, as the stream does
        for fired in fired_now:
            found.append(Detection(fired.spec.rule_id, "correlation", tuple(fired.event_ids)))
    for fired in engine.advance(FAR_FUTURE):
        found.append(Detection(fired.spec.rule_id, "correlation", tuple(fired.event_ids)))
    return found
