"""Golden events: fixed OTLP spans and JSON-lines records in, the exact ECS events out.

The OTLP hot path (span to record to event) is tuned for bench/ldv.py; these files pin its
output so a faster path cannot change a single field. Regenerate only for an intended change:
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/ldv/test_event_golden.py`.
"""

from __future__ import annotations

import base64
import gc
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collectors.errors import ParseError
from collectors.otlp import PROTOBUF, decode_request, ingest_otlp, iter_spans, span_record
from collectors.parsers import get_parser
from collectors.parsers.ldv import LdvRecordMapper
from collectors.spool import Spool
from core.errors import ValidationError
from core.privacy.pseudonyms import _base32
from core.privacy.service import Pseudonymiser
from tests.ldv.support import ACTIVITY, BSN_A, BSN_B

GOLDEN = Path(__file__).parent / "golden"
KEY = b"g" * 32
NOW = datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC)
START_NS = 1_764_068_470_669_123_456
PARTNER = "https://wij.groningen.nl"


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_value(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=_kvs(value)))
    return AnyValue(string_value=value)


def _kvs(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_value(value)) for key, value in values.items()]


def _span(number: int, attributes: dict[str, Any], **fields: Any) -> Span:
    return Span(
        trace_id=bytes(15) + bytes([number]),
        span_id=bytes(7) + bytes([number]),
        name=fields.pop("name", "raadpleeg persoonslijst"),
        start_time_unix_nano=START_NS + number * 1_000_000_000,
        end_time_unix_nano=START_NS + number * 1_000_000_000 + fields.pop("took_ns", 33_000_000),
        attributes=_kvs(attributes),
        **fields,
    )


BASE = {
    "dpl.core.processing_activity_id": ACTIVITY,
    "dpl.core.data_subject_id": BSN_A,
    "dpl.core.data_subject_id_type": "BSN",
}
SPANS = [
    _span(1, BASE),
    _span(2, BASE, parent_span_id=bytes.fromhex("00f067aa0ba902b7"),
          status=Status(code=Status.STATUS_CODE_ERROR)),
    _span(3, {**BASE, "note": f"gebeld over {BSN_B} en 123456789", "count": 3},
          took_ns=1_500_000_000),
    _span(4, {**BASE, "dpl.core.data_subject_id": f"{BSN_A},{BSN_B}"}, name=f"bulk {BSN_B}"),
    _span(5, {**BASE, "dpl.core.data_subject_id": "P-17",
              "dpl.core.data_subject_id_type": "personeelsnummer"}),
    _span(6, {"dpl.core.processing_activity_id": ACTIVITY, "export.record_count": 40,
              "flags": [True, 2, 2.5, b"\x01", {"deep": BSN_B}]}),
    _span(7, BASE, links=[Span.Link(
        trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)),
        attributes=_kvs({"dpl.core.foreign_operation.entity": PARTNER}))]),
    _span(8, {**BASE, "dpl.core.foreign_operation.entity": PARTNER,
              "dpl.core.foreign_operation.trace_id": "0af7651916cd43dd8448eb211c80319c",
              "dpl.core.foreign_operation.span_id": "b7ad6b7169203331",
              "dpl.read.externalReadAPI_id": "https://api.groningen.nl/read/7"}),
    _span(9, {**BASE, "dpl.nen7513.users": [{"userID": "E17", "roleIDCode": "klantadviseur",
              "purposeOfUse": "zaak 2026-0412", "userIsRequestor": True}]}),
    _span(10, {**BASE, "dpl.core.data_subject_id": "rp_" + "a" * 32}),
    _span(11, BASE, took_ns=-5_000_000),  # rejected: ends before it starts
]  # fmt: skip


def _request() -> bytes:
    resource = ResourceSpans()
    resource.resource.attributes.extend(_kvs({"service.name": "BRP bevraging", "node": BSN_B}))
    resource.scope_spans.append(ScopeSpans(spans=SPANS))
    return ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


def _otlp_events() -> list[Any]:
    mapper = LdvRecordMapper(pseudonymiser=Pseudonymiser(KEY))
    out: list[Any] = []
    for _ in range(2):  # the second pass answers from the mapper's caches
        for span, resource in iter_spans(decode_request(_request(), PROTOBUF)):
            try:
                record = span_record(span, resource)
                out.append(mapper.to_event(record, received_at=NOW, source="otlp://127.0.0.1"))
            except ParseError as exc:
                out.append({"error": [exc.field, exc.reason]})
    return out


def _line_events() -> list[Any]:
    parser = get_parser("ldv", pseudonymiser=Pseudonymiser(KEY))
    out: list[Any] = []
    for event in _otlp_events():
        if "error" in event:
            continue
        line = event["event"]["original"].encode("utf-8")
        out.append(parser.parse(line, received_at=NOW, source="file:/ldv.jsonl"))
    return out


def _check(name: str, events: list[Any]) -> None:
    """Byte for byte: key order is output too (it is what `event.original` and the spool hold)."""
    path = GOLDEN / name
    text = orjson.dumps(events, option=orjson.OPT_INDENT_2) + b"\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(text)
    assert text.decode("utf-8") == path.read_text(encoding="utf-8")


def test_otlp_spans_give_the_golden_events() -> None:
    _check("otlp_events.json", _otlp_events())


def test_json_lines_give_the_golden_events() -> None:
    _check("ldv_line_events.json", _line_events())


@given(st.binary(min_size=20, max_size=20))
def test_the_pseudonym_encoding_is_rfc4648_base32(twenty: bytes) -> None:
    assert _base32(twenty) == base64.b32encode(twenty).decode("ascii").lower()


def test_ingest_spools_the_golden_events_and_leaves_the_collector_collecting(
    tmp_path: Path,
) -> None:
    """Through `ingest_otlp` (which pauses the cyclic collector per request): the same events
    reach the spool, and the collector is on again afterwards, also after a refused body."""
    spool = Spool(tmp_path / "spool.sqlite")
    mapper = LdvRecordMapper(pseudonymiser=Pseudonymiser(KEY))
    try:
        result = ingest_otlp(
            spool=spool, source="brp", body=_request(), content_type=PROTOBUF, mapper=mapper,
            received_at=NOW, peer="otlp://127.0.0.1",
        )  # fmt: skip
        assert gc.isenabled()
        assert (result.accepted, [r.field for r in result.rejected]) == (10, ["end_time"])
        spooled = [event for _, event in spool.take(100)]
        for event in spooled:
            del event["event"]["id"]  # given by the spool
        golden = orjson.loads((GOLDEN / "otlp_events.json").read_bytes())[:11]
        assert spooled == [event for event in golden if "error" not in event]
        with pytest.raises(ValidationError):
            ingest_otlp(
                spool=spool, source="brp", body=b"\xff", content_type=PROTOBUF, mapper=mapper,
                received_at=NOW, peer="otlp://127.0.0.1",
            )  # fmt: skip
        assert gc.isenabled()
    finally:
        spool.close()
