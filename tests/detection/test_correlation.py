"""Correlation rules on synthetic streams: each type, group-by, out-of-order, restart mid-window.

The numeric types (value_sum, value_avg, value_percentile, value_median):
test_correlation_values.py."""

from __future__ import annotations

from pathlib import Path

from core.clock import FrozenClock
from detection.correlation import (
    CorrelationEngine,
    Hit,
    silenced_rules,
)
from detection.correlation_store import load_engine, save_engine
from tests.detection.correlation_rules import COUNT, FAILED, SUCCESS, feed, hit, specs


def test_event_count_fires_once_per_window_and_group(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, COUNT))
    fired = feed(engine, [hit(0), hit(10, "alice"), hit(20), hit(30, "alice"), hit(40)])
    assert [(f.group, f.value) for f in fired] == [({"TargetUserName": "bob"}, 3)]
    assert fired[0].event_ids == ("e0-bob-1", "e20-bob-1", "e40-bob-1")
    # More events inside the fired window are absorbed: one burst, one firing.
    assert feed(engine, [hit(50), hit(60), hit(70)]) == []
    # After the window: a new burst fires again.
    assert len(feed(engine, [hit(400), hit(410), hit(420)])) == 1


def test_out_of_order_events_count_by_event_time(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, COUNT))
    # Arrival order 0, 1000, 200, 100: the late ones fall in the first window with 0.
    assert feed(engine, [hit(0), hit(1000), hit(200)]) == []
    fired = feed(engine, [hit(100)])
    assert len(fired) == 1
    assert (fired[0].window_start, fired[0].window_end) == (0.0, 300.0)
    # Events spread wider than the timespan never fire.
    engine2 = CorrelationEngine(specs(tmp_path, COUNT))
    assert feed(engine2, [hit(0), hit(400), hit(800), hit(1200)]) == []


def test_too_late_events_are_dropped(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, COUNT))
    engine.advance(10_000)
    assert feed(engine, [hit(1), hit(2), hit(3)]) == []
    assert engine.stats["too_late"] == 3


def test_value_count_counts_distinct_values(tmp_path: Path) -> None:
    spec = specs(
        tmp_path,
        """
        type: value_count
        rules: [failed_logon]
        group-by: [IpAddress]
        timespan: 10m
        condition: {gte: 3, field: TargetUserName}
        """,
    )
    engine = CorrelationEngine(spec)
    ip = {"IpAddress": "10.0.0.9"}
    assert feed(engine, [hit(0, "a", **ip), hit(1, "a", **ip), hit(2, "b", **ip)]) == []
    fired = feed(engine, [hit(3, "c", **ip)])
    assert len(fired) == 1 and fired[0].value == 3 and fired[0].group == {"IpAddress": "10.0.0.9"}


def test_temporal_needs_every_rule_in_the_window(tmp_path: Path) -> None:
    spec = specs(
        tmp_path,
        """
        type: temporal
        rules: [failed_logon, success_logon]
        group-by: [TargetUserName]
        timespan: 1m
        """,
    )
    engine = CorrelationEngine(spec)
    assert feed(engine, [hit(0), hit(5), hit(100, rule=SUCCESS)]) == []  # too far apart
    fired = feed(engine, [hit(130, rule=SUCCESS), hit(120)])  # out of order, 10 s apart
    assert len(fired) == 1 and set(fired[0].rule_ids) == {FAILED, SUCCESS}


def test_temporal_ordered_needs_the_order(tmp_path: Path) -> None:
    spec = specs(
        tmp_path,
        """
        type: temporal_ordered
        rules: [failed_logon, success_logon]
        group-by: [TargetUserName]
        timespan: 1m
        """,
    )
    engine = CorrelationEngine(spec)
    assert feed(engine, [hit(0, rule=SUCCESS), hit(10)]) == []  # success before failure
    # A failure that happened earlier but arrives late completes the order.
    fired = feed(engine, [hit(-5)])
    assert len(fired) == 1 and fired[0].rule_ids == (FAILED, SUCCESS)


def test_lt_condition_fires_when_the_window_closes(tmp_path: Path) -> None:
    spec = specs(
        tmp_path,
        """
        type: event_count
        rules: [failed_logon]
        group-by: [TargetUserName]
        timespan: 1m
        condition: {lt: 3}
        """,
    )
    engine = CorrelationEngine(spec, lateness=0)
    assert feed(engine, [hit(0), hit(10), hit(0, "alice"), hit(5, "alice"), hit(6, "alice")]) == []
    assert engine.advance(30) == []  # windows still open
    fired = engine.advance(61)
    assert [f.group["TargetUserName"] for f in fired] == ["bob"]


def test_missing_group_by_field_does_not_count(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, COUNT))
    nameless = [Hit(FAILED, float(t), {"EventID": 4625}, f"x{t}") for t in range(5)]
    assert feed(engine, nameless) == []
    assert engine.stats["no_group"] == 5


def test_generate_false_silences_the_base_rules(tmp_path: Path) -> None:
    assert silenced_rules(specs(tmp_path, COUNT)) == {FAILED}
    assert silenced_rules(specs(tmp_path, COUNT + "generate: true\n")) == frozenset()


def test_restart_mid_window_fires_exactly_once(
    tmp_path: Path, sessions, clock: FrozenClock
) -> None:
    rules = specs(tmp_path, COUNT)
    with sessions() as db:
        first = load_engine(db=db, specs=rules)
        assert feed(first, [hit(0), hit(10)]) == []
        first.advance(10)
        save_engine(db=db, engine=first, clock=clock)
        db.commit()
    # A new process: the window is read back, the third event completes it.
    with sessions() as db:
        second = load_engine(db=db, specs=rules)
        assert second.watermark == 10
        fired = feed(second, [hit(20)])
        assert len(fired) == 1 and fired[0].event_ids == ("e0-bob-1", "e10-bob-1", "e20-bob-1")
        save_engine(db=db, engine=second, clock=clock)
        db.commit()
    # Another restart: the fired window is remembered; no second firing in it.
    with sessions() as db:
        third = load_engine(db=db, specs=rules)
        assert feed(third, [hit(30), hit(40), hit(50), hit(20)]) == []


def test_changed_rule_discards_its_old_window(tmp_path: Path, sessions, clock: FrozenClock) -> None:
    with sessions() as db:
        first = load_engine(db=db, specs=specs(tmp_path, COUNT))
        feed(first, [hit(0), hit(10)])
        save_engine(db=db, engine=first, clock=clock)
        db.commit()
    changed = specs(tmp_path, COUNT.replace("gte: 3", "gte: 2"))
    with sessions() as db:
        second = load_engine(db=db, specs=changed)
        assert second.groups == {}
