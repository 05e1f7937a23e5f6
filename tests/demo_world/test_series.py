"""`event_series`: numbered copies of one template, evenly spaced, the template left as it was."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from demo_world.service import event_series

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
TEMPLATE = {
    "event": {"category": ["authentication"], "action": "logon"},
    "user": {"name": "medewerker-{n}"},
    "tags": ["a-{n}", "b"],
    "message": "inlog {n} van {n}",
    "count": 7,
}


def test_each_copy_is_numbered_from_one_and_spaced() -> None:
    before = copy.deepcopy(TEMPLATE)
    events = event_series(
        template=TEMPLATE, count=3, every_seconds=2.5, start=T0, dataset="tests.series"
    )
    assert [e["user"]["name"] for e in events] == ["medewerker-1", "medewerker-2", "medewerker-3"]
    assert events[1]["tags"] == ["a-2", "b"] and events[2]["message"] == "inlog 3 van 3"
    assert events[2]["count"] == 7  # only strings are filled
    stamps = [datetime.fromisoformat(e["@timestamp"]) for e in events]
    assert [(s - T0).total_seconds() for s in stamps] == [0.0, 2.5, 5.0]
    assert {e["event"]["kind"] for e in events} == {"event"}
    assert {e["event"]["dataset"] for e in events} == {"tests.series"}
    assert events[0]["event"]["category"] == ["authentication"]
    assert before == TEMPLATE  # the template is copied, never changed
    events[0]["user"]["name"] = "changed"
    assert events[1]["user"]["name"] == "medewerker-2"  # copies share nothing


def test_what_the_template_sets_wins_over_the_defaults() -> None:
    template = {"event": {"kind": "alert", "dataset": "app.auth"}, "@timestamp": "old"}
    (event,) = event_series(template=template, count=1, every_seconds=0, start=T0, dataset="x")
    assert event["event"] == {"kind": "alert", "dataset": "app.auth"}
    assert event["@timestamp"] != "old"  # the series owns the time


def test_no_copies_below_one() -> None:
    assert event_series(template=TEMPLATE, count=0, every_seconds=1, start=T0, dataset="x") == []
