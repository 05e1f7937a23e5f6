"""collectors.service: the one way other domains put events into the pipeline."""

from __future__ import annotations

from collectors import service
from collectors.spool import open_spool
from core.config import Settings


def test_inject_events_spools_durably_with_store_ids(settings: Settings) -> None:
    events = [{"message": f"oefening {n}", "event": {"action": "brp-view"}} for n in range(3)]
    assert service.inject_events(settings=settings, events=events, source="drills") == 3
    assert all(len(e["event"]["id"]) == 26 for e in events)  # ids assigned in place
    with open_spool(settings) as spool:
        assert spool.pending() == 3
        taken = spool.take(10)
        counters = {c.source: c for c in spool.counters()}
    assert [event["message"] for _, event in taken] == ["oefening 0", "oefening 1", "oefening 2"]
    assert counters["drills"].parsed == 3


def test_inject_nothing_is_a_no_op(settings: Settings) -> None:
    assert service.inject_events(settings=settings, events=[], source="drills") == 0
    with open_spool(settings) as spool:
        assert spool.pending() == 0
