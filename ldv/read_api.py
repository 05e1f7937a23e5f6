"""The LDV read extension (`logboek-extensie-lezen`): processing records by trace, activity or
data subject, in exactly the shape of its OpenAPI (`POST /processing-activities`).

At least one of `traceId`, `dpl.core.processing_activity_id` and `dpl.core.data_subject_id`
is required (the extension's MUST: 400 otherwise); `startTime` / `endTime` (ms since the epoch)
narrow the time. The subject id a caller sends (a BSN) is pseudonymised with the same key as on
arrival before it is looked up, so only records of exactly that subject can match, and the
answer carries the pseudonym, never the BSN. Answers are capped at `MAX_RECORDS` (the
extension recommends a maximum; it has no paging yet).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import DijkwachtError, ValidationError
from core.events import get_field
from core.store.base import EventQuery, EventStore

ACTIVITY = "dpl.core.processing_activity_id"
SUBJECT = "dpl.core.data_subject_id"
SUBJECT_TYPE = "dpl.core.data_subject_id_type"
PROCESSOR = "dpl.core.foreign_operation.processor"
READ_API = "dpl.read.externalReadAPI_id"
REQUEST_FIELDS = frozenset({"traceId", "startTime", "endTime", ACTIVITY, SUBJECT, SUBJECT_TYPE})
MAX_RECORDS = 1000
STATUS = {0: "Unset", 1: "Ok", 2: "Error"}
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
MAX_TIME_MS = 253_402_300_799_999

Pseudonymise = Callable[[str, str | None], str]


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A checked read request: filters on stored fields, and the subjects it may reveal."""

    filters: dict[str, str]
    start: datetime | None
    end: datetime | None
    subject: str | None


@dataclass(frozen=True, slots=True)
class ReadAnswer:
    """The `ListProcessingActivities` body, and the pseudonyms it names (for read auditing)."""

    body: dict[str, Any]
    subjects: list[str]
    truncated: bool


def _time(value: Any, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIME_MS:
        raise ValidationError(field, "must be milliseconds since the epoch (int64)")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def check_request(body: Any, *, pseudonymise: Pseudonymise) -> ReadRequest:
    """Validate a `ProcessingActivityRequest`; ValidationError names the field (HTTP 400)."""
    if not isinstance(body, Mapping):
        raise ValidationError("body", "must be a JSON object (ProcessingActivityRequest)")
    unknown = sorted(set(body) - REQUEST_FIELDS)
    if unknown:
        raise ValidationError(unknown[0][:64], "unknown field")
    filters: dict[str, str] = {}
    trace = body.get("traceId")
    if trace is not None:
        if not isinstance(trace, str) or not _UUID.fullmatch(trace.lower()):
            raise ValidationError("traceId", "must be a UUID (the 16-byte trace id)")
        filters["dijkwacht.ldv.trace_id"] = trace.lower().replace("-", "")
    activity = body.get(ACTIVITY)
    if activity is not None:
        if not isinstance(activity, str) or not activity.strip() or len(activity) > 1024:
            raise ValidationError(ACTIVITY, "must be a URI")
        filters["dijkwacht.ldv.processing_activity_id"] = activity
    subject: str | None = None
    raw_subject = body.get(SUBJECT)
    if raw_subject is not None:
        id_type = body.get(SUBJECT_TYPE)
        if id_type is not None and not isinstance(id_type, str):
            raise ValidationError(SUBJECT_TYPE, "must be a text")
        if not isinstance(raw_subject, str):
            raise ValidationError(SUBJECT, "must be a text")
        try:
            subject = pseudonymise(raw_subject, id_type)
        except DijkwachtError:  # the message never quotes the id
            raise ValidationError(
                SUBJECT, "not a valid id for its type (a BSN must pass the 11-test)"
            ) from None
        filters["dijkwacht.ldv.data_subject.pseudonym"] = subject
    if not filters:
        raise ValidationError(
            "body", f"give at least one of traceId, {ACTIVITY} or {SUBJECT} (the read extension)"
        )
    start = _time(body["startTime"], "startTime") if body.get("startTime") is not None else None
    end = _time(body["endTime"], "endTime") if body.get("endTime") is not None else None
    if start is not None and end is not None and end < start:
        raise ValidationError("endTime", "must not be before startTime")
    return ReadRequest(filters=filters, start=start, end=end, subject=subject)


def _trace_uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


def processing_activity(event: Mapping[str, Any]) -> dict[str, Any]:
    """One stored LDV event as a `ProcessingActivity` of the read extension's OpenAPI."""
    ldv = get_field(event, "dijkwacht.ldv") or {}
    item: dict[str, Any] = {
        "traceId": _trace_uuid(ldv["trace_id"]),
        "spanId": ldv["span_id"],
        "status": STATUS.get(ldv.get("status_code", 0), "Unset"),
        "name": ldv["name"],
        "startTime": ldv["start_time"],
        "endTime": ldv["end_time"],
    }
    if ldv.get("parent_span_id"):
        item["parentSpanId"] = ldv["parent_span_id"]
    resource = (ldv.get("resource") or {}).get("attributes")
    item["resource"] = {"attributes": dict(resource or {})}
    attributes: dict[str, Any] = {ACTIVITY: ldv["processing_activity_id"]}
    subject = ldv.get("data_subject") or {}
    if subject.get("pseudonym"):
        attributes[SUBJECT] = subject["pseudonym"]
    if subject.get("id_type"):
        attributes[SUBJECT_TYPE] = subject["id_type"]
    foreign = ldv.get("foreign_operation") or {}
    if foreign.get("entity"):
        attributes[PROCESSOR] = foreign["entity"]
    if ldv.get("external_read_api"):
        attributes[READ_API] = ldv["external_read_api"]
    item["attributes"] = attributes
    return item


def read(*, store: EventStore, request: ReadRequest, limit: int = MAX_RECORDS) -> ReadAnswer:
    """The records matching every filter of `request`, oldest first, at most `limit`."""
    query = EventQuery(
        start=request.start,
        end=request.end,
        filters=request.filters,
        limit=limit + 1,
        order="asc",
    )
    found = store.search(query)
    items = []
    subjects: set[str] = set()
    for stored in found[:limit]:
        item = processing_activity(stored.event)
        pseudonym = item["attributes"].get(SUBJECT)
        if isinstance(pseudonym, str):
            subjects.add(pseudonym)
        items.append(item)
    return ReadAnswer({"processingActivities": items}, sorted(subjects), len(found) > limit)
