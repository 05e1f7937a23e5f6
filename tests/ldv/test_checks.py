"""The stream check finds sampled (missing) spans and short volumes; the property that a
subject's answers never hold another subject's records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.privacy.access_report import build_report
from core.privacy.service import Pseudonymiser
from core.store.sqlite_events import SqliteEventStore
from ldv.service import check_request, check_streams, read
from tests.ldv.support import ldv_event

KEY = b"k" * 32
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
T0 = int((NOW - timedelta(minutes=40)).timestamp() * 1000)
# Valid BSNs (11-test) for the property test.
BSNS = ("999993653", "999990019", "999990020", "999990032", "111222333")


def _chain(trace: str, spans: list[str], system: str = "brp") -> list[dict]:
    """A trace of nested spans: each span is the parent of the next."""
    events = []
    for index, span in enumerate(spans):
        parent = spans[index - 1] if index else None
        start = T0 + index * 1000
        events.append(
            ldv_event(key=KEY, span=span, trace=trace, parent=parent, system=system, start_ms=start)
        )
    return events


def test_sampled_spans_are_detected_as_a_gap(tmp_path: Path) -> None:
    spans = [f"{i:016x}" for i in range(1, 7)]
    with SqliteEventStore(tmp_path / "events.db") as store:
        store.add_batch(_chain("a" * 32, spans, system="brp"))
        complete = check_streams(store=store, expected_per_hour={}, now=NOW)
        assert [e["dijkwacht"]["ldv"]["gap"]["detected"] for e in complete] == [False]
        sampled = _chain("b" * 32, [f"{i:016x}" for i in range(11, 17)], system="zaak")
        del sampled[2]  # a sampler dropped one span: its child is an orphan
        store.add_batch(sampled)
        found = {
            e["dijkwacht"]["ldv"]["resource"]["system"]: e["dijkwacht"]["ldv"]["gap"]
            for e in check_streams(store=store, expected_per_hour={}, now=NOW)
        }
    assert found["brp"]["detected"] is False
    assert found["zaak"] == {
        "missing_parents": 1, "received": 5, "window_minutes": 60, "detected": True,
    }  # fmt: skip


def test_volume_below_the_expectation_is_a_gap(tmp_path: Path) -> None:
    with SqliteEventStore(tmp_path / "events.db") as store:
        store.add_batch(_chain("c" * 32, [f"{i:016x}" for i in range(1, 4)], system="belasting"))
        events = check_streams(store=store, expected_per_hour={"belasting": 100, "brp": 5}, now=NOW)
    gaps = {
        e["dijkwacht"]["ldv"]["resource"]["system"]: e["dijkwacht"]["ldv"]["gap"] for e in events
    }
    assert gaps["belasting"]["detected"] is True and gaps["belasting"]["expected"] == 100
    assert gaps["brp"] == {
        "missing_parents": 0, "received": 0, "window_minutes": 60, "expected": 5, "detected": True,
    }  # fmt: skip
    assert all(e["event"]["dataset"] == "ldv.stream_check" for e in events)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subjects=st.lists(st.sampled_from(BSNS), min_size=1, max_size=12),
    asked=st.sampled_from(BSNS),
)
def test_answers_for_one_subject_never_hold_another(
    tmp_path_factory: object, subjects: list[str], asked: str
) -> None:
    from pytest import TempPathFactory

    assert isinstance(tmp_path_factory, TempPathFactory)
    pseudonymiser = Pseudonymiser(KEY)
    events = [
        ldv_event(key=KEY, span=f"{i + 1:016x}", bsn=bsn, start_ms=T0 + i, entity="https://wij.nl")
        for i, bsn in enumerate(subjects)
    ]
    mine = pseudonymiser.pseudonym(asked)
    with SqliteEventStore(tmp_path_factory.mktemp("store") / "events.db") as store:
        store.add_batch(events)
        request = check_request(
            {"dpl.core.data_subject_id": asked},
            pseudonymise=lambda v, t: pseudonymiser.identifier(v, id_type=t),
        )
        answer = read(store=store, request=request).body["processingActivities"]
    assert {a["attributes"]["dpl.core.data_subject_id"] for a in answer} <= {mine}
    assert len(answer) == subjects.count(asked)
    report = build_report(
        pseudonym=mine, audit_entries=[], events=events, include_names=True,
        generated_at=NOW, partner_names={"https://wij.nl": "WIJ Groningen"},
    )  # fmt: skip
    assert len(report.records) == subjects.count(asked)
    assert all(r.partner == "WIJ Groningen" for r in report.records)


def test_the_hourly_task_sends_its_findings_through_the_collectors(tmp_path: Path) -> None:
    from collectors.spool import open_spool
    from core.clock import SystemClock
    from core.config import load_settings
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import unit_of_work
    from ldv.service import set_stream
    from ldv.tasks import run_stream_check

    settings = load_settings(environment="test", data_dir=tmp_path / "data")
    migrate(settings)
    factory = create_session_factory(create_db_engine(settings))
    with unit_of_work(factory) as db:
        set_stream(db=db, clock=SystemClock(), actor="fg", system="belastingen", per_hour=50)
    result = run_stream_check(settings, factory)
    assert result == {"systems": 1, "gaps": ["belastingen"]}  # nothing arrived at all
    with open_spool(settings) as spool:
        assert spool.pending() == 1
