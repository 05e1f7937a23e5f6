"""The access report of one data subject: exactly their reads, from every source, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.privacy.access_report import build_report
from tests.core.privacy.support import app_audit_event


@dataclass
class FakeEntry:
    at: datetime
    actor: str
    action: str
    object_type: str
    purpose: str | None
    details: dict[str, Any] = field(default_factory=dict)


PSEUDONYMS = [f"rp_{c * 32}" for c in "abcd"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)
reads = st.builds(
    lambda subjects, action, minutes: FakeEntry(
        at=BASE + timedelta(minutes=minutes),
        actor="x",
        action=action,
        object_type="alert",
        purpose="p",
        details={"subject_pseudonyms": subjects, "role": "analyst"},
    ),
    st.lists(st.sampled_from(PSEUDONYMS), max_size=3, unique=True),
    st.sampled_from(["data.read", "reidentification.verified", "user.logged_in"]),
    st.integers(0, 10_000),
)
app_events = st.builds(
    lambda subject, outcome, minutes: (
        app_audit_event(subject, "E9", BASE + timedelta(minutes=minutes))
        | {
            "event": {
                "kind": "event",
                "dataset": "app_audit.brp",
                "original": "{}",
                "action": "view",
                "outcome": outcome,
            }
        }
    ),
    st.sampled_from(PSEUDONYMS),
    st.sampled_from(["success", "failure"]),
    st.integers(0, 10_000),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(reads, max_size=20), st.lists(app_events, max_size=20), st.sampled_from(PSEUDONYMS))
def test_report_holds_exactly_that_residents_reads(
    audit: list[FakeEntry], events: list[dict[str, Any]], target: str
) -> None:
    report = build_report(
        pseudonym=target, audit_entries=audit, events=events, include_names=False, generated_at=BASE
    )
    expected_audit = [
        e
        for e in audit
        if e.action in ("data.read", "reidentification.verified")
        and target in e.details["subject_pseudonyms"]
    ]
    expected_events = [
        e
        for e in events
        if e["dijkwacht"]["subject"]["pseudonym"] == target and e["event"]["outcome"] == "success"
    ]
    assert len(report.records) == len(expected_audit) + len(expected_events)
    assert sorted(r.at for r in report.records if r.source == "dijkwacht") == sorted(
        e.at for e in expected_audit
    )
    assert all(r.employee is None for r in report.records)
    assert [r.at for r in report.records] == sorted(r.at for r in report.records)
