"""Logboek Dataverwerkingen (LDV) records: one processing action on at most one data subject.

Two inputs give the same record: OTLP spans (`collectors.otlp` turns each span into the mapping
below) and JSON lines (this parser, format `ldv`), one record per line::

    {"trace_id": "<32 hex>", "span_id": "<16 hex>", "parent_span_id": "<16 hex>",
     "name": "bekijk persoonslijst", "start_time": 1764068470669, "end_time": 1764068470702,
     "status_code": 1,
     "foreign_operation": {"trace_id": "<32 hex>", "span_id": "<16 hex>",
                           "entity": "https://wij.groningen.nl"},
     "resource": {"attributes": {"service.name": "brp-bevraging"}},
     "attributes": {"dpl.core.processing_activity_id": "https://register.groningen.nl/va/12",
                    "dpl.core.data_subject_id": "999993653",
                    "dpl.core.data_subject_id_type": "BSN"}}

Every field is checked against the standard (docs/ldv.md) and a bad one is a ParseError naming
it. The data subject id is pseudonymised before the event exists (`Pseudonymiser.identifier`,
the app-audit pseudonym for a BSN), also inside `event.original`; error messages never quote
values. A record naming several subjects (a list of ids, or a `*_count` attribute above 1)
breaks the one-subject-per-record rule: it is kept, with `dijkwacht.ldv.bulk`, for the rule.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from collectors.parsers.base import ParseError, check_received_at, strip_line_end
from collectors.parsers.jsonlines import load_object
from core.events import Event
from core.privacy.service import PrivacyError, Pseudonymiser

ACTIVITY = "dpl.core.processing_activity_id"
SUBJECT = "dpl.core.data_subject_id"
SUBJECT_TYPE = "dpl.core.data_subject_id_type"
USERS = "dpl.nen7513.users"
READ_API = "dpl.read.externalReadAPI_id"
FOREIGN_PREFIX = "dpl.core.foreign_operation."
RECORD_FIELDS = frozenset(
    {"trace_id", "span_id", "parent_span_id", "name", "start_time", "end_time",
     "status_code", "foreign_operation", "resource", "attributes"}
)  # fmt: skip
STATUS_NAMES = {0: "unknown", 1: "success", 2: "failure"}
_STATUS_TEXT = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_URI = re.compile(r"(?:[a-z][a-z0-9+.-]*://[^\s/?#]+[^\s]*|urn:[a-z0-9][a-z0-9-]{0,31}:\S+)", re.I)
_SLUG_BAD = re.compile(r"[^a-z0-9_-]+")
_COUNT_SUFFIXES = ("record_count", "subject_count")
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_SAFE_ATTRIBUTES = frozenset({SUBJECT, FOREIGN_PREFIX + "trace_id", FOREIGN_PREFIX + "span_id"})
MAX_NAME = 256
MAX_TEXT = 1024
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31
# Subject ids pseudonymised lately (an HMAC and a base32 encoding: ~15 us each). Residents
# recur within minutes (a case and its BRP look-up name the same person); the cache lives
# only in the collector's memory, where the ids pass anyway, and is dropped when full.
SUBJECT_CACHE = 65_536


def _hex_id(value: Any, field: str, pattern: re.Pattern[str], size: int) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value.lower()):
        raise ParseError(f"must be {size} bytes as {size * 2} hex digits", field=field)
    if value.strip("0") == "":
        raise ParseError("must not be all zeros (an invalid id in W3C Trace Context)", field=field)
    return value.lower()


def _time_ms(value: Any, field: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError("must be milliseconds since the epoch (a whole number)", field=field)
    if not 0 < value <= MAX_TIME_MS:
        raise ParseError("out of range", field=field)
    return value


def _status(value: Any) -> int:
    if isinstance(value, str) and value in _STATUS_TEXT:
        return _STATUS_TEXT[value]
    if isinstance(value, bool) or value not in (0, 1, 2):
        raise ParseError("must be 0 (unset), 1 (ok) or 2 (error)", field="status_code")
    return int(value)


@lru_cache(maxsize=4096)
def _is_uri(value: str) -> bool:
    """Memoised: a logbook sees a few hundred activity and partner URIs, over and over."""
    return len(value) <= MAX_TEXT and _URI.fullmatch(value) is not None


def _uri(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _is_uri(value):
        raise ParseError("must be an absolute URI (https://... or urn:...)", field=field)
    return value


def _attributes(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError("must be an object of key-value pairs", field=field)
    return value


@lru_cache(maxsize=1024)
def _slug(text: str) -> str:
    """The dataset suffix of a system name (a handful of systems: memoised)."""
    return _SLUG_BAD.sub("-", text.lower()).strip("-")[:48] or "unknown"


@lru_cache(maxsize=4096)
def _second_iso(seconds: int) -> str:
    """Memoised: a record's start and end, and its neighbours, mostly fall in one second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


