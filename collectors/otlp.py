"""OTLP/HTTP trace ingest: Logboek Dataverwerkingen records arrive as spans.

`POST /v1/traces` with an `ExportTraceServiceRequest`, protobuf (`application/x-protobuf`) or
JSON (`application/json`). Decoding is the `opentelemetry-proto` package's generated classes
and `google.protobuf.json_format`; the only help JSON needs is the OTLP/JSON rule that trace and
span ids are hex, not base64 (`_hex_ids_to_base64`). Each span becomes one LDV record
(`collectors.parsers.ldv.check_record`), then one ECS event.

Acknowledgement: the reply is sent only after the accepted events and the dead letters of the
rejected spans are committed to the spool in one transaction. Rejected spans are counted in
`partial_success` (`rejected_spans`, and `error_message` naming span, field and problem) as
OTLP prescribes, and dead-lettered (subject ids scrubbed), so nothing posted is lost. An
`Idempotency-Key` header works as for NDJSON ingest (the SDK exporters send none).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collectors.errors import ParseError
from collectors.http_ingest import (
    DEFAULT_KEY_TTL,
    KeyReusedError,
    SpoolFullError,
    check_idempotency_key,
    check_source,
)
from collectors.parsers.ldv import FOREIGN_PREFIX, MAX_TIME_MS, LdvRecordMapper, check_body
from collectors.spool import OnceKey, Spool
from core.errors import ValidationError
from core.store.base import DeadLetter

if TYPE_CHECKING:
    from collectors.hooks import EnrichFn
    from core.events import Event

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_MESSAGE_SPANS = 5  # rejected spans described in `error_message`; all are dead-lettered
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


@dataclass(frozen=True, slots=True)
class RejectedSpan:
    """One refused span: its position in the request, the field at fault and why."""

    index: int
    field: str
    reason: str


@dataclass(slots=True)
class OtlpResult:
    """What one export request did; `replayed` when it is the remembered reply to a retry."""

    accepted: int = 0
    rejected: list[RejectedSpan] = field(default_factory=list)
    replayed: bool = False

    def message(self) -> str:
        shown = self.rejected[:MAX_MESSAGE_SPANS]
        parts = [f"span {r.index}: {r.field}: {r.reason}" for r in shown]
        more = len(self.rejected) - MAX_MESSAGE_SPANS
        if more > 0:
            parts.append(f"and {more} more")
        return "; ".join(parts)

    def response(self) -> ExportTraceServiceResponse:
        """The OTLP reply: partial success only when spans were rejected (as the spec says)."""
        reply = ExportTraceServiceResponse()
        if self.rejected:
            reply.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=len(self.rejected), error_message=self.message()
                )
            )
        return reply

    def as_json(self) -> bytes:
        return orjson.dumps(
            {
                "accepted": self.accepted,
                "rejected": [[r.index, r.field, r.reason] for r in self.rejected],
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> OtlpResult:
        value = orjson.loads(data)
        rejected = [RejectedSpan(i, f, r) for i, f, r in value["rejected"]]
        return cls(accepted=value["accepted"], rejected=rejected, replayed=True)


def encode_response(result: OtlpResult, content_type: str) -> bytes:
    """The reply in the encoding of the request."""
    reply = result.response()
    if content_type == JSON:
        return json_format.MessageToJson(reply, indent=None).encode("utf-8")
    return reply.SerializeToString()


def media_type(header: str | None) -> str:
    """`application/x-protobuf` or `application/json`; anything else is a ValidationError."""
    kind = (header or "").split(";", 1)[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise ValidationError("Content-Type", f"must be {PROTOBUF} or {JSON}")
    return kind


def _hex_ids_to_base64(value: Any) -> None:
    """OTLP/JSON writes ids as hex; proto3 JSON expects base64. A base64 id is left alone."""
    if isinstance(value, list):
        for item in value:
            _hex_ids_to_base64(item)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key in _ID_FIELDS and isinstance(item, str) and len(item) in (16, 32):
            # Not hex: left as is, json_format then reports it with the field name.
            with contextlib.suppress(ValueError):
                value[key] = base64.b64encode(bytes.fromhex(item)).decode("ascii")
        elif isinstance(item, dict | list):
            _hex_ids_to_base64(item)


def decode_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse an export request; ValidationError names what is wrong with the body."""
    request = ExportTraceServiceRequest()
    if content_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise ValidationError("body", f"not an OTLP protobuf export request ({exc})") from None
        return request
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError("body", f"not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValidationError("body", "must be a JSON object (ExportTraceServiceRequest)")
    _hex_ids_to_base64(value)
    try:
        json_format.ParseDict(value, request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise ValidationError("body", f"not an OTLP/JSON export request ({exc})") from None
    return request


def any_value(value: AnyValue) -> Any:
    """An OTLP attribute value as plain JSON-like Python."""
    if value.HasField("string_value"):  # nearly every LDV attribute: skip WhichOneof
        return value.string_value
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind is None:
        return None
    return getattr(value, kind)


def attributes(items: Iterator[KeyValue] | Any) -> dict[str, Any]:
    """Key-value pairs as a dict. Nearly every value is a non-empty string, read inline: a
    non-empty `string_value` can only be the oneof's member that is set, so neither a call nor
    `HasField` (each dearer than the read) is needed; anything else goes to `any_value`."""
    out: dict[str, Any] = {}
    for item in items:
        value = item.value
        text = value.string_value
        out[item.key] = text if text else any_value(value)
    return out


def _hex(data: bytes) -> str | None:
    return data.hex() if data else None


_ZERO_IDS = {16: bytes(16), 8: bytes(8)}


def _binary_id(data: bytes, field: str, size: int) -> str:
    if len(data) != size:
        raise ParseError(f"must be {size} bytes as {size * 2} hex digits", field=field)
    if data == _ZERO_IDS[size]:
        raise ParseError("must not be all zeros (an invalid id in W3C Trace Context)", field=field)
    return data.hex()


def span_record(span: Span, resource: dict[str, Any]) -> dict[str, Any]:
    """One span as a checked LDV record (as `check_record` gives for a JSON line).

    The ids arrive as bytes and the times as integers, so they are checked here directly
    rather than as text; everything else goes through the same `check_body`.
    """
    record: dict[str, Any] = {
        "trace_id": _binary_id(span.trace_id, "trace_id", 16),
        "span_id": _binary_id(span.span_id, "span_id", 8),
    }
    if span.parent_span_id:
        record["parent_span_id"] = _binary_id(span.parent_span_id, "parent_span_id", 8)
    start, end = span.start_time_unix_nano // 1_000_000, span.end_time_unix_nano // 1_000_000
    if not 0 < start <= MAX_TIME_MS:
        raise ParseError("is required (milliseconds since the epoch)", field="start_time")
    if not 0 < end <= MAX_TIME_MS:
        raise ParseError("is required (milliseconds since the epoch)", field="end_time")
    if end < start:
        raise ParseError("must not be before start_time", field="end_time")
    record["start_time"], record["end_time"] = start, end
    status = int(span.status.code)
    if status not in (0, 1, 2):
        raise ParseError("must be 0 (unset), 1 (ok) or 2 (error)", field="status_code")
    record["status_code"] = status
    # A link naming the calling party is the foreign operation. Most spans have no link, and
    # iterating an empty upb repeated field cost three times its truth test (bench/ldv.py).
    links = span.links
    for link in links if links else ():
        entity = attributes(link.attributes).get(FOREIGN_PREFIX + "entity")
        if entity is not None:
            record["foreign_operation"] = {
                "trace_id": _binary_id(link.trace_id, "foreign_operation.trace_id", 16),
                "span_id": _binary_id(link.span_id, "foreign_operation.span_id", 8),
                "entity": entity,
            }
            break
    return check_body(
        record, name=span.name, resource=resource, attributes=attributes(span.attributes)
    )


def iter_spans(request: ExportTraceServiceRequest) -> Iterator[tuple[Span, dict[str, Any]]]:
    """Every span with its resource attributes, in request order."""
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield span, resource


def ingest_otlp(
    *,
    spool: Spool,
    source: str,
    body: bytes,
    content_type: str,
    mapper: LdvRecordMapper,
    received_at: datetime,
    peer: str,
    enrich: EnrichFn | None = None,
    idempotency_key: str | None = None,
    key_ttl: timedelta = DEFAULT_KEY_TTL,
) -> OtlpResult:
    """Spool every good span of an export request; count, describe and dead-letter the rest.

    A body that does not decode at all raises ValidationError (HTTP 400) after it is
    dead-lettered, so even that is not lost.
    """
    check_source(source)
    letter_source = f"otlp/{source}"
    once: OnceKey | None = None
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
        fingerprint = hashlib.sha256(body).hexdigest()
        once = OnceKey(source, idempotency_key, fingerprint, received_at + key_ttl)
        earlier = spool.remembered(scope=source, key=idempotency_key)
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise KeyReusedError()
            return OtlpResult.from_json(earlier.response)
    if spool.is_full():
        raise SpoolFullError()
    try:
        request = decode_request(body, content_type)
    except ValidationError as exc:
        letter = DeadLetter(
            source=letter_source,
            reason=f"{exc.field}: {exc.problem}",
            raw=mapper.redact(body) if content_type == JSON else body,
            offset=0,
            received_at=received_at,
            raw_length=len(body),
        )
        spool.append_dead([letter])
        raise
    return _spool_spans(
        request, spool=spool, mapper=mapper, letter_source=letter_source,
        received_at=received_at, peer=peer, enrich=enrich, once=once,
    )  # fmt: skip


def _spool_spans(
    request: ExportTraceServiceRequest,
    *,
    spool: Spool,
    mapper: LdvRecordMapper,
    letter_source: str,
    received_at: datetime,
    peer: str,
    enrich: EnrichFn | None,
    once: OnceKey | None,
) -> OtlpResult:
    result = OtlpResult()
    events: list[Event] = []
    dead: list[DeadLetter] = []
    for index, (span, resource) in enumerate(iter_spans(request)):
        try:
            record = span_record(span, resource)
            event = mapper.to_event(record, received_at=received_at, source=peer)
        except ParseError as exc:
            problem = RejectedSpan(index, exc.field or "span", exc.reason)
            result.rejected.append(problem)
            raw = json_format.MessageToJson(span, indent=None).encode("utf-8")
            dead.append(
                DeadLetter(
                    source=letter_source,
                    reason=f"span {index}: {problem.field}: {problem.reason}",
                    raw=mapper.redact(raw),
                    offset=index,
                    received_at=received_at,
                    raw_length=len(raw),
                )
            )
            continue
        events.append(enrich(event) if enrich is not None else event)
    result.accepted = len(events)
    if once is None:
        spool.append(events, source=letter_source, dead=dead)
        return result
    earlier = spool.append_once(
        events, source=letter_source, dead=dead, once=once, response=result.as_json()
    )
    if earlier is None:
        return result
    if earlier.fingerprint != once.fingerprint:
        raise KeyReusedError()
    return OtlpResult.from_json(earlier.response)
