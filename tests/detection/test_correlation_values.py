"""The numeric correlation types on synthetic streams: value_sum, value_avg, value_percentile and
value_median; their buckets, restarts, the documented examples and the aggregates themselves."""

from __future__ import annotations

import hashlib
import math
import statistics
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from core.clock import FrozenClock
from detection.correlation import (
    CorrelationEngine,
    Firing,
    Hit,
)
from detection.correlation_store import load_engine, save_engine
from detection.correlation_values import aggregate
from detection.rulepack import evaluate
from detection.stream import load_detector
from tests.detection.correlation_rules import BASE, CORR, COUNT, FAILED, compile_text, feed, specs


def numeric(kind: str, condition: str, timespan: str = "10m") -> str:
    return f"""
type: {kind}
rules: [failed_logon]
group-by: [TargetUserName]
timespan: {timespan}
condition: {condition}
"""


def sized(t: float, size: object, user: str = "bob") -> Hit:
    """A failed logon carrying ``Bytes`` (any JSON value, or absent when ``size`` is None)."""
    fields: dict[str, object] = {"TargetUserName": user}
    if size is not None:
        fields["Bytes"] = size
    return Hit(FAILED, t, fields, f"e{t:g}-{user}")


def closed(engine: CorrelationEngine, hits: list[Hit], at: float) -> list[Firing]:
    """Feed the hits (nothing may fire on arrival), then let event time pass ``at``."""
    assert feed(engine, hits) == []
    return engine.advance(at)


@pytest.mark.parametrize(
    ("kind", "condition", "op", "percentile"),
    [
        ("value_sum", "{gt: 500, field: Bytes}", SigmaCorrelationConditionOperator.GT, None),
        ("value_avg", "{gte: 5, field: Bytes}", SigmaCorrelationConditionOperator.GTE, None),
        (
            "value_percentile",
            "{lt: 9, field: Bytes, percentile: 95}",
            SigmaCorrelationConditionOperator.LT,
            95,
        ),
        ("value_median", "{eq: 2, field: Bytes}", SigmaCorrelationConditionOperator.EQ, None),
    ],
)
def test_numeric_types_parse_as_pysigma_models_them(
    tmp_path: Path,
    kind: str,
    condition: str,
    op: SigmaCorrelationConditionOperator,
    percentile: int | None,
) -> None:
    body = textwrap.indent(textwrap.dedent(numeric(kind, condition)), "  ")
    text = BASE + f"---\ntitle: Correlation\nid: {CORR}\ncorrelation:\n{body}"
    rule = SigmaCollection.from_yaml(text).rules[-1]
    assert isinstance(rule, SigmaCorrelationRule)
    assert rule.type is SigmaCorrelationType[kind.upper()]
    assert isinstance(rule.condition, SigmaCorrelationCondition)
    assert (rule.condition.op, rule.condition.fieldref) == (op, "Bytes")
    assert rule.condition.percentile == percentile
    assert rule.timespan.seconds == 600 and rule.group_by == ["TargetUserName"]
    [spec] = specs(tmp_path, numeric(kind, condition))
    assert (spec.kind, spec.value_field, spec.percentile, spec.count) == (
        kind,
        "Bytes",
        percentile,
        rule.condition.count,
    )
    assert spec.op == op.name.lower() and not spec.growing  # decided when the bucket closes


def test_value_sum_fires_when_its_bucket_closes(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, numeric("value_sum", "{gt: 500, field: Bytes}")))
    engine.lateness = 0
    bob = [sized(0, 100), sized(300, "200"), sized(599.5, 300.5)]
    alice = [sized(10, 250, "alice"), sized(20, 250, "alice")]  # 500: not more than 500
    assert closed(engine, bob + alice, 599.9) == []  # the bucket [0, 600) is still open
    [fired] = engine.advance(600)
    assert (fired.group, fired.value) == ({"TargetUserName": "bob"}, 600.5)
    assert (fired.window_start, fired.window_end) == (0.0, 600.0)
    assert fired.event_ids == ("e0-bob", "e300-bob", "e599.5-bob")
    # The next bucket starts at 600 sharp; the decided one does not absorb that event.
    [again] = closed(engine, [sized(600, 501)], 1200)
    assert (again.window_start, again.value, engine.stats["absorbed"]) == (600, 501, 0)


def test_value_sum_counts_negative_values_and_buckets_do_not_overlap(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, numeric("value_sum", "{gt: 500, field: Bytes}")))
    engine.lateness = 0
    # 400 + 200 passed 500 for a moment; the bucket's sum is 300: nothing fires early or late.
    assert closed(engine, [sized(0, 400), sized(1, 200), sized(2, -300)], 600) == []
    # 300 at 599 and 300 at 600 are 1 s apart but in two buckets: neither sum is above 500.
    assert closed(engine, [sized(1199, 300), sized(1200, 300)], 1800) == []
    [fired] = closed(engine, [sized(1801, 300), sized(2399, 201)], 2400)
    assert fired.value == 501


