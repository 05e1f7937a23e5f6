"""Correlation rules on synthetic streams: each type, group-by, out-of-order, restart mid-window."""

from __future__ import annotations

import hashlib
import math
import statistics
import textwrap
from collections.abc import Iterator
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
from sqlalchemy.orm import Session, sessionmaker

from core.clock import FrozenClock
from core.config import Settings
from core.content import Issue
from core.store.relational import create_db_engine, create_session_factory, migrate
from detection.correlation import (
    CorrelationEngine,
    CorrelationSpec,
    Firing,
    Hit,
    compile_correlations,
    silenced_rules,
)
from detection.correlation_store import load_engine, save_engine
from detection.correlation_values import aggregate
from detection.loader import parse_sources, read_sources
from detection.rulepack import evaluate
from detection.stream import load_detector

FAILED = "00000000-0000-0000-0000-000000000001"
SUCCESS = "00000000-0000-0000-0000-000000000002"
CORR = "00000000-0000-0000-0000-0000000000c1"

BASE = f"""
title: Failed logon
id: {FAILED}
name: failed_logon
status: test
level: low
logsource: {{product: windows, service: security}}
detection:
  sel: {{EventID: 4625}}
  condition: sel
---
title: Successful logon
id: {SUCCESS}
name: success_logon
status: test
level: low
logsource: {{product: windows, service: security}}
detection:
  sel: {{EventID: 4624}}
  condition: sel
"""


def specs(tmp_path: Path, correlation: str) -> list[CorrelationSpec]:
    compiled, bad = compile_text(tmp_path, correlation)
    assert not bad, bad
    return compiled


def compile_text(tmp_path: Path, correlation: str) -> tuple[list[CorrelationSpec], list[Issue]]:
    text = (
        BASE
        + "---\n"
        + textwrap.dedent(
            f"""
        title: Correlation
        id: {CORR}
        status: test
        level: high
        correlation:
        """
        )
        + textwrap.indent(textwrap.dedent(correlation), "  ")
    )
    folder = tmp_path / f"rules{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / "rules.yml").write_text(text, encoding="utf-8")
    sources, problems = read_sources([folder])
    parsed = parse_sources(sources)
    assert not problems and not parsed.problems, parsed.problems
    return compile_correlations(parsed.correlations)


def hit(t: float, user: str = "bob", rule: str = FAILED, **fields: str) -> Hit:
    return Hit(rule, t, {"TargetUserName": user, **fields}, f"e{t:g}-{user}-{rule[-1]}")


def feed(engine: CorrelationEngine, hits: list[Hit]) -> list[Firing]:
    return [f for h in hits for f in engine.feed([h])]


COUNT = """
type: event_count
rules: [failed_logon]
group-by: [TargetUserName]
timespan: 5m
condition: {gte: 3}
"""


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


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings)  # head: audit entries (written with detection changes) need 0005
    engine = create_db_engine(settings)
    factory = create_session_factory(engine)
    yield factory
    engine.dispose()


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


# --- the numeric types: value_sum, value_avg, value_percentile, value_median ---------------


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
