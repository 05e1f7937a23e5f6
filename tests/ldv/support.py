"""Shared pieces of the LDV tests: spans made by the OpenTelemetry SDK, an ingest token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, set_span_in_context

from core.config import Settings
from tests.tokens import make_ingest_token

BSN_A = "999993653"
BSN_B = "999990019"
ACTIVITY = "https://register.groningen.nl/verwerkingen/brp-inzage/v2"


def make_token(settings: Settings, source: str = "brp") -> str:
    return make_ingest_token(settings, source)


def emit(
    exporter: SpanExporter,
    records: Sequence[Mapping[str, Any]],
    *,
    system: str = "brp-bevraging",
    nested: bool = False,
) -> None:
    """One span per record through a real SDK tracer; `nested` makes each a child of the
    previous one (one trace), else every record is its own trace."""
    provider = TracerProvider(resource=Resource.create({"service.name": system}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("dijkwacht.tests")
    stack: list[Any] = []
    try:
        for attributes in records:
            parent = set_span_in_context(stack[-1]) if nested and stack else None
            span = tracer.start_span(
                str(attributes.get("name", "raadpleeg persoonslijst")), context=parent
            )
            for key, value in attributes.items():
                if key != "name":
                    span.set_attribute(key, value)
            span.set_status(Status(StatusCode.OK))
            if nested:
                stack.append(span)
                continue
            span.end()
    finally:
        for span in reversed(stack):
            span.end()
        provider.shutdown()


def sdk_spans(records: Sequence[Mapping[str, Any]], **options: Any) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    emit(memory, records, **options)
    return list(memory.get_finished_spans())


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The SDK's own export request as OTLP/JSON: json_format output with hex ids (the SDK
    ships no JSON exporter)."""
    value = json_format.MessageToDict(encode_spans(spans))
    for resource_spans in value["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        import base64

                        span[key] = base64.b64decode(span[key]).hex()
    return value


def subject(bsn: str, activity: str = ACTIVITY, **extra: Any) -> dict[str, Any]:
    return {
        "dpl.core.processing_activity_id": activity,
        "dpl.core.data_subject_id": bsn,
        "dpl.core.data_subject_id_type": "BSN",
        **extra,
    }


def ldv_event(
    *,
    key: bytes,
    span: str,
    trace: str = "4bf92f3577b34da6a3ce929d0e0e4736",
    parent: str | None = None,
    bsn: str | None = BSN_A,
    activity: str = ACTIVITY,
    system: str = "brp-bevraging",
    start_ms: int = 1_764_068_470_669,
    entity: str | None = None,
    context: Any = None,
    purpose: str | None = None,
) -> dict[str, Any]:
    """One parsed (and, with `context`, enriched) LDV event, as the collector would store it."""
    import orjson

    from collectors.enrichment import enrich
    from collectors.parsers import get_parser
    from core.privacy.service import Pseudonymiser

    attributes: dict[str, Any] = {"dpl.core.processing_activity_id": activity}
    if bsn is not None:
        attributes["dpl.core.data_subject_id"] = bsn
    if purpose is not None:
        attributes["dpl.nen7513.users"] = [{"userID": "E17", "purposeOfUse": purpose}]
    record: dict[str, Any] = {
        "trace_id": trace,
        "span_id": span,
        "name": "raadpleeg",
        "start_time": start_ms,
        "end_time": start_ms + 5,
        "status_code": 1,
        "resource": {"attributes": {"service.name": system}},
        "attributes": attributes,
    }
    if parent:
        record["parent_span_id"] = parent
    if entity:
        record["foreign_operation"] = {"trace_id": "a" * 32, "span_id": "b" * 16, "entity": entity}
    parser = get_parser("ldv", pseudonymiser=Pseudonymiser(key))
    event = parser.parse(orjson.dumps(record), received_at=datetime.now(UTC), source="test")
    return enrich(event, context) if context is not None else event