def test_value_avg_skips_values_that_are_no_number(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, numeric("value_avg", "{gte: 500, field: Bytes}")))
    engine.lateness = 0
    odd = [sized(2, "lots"), sized(3, True), sized(4, None), sized(5, [1, 2]), sized(6, "nan")]
    odd += [sized(7, 10**400), sized(8, "1e400"), sized(9, {"n": 1})]
    [fired] = closed(engine, [sized(0, 100), sized(1, " 900 "), *odd], 600)
    assert fired.value == 500 and len(fired.event_ids) == 2
    assert engine.stats["not_numeric"] == 7 and engine.stats["no_value"] == 1
    below = [sized(600, 100), sized(601, 899)]  # 499.5
    assert closed(engine, below, 1200) == []


def test_value_avg_lt_fires_for_a_quiet_bucket_only(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, numeric("value_avg", "{lt: 10, field: Bytes}")))
    engine.lateness = 0
    hits = [sized(0, 4), sized(5, 6), sized(0, 40, "alice"), sized(1, 2, "alice")]
    hits += [sized(2, "none", "carol"), sized(3, None, "carol")]  # no numbers: no average
    [fired] = closed(engine, hits, 600)
    assert fired.group == {"TargetUserName": "bob"} and fired.value == 5


def test_value_percentile_interpolates_between_ranks(tmp_path: Path) -> None:
    spec = specs(tmp_path, numeric("value_percentile", "{gt: 9, field: Bytes, percentile: 90}"))
    engine = CorrelationEngine(spec)
    engine.lateness = 0
    # Arrival order does not matter: the 90th percentile of 1..10 is 9.1 (percentile_cont).
    [fired] = closed(
        engine, [sized(i, v) for i, v in enumerate([7, 3, 10, 1, 9, 2, 8, 4, 6, 5])], 600
    )
    assert fired.value == pytest.approx(9.1)
    high = specs(tmp_path, numeric("value_percentile", "{gte: 10, field: Bytes, percentile: 90}"))
    engine = CorrelationEngine(high, lateness=0)
    assert closed(engine, [sized(i, i + 1) for i in range(10)], 600) == []
    # The 100th percentile is the largest value, the 0th the smallest.
    top = specs(tmp_path, numeric("value_percentile", "{eq: 10, field: Bytes, percentile: 100}"))
    engine = CorrelationEngine(top, lateness=0)
    assert len(closed(engine, [sized(i, i + 1) for i in range(10)], 600)) == 1


def test_value_percentile_needs_a_percentile_within_0_to_100(tmp_path: Path) -> None:
    for condition, message in [
        ("{gt: 9, field: Bytes}", "needs one"),
        ("{gt: 9, field: Bytes, percentile: 101}", "not within 0-100"),
        ("{gt: 9, field: Bytes, percentile: -1}", "not within 0-100"),
    ]:
        compiled, [problem] = compile_text(tmp_path, numeric("value_percentile", condition))
        assert compiled == []
        assert problem.field == "correlation.condition.percentile"
        assert message in problem.message and problem.item == CORR


def test_value_median_of_odd_and_even_counts(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, numeric("value_median", "{eq: 2, field: Bytes}")))
    engine.lateness = 0
    odd = [sized(0, 100), sized(1, 1), sized(2, 2)]  # median 2
    even = [
        sized(0, 1, "alice"),
        sized(1, 2, "alice"),
        sized(2, 3, "alice"),
        sized(3, 100, "alice"),
    ]
    [fired] = closed(engine, odd + even, 600)  # alice's median is 2.5
    assert fired.group == {"TargetUserName": "bob"} and fired.value == 2


def test_numeric_bucket_takes_late_events_until_it_closes(tmp_path: Path) -> None:
    engine = CorrelationEngine(specs(tmp_path, numeric("value_sum", "{gte: 300, field: Bytes}")))
    # Default lateness is the timespan: the bucket [0, 600) is decided at watermark 1200.
    assert feed(engine, [sized(0, 100), sized(700, 5)]) == []
    assert engine.advance(1000) == []
    assert feed(engine, [sized(450, 200)]) == []  # late but within the lateness: it counts
    [fired] = engine.advance(1200)
    assert fired.value == 300 and fired.window_end == 600
    # The decided bucket takes nothing more: too late now.
    assert feed(engine, [sized(500, 1000)]) == [] and engine.stats["too_late"] == 1


def test_numeric_state_survives_a_restart(tmp_path: Path, sessions, clock: FrozenClock) -> None:
    rules = specs(tmp_path, numeric("value_avg", "{gt: 50, field: Bytes}"))
    with sessions() as db:
        first = load_engine(db=db, specs=rules, lateness=0)
        assert feed(first, [sized(0, 10), sized(10, 100.5)]) == []
        save_engine(db=db, engine=first, clock=clock)
        db.commit()
    with sessions() as db:
        second = load_engine(db=db, specs=rules, lateness=0)
        assert feed(second, [sized(20, 90)]) == []
        [fired] = second.advance(600)
        assert fired.value == pytest.approx(200.5 / 3) and len(fired.event_ids) == 3
        save_engine(db=db, engine=second, clock=clock)
        db.commit()
    with sessions() as db:  # the decided bucket is remembered: no second firing
        third = load_engine(db=db, specs=rules, lateness=0)
        assert feed(third, [sized(30, 1000)]) == [] and third.advance(1200) == []