# ".000Z" to ".999Z": joining a looked-up suffix took half the time of formatting `:03d`.
_MILLIS_SUFFIX = tuple(f".{millis:03d}Z" for millis in range(1000))


def ms_iso(ms: int) -> str:
    """Milliseconds since the epoch as the ISO 8601 UTC text events carry (`utc_iso`'s form).

    `time.strftime` over `gmtime`, memoised per second: this runs twice per record on the OTLP
    hot path (bench/ldv.py), where a datetime's `isoformat` cost five times as much."""
    return _second_iso(ms // 1000) + _MILLIS_SUFFIX[ms % 1000]


def check_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its ids lower-cased and times as ints; ParseError names a bad field."""
    unknown = sorted(set(record) - RECORD_FIELDS)
    if unknown:
        raise ParseError("unknown field", field=unknown[0][:64])
    for required in ("trace_id", "span_id", "name", "start_time", "end_time", "status_code"):
        if record.get(required) is None:
            raise ParseError("is required", field=required)
    out: dict[str, Any] = {
        "trace_id": _hex_id(record["trace_id"], "trace_id", _HEX32, 16),
        "span_id": _hex_id(record["span_id"], "span_id", _HEX16, 8),
    }
    if record.get("parent_span_id"):
        out["parent_span_id"] = _hex_id(record["parent_span_id"], "parent_span_id", _HEX16, 8)
    out["start_time"] = _time_ms(record["start_time"], "start_time")
    out["end_time"] = _time_ms(record["end_time"], "end_time")
    if out["end_time"] < out["start_time"]:
        raise ParseError("must not be before start_time", field="end_time")
    out["status_code"] = _status(record["status_code"])
    foreign = record.get("foreign_operation")
    if foreign is not None:
        if not isinstance(foreign, dict):
            raise ParseError("must be an object", field="foreign_operation")
        out["foreign_operation"] = {
            "trace_id": _hex_id(foreign.get("trace_id"), "foreign_operation.trace_id", _HEX32, 16),
            "span_id": _hex_id(foreign.get("span_id"), "foreign_operation.span_id", _HEX16, 8),
            "entity": foreign.get("entity"),
        }
    resource = record.get("resource") or {}
    if not isinstance(resource, dict):
        raise ParseError("must be an object", field="resource")
    return check_body(
        out,
        name=record["name"],
        resource=_attributes(resource.get("attributes"), "resource.attributes"),
        attributes=_attributes(record.get("attributes"), "attributes"),
    )


def check_body(
    out: dict[str, Any], *, name: Any, resource: dict[str, Any], attributes: dict[str, Any]
) -> dict[str, Any]:
    """The checks after ids and times (which a caller with binary ids, OTLP, makes itself):
    name, processing activity, foreign operation; completes and returns `out`."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ParseError(f"must be a non-empty text of at most {MAX_NAME} characters", "name")
    out["name"] = name
    foreign = out.get("foreign_operation")
    if foreign is not None:
        foreign["entity"] = _uri(foreign.get("entity"), "foreign_operation.entity")
    out["resource"] = {"attributes": resource}
    if attributes.get(ACTIVITY) is None:
        raise ParseError("is required (a URI into the processing register)", field=ACTIVITY)
    _uri(attributes[ACTIVITY], ACTIVITY)
    if foreign is None and attributes.get(FOREIGN_PREFIX + "entity"):
        out["foreign_operation"] = {
            "trace_id": _hex_id(attributes.get(FOREIGN_PREFIX + "trace_id"),
                                FOREIGN_PREFIX + "trace_id", _HEX32, 16),
            "span_id": _hex_id(attributes.get(FOREIGN_PREFIX + "span_id"),
                               FOREIGN_PREFIX + "span_id", _HEX16, 8),
            "entity": _uri(attributes[FOREIGN_PREFIX + "entity"], FOREIGN_PREFIX + "entity"),
        }  # fmt: skip
    out["attributes"] = attributes
    return out


def _subjects(attributes: dict[str, Any]) -> list[Any]:
    value = attributes.get(SUBJECT)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str) and ("," in value or ";" in value):
        return [part.strip() for part in re.split(r"[,;]", value) if part.strip()]
    return [value]


