"""The normalised event: dotted access and validation with errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationError
from core.events import flatten, get_field, has_field, new_event, set_field, validate_event


def _valid() -> dict:
    return {
        "@timestamp": "2026-11-28T10:00:00.000Z",
        "event": {"kind": "event", "dataset": "syslog", "original": "<13>hello"},
    }


def test_new_event_builds_nested_ecs() -> None:
    event = new_event(
        timestamp=datetime(2026, 11, 28, 10, tzinfo=UTC),
        dataset="nginx.access",
        original="line",
        fields={"source.ip": "192.0.2.1", "http.response.status_code": 404},
    )
    assert event["@timestamp"] == "2026-11-28T10:00:00.000Z"
    assert event["source"] == {"ip": "192.0.2.1"}
    assert get_field(event, "http.response.status_code") == 404


def test_get_field_handles_nested_dotted_keys_and_defaults() -> None:
    event = {"winlog": {"event_data.SubjectUserName": "alice"}, "a.b": 1, "x": {"y": None}}
    assert get_field(event, "winlog.event_data.SubjectUserName") == "alice"
    assert get_field(event, "a.b") == 1
    assert get_field(event, "x.y", "dflt") is None
    assert has_field(event, "x.y")
    assert not has_field(event, "x.z")
    assert get_field(event, "x.y.z", "dflt") == "dflt"


def test_set_field_refuses_to_overwrite_a_leaf_with_an_object() -> None:
    event = {"user": "alice"}
    with pytest.raises(ValidationError) as caught:
        set_field(event, "user.name", "bob")
    assert caught.value.field == "user.name"


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (lambda e: e.pop("@timestamp"), "@timestamp", "is required"),
        (lambda e: e.update({"@timestamp": 5}), "@timestamp", "ISO 8601 string"),
        (lambda e: e.update({"@timestamp": "yesterday"}), "@timestamp", "not an ISO 8601"),
        (lambda e: e.update({"@timestamp": "2026-11-28T10:00:00"}), "@timestamp", "time zone"),
        (lambda e: e["event"].pop("kind"), "event.kind", "is required"),
        (lambda e: e["event"].update({"kind": "oops"}), "event.kind", "must be one of"),
        (lambda e: e["event"].update({"kind": ["event"]}), "event.kind", "must be one of"),
        (lambda e: e["event"].pop("dataset"), "event.dataset", "is required"),
        (lambda e: e["event"].update({"dataset": "  "}), "event.dataset", "must not be empty"),
        (lambda e: e["event"].update({"original": {"a": 1}}), "event.original", "string"),
        (lambda e: e["event"].pop("original"), "event.original", "is required"),
    ],
)
def test_validation_names_field_and_problem(mutate, field: str, problem: str) -> None:
    event = _valid()
    mutate(event)
    with pytest.raises(ValidationError) as caught:
        validate_event(event)
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_dotted_keys_validate_like_nested_ones() -> None:
    event = {
        "@timestamp": "2026-11-28T10:00:00Z",
        "event.kind": "event",
        "event.dataset": "x",
        "event.original": "y",
    }
    assert validate_event(event) is event
    del event["event.dataset"]
    with pytest.raises(ValidationError, match=r"event\.dataset: is required"):
        validate_event(event)


def test_validation_refuses_non_objects() -> None:
    with pytest.raises(ValidationError, match="JSON object"):
        validate_event(["not", "an", "event"])


def test_flatten_yields_dotted_leaves() -> None:
    event = _valid()
    event["tags"] = ["a"]
    flat = dict(flatten(event))
    assert flat["event.kind"] == "event"
    assert flat["tags"] == ["a"]
    assert "event" not in flat


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(), min_size=1))
def test_set_then_get_round_trips(values: dict[str, int]) -> None:
    event: dict = {}
    for key, value in values.items():
        set_field(event, f"dijkwacht.test.{key}", value)
    for key, value in values.items():
        assert get_field(event, f"dijkwacht.test.{key}") == value