def test_saved_windows_of_the_older_types_stay_valid(tmp_path: Path) -> None:
    """The signature (key of persisted state) of the four older types is computed as before."""
    [spec] = specs(tmp_path, COUNT)
    parts = [spec.kind, spec.rules, spec.group_by, spec.timespan, spec.op, spec.count]
    parts += [spec.value_field, sorted((k, sorted(v.items())) for k, v in spec.aliases.items())]
    assert spec.signature == hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    # A changed percentile is a changed rule: its saved buckets are not reused.
    p90 = specs(tmp_path, numeric("value_percentile", "{gt: 9, field: Bytes, percentile: 90}"))
    p95 = specs(tmp_path, numeric("value_percentile", "{gt: 9, field: Bytes, percentile: 95}"))
    assert p90[0].signature != p95[0].signature


OUTBOUND = "00000000-0000-0000-0000-0000000000e1"
EXAMPLES = f"""
title: Outbound transfer
id: {OUTBOUND}
name: outbound_transfer
status: test
level: informational
logsource: {{category: proxy}}
detection:
  sel: {{network.direction: outbound}}
  condition: sel
---
title: Bulk upload from one host
id: 00000000-0000-0000-0000-0000000000e2
correlation:
  type: value_sum
  rules: [outbound_transfer]
  group-by: [host.name]
  timespan: 1h
  condition: {{gt: 500000000, field: source.bytes}}
---
title: Large uploads on average
id: 00000000-0000-0000-0000-0000000000e3
correlation:
  type: value_avg
  rules: [outbound_transfer]
  group-by: [host.name]
  timespan: 1h
  condition: {{gte: 20000000, field: source.bytes}}
---
title: Most uploads are large
id: 00000000-0000-0000-0000-0000000000e4
correlation:
  type: value_percentile
  rules: [outbound_transfer]
  group-by: [host.name]
  timespan: 1h
  condition: {{gt: 10000000, field: source.bytes, percentile: 90}}
---
title: Beacon-sized requests
id: 00000000-0000-0000-0000-0000000000e5
correlation:
  type: value_median
  rules: [outbound_transfer]
  group-by: [host.name]
  timespan: 1h
  condition: {{lt: 300, field: source.bytes}}
"""


def test_documented_numeric_examples_end_to_end(tmp_path: Path) -> None:
    """The worked examples of docs/detection-engine.md through the loader and the matcher."""
    (tmp_path / "rules.yml").write_text(EXAMPLES, encoding="utf-8")
    detector = load_detector(paths=[tmp_path])
    assert not detector.problems and not detector.ruleset.problems

    def upload(host: str, n: int, at: str, size: object) -> tuple[str, dict[str, object]]:
        return f"{host}-{n}", {
            "@timestamp": f"2026-05-04T{at}Z",
            "network": {"direction": "outbound"},
            "host": {"name": host},
            "source": {"bytes": size},
        }

    events = [upload("ws-01", n, f"09:{n}0:00", 100_000_000) for n in range(6)]
    events += [upload("ws-02", n, f"09:{n}0:30", 200) for n in range(6)]
    events += [upload("ws-02", 9, "09:59:00", "n/a")]  # no number: does not count
    events += [upload("ws-03", 1, "10:59:00", 400_000_000), upload("ws-03", 2, "11:01:00", 2e8)]
    events.sort(key=lambda item: str(item[1]["@timestamp"]))
    found = evaluate(detector=detector, events_with_ids=events)
    fired = sorted(
        (d.rule_id[-1], sorted({i.rsplit("-", 1)[0] for i in d.event_ids}), len(d.event_ids))
        for d in found
        if d.kind == "correlation"
    )
    assert fired == [
        ("2", ["ws-01"], 6),  # 600 MB within 09:00-10:00; ws-03's 600 MB span two hours
        ("3", ["ws-01"], 6),
        ("3", ["ws-03"], 1),
        ("3", ["ws-03"], 1),
        ("4", ["ws-01"], 6),
        ("4", ["ws-03"], 1),
        ("4", ["ws-03"], 1),
        ("5", ["ws-02"], 6),  # median 200 bytes; the "n/a" event is not among them
    ]


@given(
    st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=30),
    st.integers(0, 100),
)
def test_aggregates_agree_with_the_statistics_module(values: list[float], percentile: int) -> None:
    assert aggregate("value_sum", values) == pytest.approx(math.fsum(values))
    assert aggregate("value_avg", values) == pytest.approx(statistics.fmean(values))
    assert aggregate("value_median", values) == pytest.approx(statistics.median(values))
    found = aggregate("value_percentile", values, percentile)
    assert min(values) <= found <= max(values)
    if len(values) > 1 and 0 < percentile < 100:
        # percentile_cont is the "inclusive" method of statistics.quantiles.
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        assert found == pytest.approx(cuts[percentile - 1], abs=1e-6)