class _Resource:
    """A record's resource as events carry it: scrubbed attributes, system name, dataset, and
    the `dijkwacht.ldv.resource` object."""

    __slots__ = ("attributes", "dataset", "ldv", "system")

    def __init__(self, attributes: dict[str, Any], system: str, dataset: str) -> None:
        self.attributes, self.system, self.dataset = attributes, system, dataset
        self.ldv = {"system": system, "attributes": attributes}


class LdvRecordMapper:
    """Checked LDV records (`check_record`) to ECS events; shared by OTLP and JSON lines."""

    def __init__(self, *, pseudonymiser: Pseudonymiser) -> None:
        self._pseudonymiser = pseudonymiser
        self._subjects: dict[tuple[str, str | None], str] = {}
        self._created: tuple[datetime | None, str] = (None, "")
        self._resource: tuple[dict[str, Any] | None, _Resource] = (None, _Resource({}, "", ""))

    def _subject(self, value: Any, id_type: str | None) -> str:
        key = (value, id_type) if isinstance(value, str) else None
        if key is not None:
            known = self._subjects.get(key)
            if known is not None:
                return known
        try:
            pseudonym = self._pseudonymiser.identifier(value, id_type=id_type, field=SUBJECT)
        except PrivacyError as exc:  # never quotes the id, so safe next to the dead letter
            raise ParseError(exc.problem, field=exc.field) from None
        if key is not None:
            if len(self._subjects) >= SUBJECT_CACHE:
                self._subjects.clear()
            self._subjects[key] = pseudonym
        return pseudonym

    def _scrub(self, value: Any) -> Any:
        """`value` with BSN-like numbers in its strings pseudonymised, at any depth."""
        if isinstance(value, str):
            return self._pseudonymiser.scrub(value) if _NINE_DIGITS.search(value) else value
        if isinstance(value, list):
            return [self._scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: self._scrub(item) for key, item in value.items()}
        return value

    def _created_iso(self, received_at: datetime) -> str:
        seen, text = self._created
        if seen != received_at:
            text = ms_iso(int(received_at.timestamp() * 1000))
            self._created = (received_at, text)
        return text

    def _mapped_resource(self, attributes: dict[str, Any]) -> _Resource:
        """The resource part of an event, mapped once per resource: every span of an OTLP
        `ResourceSpans` passes the same attributes dict, and its events share the result
        (nothing changes it after `to_event`). A JSON line has its own dict: mapped each time.
        The cache holds the dict it was made from, so `is` cannot match a new dict that got
        the address of a freed one."""
        seen, mapped = self._resource
        if seen is attributes:
            return mapped
        search, scrub = _NINE_DIGITS.search, self._scrub
        scrubbed = {
            key: value if type(value) is str and search(value) is None else scrub(value)
            for key, value in attributes.items()
        }
        system = scrubbed.get("service.name")
        system = system if isinstance(system, str) and system.strip() else "unknown"
        mapped = _Resource(scrubbed, system, f"ldv.{_slug(system)}")
        self._resource = (attributes, mapped)
        return mapped

    def redact(self, raw: bytes) -> bytes:
        """A dead-letter-safe copy of a rejected record: BSN-like numbers pseudonymised."""
        return self._pseudonymiser.scrub(raw.decode("utf-8", errors="replace")).encode("utf-8")

    def to_event(self, record: dict[str, Any], *, received_at: datetime, source: str) -> Event:
        """One ECS event; `record` must come from `check_record` (it is changed in place)."""
        attributes = record["attributes"]
        id_type = attributes.get(SUBJECT_TYPE)
        if id_type is not None and (not isinstance(id_type, str) or len(id_type) > MAX_TEXT):
            raise ParseError("must be a text", field=SUBJECT_TYPE)
        subject = attributes.get(SUBJECT)
        single = type(subject) is str and "," not in subject and ";" not in subject
        known = self._subjects.get((subject, id_type)) if single else None
        if known is not None:  # a resident seen lately: one look-up instead of three calls
            subjects = [known]
        else:
            subjects = [self._subject(value, id_type) for value in _subjects(attributes)]
        # Free text may hide a BSN: every string but the ids is scrubbed (the ids are hex, and
        # a 9-digit run inside one is not a BSN); then `event.original` is built from it.
        # Inline fast path, same result as `_scrub`: a string without a 9-digit run stays (on
        # the hot path nearly all do; a call per value was a tenth of this function's time).
        # The same pass finds the largest `*_count` (`_count`; a second loop cost as much).
        scrub, search = self._scrub, _NINE_DIGITS.search
        if search(record["name"]) is not None:  # a checked name is a string
            record["name"] = scrub(record["name"])
        # Values are replaced in place (the record is ours): no second dict per record.
        most = 0
        for key, value in attributes.items():
            if type(value) is str:
                if key not in _SAFE_ATTRIBUTES and search(value) is not None:
                    attributes[key] = scrub(value)
            elif type(value) is int:
                if value > most and key.endswith(_COUNT_SUFFIXES):
                    most = value
            elif key not in _SAFE_ATTRIBUTES:
                attributes[key] = scrub(value)
        if subjects:
            attributes[SUBJECT] = subjects[0] if len(subjects) == 1 else subjects
        mapped = self._mapped_resource(record["resource"]["attributes"])
        record["resource"]["attributes"] = mapped.attributes
        if "foreign_operation" in record:
            record["foreign_operation"]["entity"] = scrub(record["foreign_operation"]["entity"])
        system = mapped.system
        original = orjson.dumps(record).decode("utf-8")
        count = max(len(subjects), most)
        status = record["status_code"]
        start, end = record["start_time"], record["end_time"]
        created = self._created_iso(received_at)
        started = ms_iso(start)
        ldv: dict[str, Any] = {
            "trace_id": record["trace_id"],
            "span_id": record["span_id"],
            "name": record["name"],
            "start_time": start,
            "end_time": end,
            "status_code": status,
            "processing_activity_id": attributes[ACTIVITY],
            "subject_count": count,
            "bulk": count > 1,
            "resource": mapped.ldv,
        }
        if "parent_span_id" in record:
            ldv["parent_span_id"] = record["parent_span_id"]
        if len(subjects) == 1:
            ldv["data_subject"] = {"pseudonym": subjects[0]}
        elif subjects:
            ldv["data_subject"] = {"pseudonyms": subjects}
        if isinstance(id_type, str):
            ldv.setdefault("data_subject", {})["id_type"] = id_type
        if "foreign_operation" in record:
            ldv["foreign_operation"] = dict(record["foreign_operation"])
        read_api = attributes.get(READ_API)
        if read_api is not None:
            ldv["external_read_api"] = _uri(read_api, READ_API)
        event: Event = {
            "@timestamp": started,
            "event": {
                "kind": "event",
                "category": ["database"],
                "type": ["access"],
                "action": record["name"][:MAX_NAME],
                "outcome": STATUS_NAMES[status],
                "provider": system,
                "dataset": mapped.dataset,
                "start": started,
                "end": ms_iso(end),
                "duration": (end - start) * 1_000_000,
                "created": created,
                "original": original,
            },
            "trace": {"id": record["trace_id"]},
            "span": {"id": record["span_id"]},
            "service": {"name": system},
            "dijkwacht": {"ldv": ldv},
        }
        if source:
            event["dijkwacht"]["ingest"] = {"source": source}
        if len(subjects) == 1:
            event["dijkwacht"]["subject"] = {"pseudonym": subjects[0]}
        if USERS in attributes:
            self._users(event, attributes[USERS])
        # No `finish()`: what validate_event checks (@timestamp, kind, dataset, original) is
        # built above from checked values; skipping it saves a fifth of this function's time.
        return event

    def _users(self, event: Event, users: Any) -> None:
        if users is None:
            return
        if isinstance(users, dict):
            users = [users]
        if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
            raise ParseError("must be a list of objects", field=USERS)
        clean = users  # scrubbed with the other attributes
        event["dijkwacht"]["ldv"]["nen7513"] = {"users": clean}
        first = next((u for u in clean if u.get("userIsRequestor") in (True, "true")), None)
        first = first or (clean[0] if clean else None)
        if first is None:
            return
        user: dict[str, Any] = {}
        if isinstance(first.get("userID"), str):
            user["id"] = first["userID"][:MAX_NAME]
        if isinstance(first.get("roleIDCode"), str):
            user["roles"] = [first["roleIDCode"][:MAX_NAME]]
        if user:
            event["user"] = user
        purpose = first.get("purposeOfUse")
        if isinstance(purpose, str) and purpose.strip():
            event["dijkwacht"]["case"] = {"purpose": purpose[:MAX_TEXT]}


class LdvParser:
    """JSON-lines LDV records (format `ldv`); BSNs are pseudonymised on the way in."""

    name = "ldv"

    def __init__(self, *, pseudonymiser: Pseudonymiser) -> None:
        self.mapper = LdvRecordMapper(pseudonymiser=pseudonymiser)

    def redact(self, raw: bytes) -> bytes:
        return self.mapper.redact(raw)

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        line = strip_line_end(raw)
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("record must be valid UTF-8") from None
        record = check_record(load_object(line))
        return self.mapper.to_event(record, received_at=received_at, source=source)
