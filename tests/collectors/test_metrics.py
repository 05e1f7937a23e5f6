"""Silent-source state and label escaping of the Prometheus text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from collectors.metrics import render_prometheus, source_status
from collectors.spool import SourceCounters

NOW = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def test_silent_after_n_minutes_and_escaping() -> None:
    counters = [
        SourceCounters("fresh", 1, 1, 0, 0, NOW - timedelta(minutes=1)),
        SourceCounters('we"ird\\', 1, 1, 0, 0, NOW - timedelta(minutes=20)),
    ]
    statuses = source_status(counters=counters, now=NOW, silent_after=timedelta(minutes=15))
    assert [s.silent for s in statuses] == [False, True]
    text = render_prometheus(statuses=statuses, spool_pending=0, silent_after=timedelta(minutes=15))
    assert 'dijkwacht_collector_source_silent{source="we\\"ird\\\\"} 1.0' in text.splitlines()
    assert "sent nothing for 15 minutes" in text
    # What a scraper reads back: the label unescaped, the flag and the counters as numbers.
    samples = {
        (s.name, s.labels["source"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "source" in s.labels
    }
    assert samples[("dijkwacht_collector_source_silent", 'we"ird\\')] == 1
    assert samples[("dijkwacht_collector_received_total", "fresh")] == 1
