"""JSON lines: ECS pass-through, wrapping, timestamps, bad input."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers import JsonLinesParser, ParseError, get_parser
from tests.collectors.support import assert_ecs

RECEIVED = datetime(2024, 1, 1, tzinfo=UTC)


def test_ecs_event_is_kept_and_original_filled() -> None:
    raw = (
        b'{"@timestamp":"2024-01-01T10:00:00.000Z","event":{"kind":"alert","dataset":"x"},'
        b'"source":{"ip":"192.0.2.1"}}\n'
    )
    event = assert_ecs(get_parser("json").parse(raw, received_at=RECEIVED, source="http"))
    assert event["event"]["kind"] == "alert"
    assert event["event"]["original"] == raw.decode().rstrip("\n")
    assert event["source"]["ip"] == "192.0.2.1"


def test_other_objects_are_wrapped() -> None:
    parser = JsonLinesParser(dataset="app.log", timestamp_field="meta.ts")
    raw = b'{"meta":{"ts":"2024-05-01T12:00:00+02:00"},"message":"hi","level":"info"}'
    event = assert_ecs(parser.parse(raw, received_at=RECEIVED, source="t"))
    assert event["@timestamp"] == "2024-05-01T10:00:00.000Z"
    assert event["dijkwacht"]["json"]["level"] == "info"
    assert event["message"] == "hi"
    assert event["event"]["dataset"] == "app.log"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1700000000, "2023-11-14T22:13:20.000Z"), (1700000000123, "2023-11-14T22:13:20.123Z")],
)
def test_epoch_seconds_and_milliseconds(value: int, expected: str) -> None:
    raw = orjson.dumps({"timestamp": value})
    assert JsonLinesParser().parse(raw, received_at=RECEIVED, source="t")["@timestamp"] == expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"a":1}', "timestamp"),
        (b'{"timestamp":"yesterday"}', "timestamp"),
        (b'{"timestamp":true}', "timestamp"),
        (b"[1,2]", None),
        (b"{", None),
        (b'{"timestamp":"2024-01-01T00:00:00Z","x":"\xff"}', None),
        (b'{"@timestamp":"nope","event":{}}', "@timestamp"),
    ],
)
def test_bad_input(raw: bytes, field: str | None) -> None:
    with pytest.raises(ParseError) as error:
        JsonLinesParser().parse(raw, received_at=RECEIVED, source="t")
    assert error.value.field == field


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_parse_error(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        assert_ecs(JsonLinesParser().parse(raw, received_at=RECEIVED, source="t"))
