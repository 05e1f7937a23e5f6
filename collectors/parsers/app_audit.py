"""The municipal application audit log: who looked at which resident's data, and why.

Case-management, BRP (population register) and document systems write one record per access,
as JSON lines or CSV (the format is specified in docs/collectors.md). Every field is checked
and a bad one gives a ParseError naming it. The resident's BSN is validated (11-test) and
replaced by a keyed pseudonym before the event exists, also inside `event.original`, so no
stored event carries a BSN. Error messages never quote field values.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from typing import Any

from collectors.parsers.base import (
    ParseError,
    base_event,
    check_received_at,
    decode,
    finish,
    strip_line_end,
)
from collectors.parsers.jsonlines import load_object
from core.events import Event
from core.privacy.service import PrivacyError, Pseudonymiser

FIELDS = (
    "time", "system", "actor", "actor_role", "department", "action", "subject",
    "record_type", "purpose", "case_ref", "channel", "result", "record_count",
)  # fmt: skip
REQUIRED = frozenset({"time", "system", "actor", "action", "result"})
ACTIONS = frozenset({"view", "search", "edit", "export", "print", "delete"})
RESULTS = frozenset({"success", "failure", "denied"})
MAX_RECORD_COUNT = 100_000_000

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_CASE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_DEPARTMENT = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_CHECKS: dict[str, tuple[re.Pattern[str], str]] = {
    "system": (_SLUG, "lower-case letters, digits, '-' or '_' (max 32)"),
    "actor": (_ACTOR, "an employee id: letters, digits, '.', '_', '@', '-' (max 64)"),
    "actor_role": (_SLUG, "lower-case letters, digits, '-' or '_' (max 32)"),
    "department": (_DEPARTMENT, "1-100 characters without control characters"),
    "record_type": (_SLUG, "lower-case letters, digits, '-' or '_' (max 32)"),
    "purpose": (_TEXT, "1-200 characters without control characters"),
    "case_ref": (_CASE_REF, "letters, digits, '.', '_', '/', ':', '-' (max 64)"),
    "channel": (_SLUG, "lower-case letters, digits, '-' or '_' (max 32)"),
}
_TYPE_BY_ACTION = {
    "view": "access",
    "search": "access",
    "export": "access",
    "print": "access",
    "edit": "change",
    "delete": "change",
}


class HeaderRow(ParseError):
    """The CSV header line: not a record, and safe for a caller to skip."""


def _time(value: str) -> datetime:
    if not _ISO_TIME.fullmatch(value):
        raise ParseError("must be an RFC 3339 time with offset, e.g. 2025-01-31T09:15:00+01:00",
                         field="time")  # fmt: skip
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError("impossible date or time", field="time") from None


def _record_count(value: Any) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError("must be a whole number", field="record_count")
    if not 0 <= value <= MAX_RECORD_COUNT:
        raise ParseError(f"must be between 0 and {MAX_RECORD_COUNT}", field="record_count")
    return value


class AppAuditParser:
    """App audit records in `fmt` "json" or "csv"; BSNs are pseudonymised on the way in."""

    def __init__(self, *, pseudonymiser: Pseudonymiser, fmt: str = "json") -> None:
        if fmt not in ("json", "csv"):
            raise ValueError(f"unknown app audit format {fmt!r}")
        self.fmt = fmt
        self.name: str = f"app-audit-{fmt}"
        self._pseudonymiser = pseudonymiser

    def redact(self, raw: bytes) -> bytes:
        """A dead-letter-safe copy of a rejected record: BSN-like numbers pseudonymised."""
        text = raw.decode("utf-8", errors="replace")
        return self._pseudonymiser.scrub(text).encode("utf-8")

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        line = strip_line_end(raw)
        decoded = decode(line)
        if not decoded.valid_utf8:
            raise ParseError("record must be valid UTF-8")
        record = self._json(line) if self.fmt == "json" else self._csv(decoded.text)
        values = self._validate(record)

        subject = values.get("subject")
        try:
            pseudonym = self._pseudonymiser.pseudonym(subject) if subject is not None else None
        except PrivacyError as exc:  # never quotes the BSN, so safe next to the dead letter
            raise ParseError(exc.problem, field=exc.field) from None
        original = decoded.text
        if subject is not None and pseudonym is not None:
            original = original.replace(subject, pseudonym)
            for key, value in values.items():
                if isinstance(value, str) and subject in value:
                    values[key] = value.replace(subject, pseudonym)
        original = self._pseudonymiser.scrub(original)
        if "purpose" in values:
            values["purpose"] = self._pseudonymiser.scrub(values["purpose"])

        event = base_event(
            timestamp=values["time"],
            received_at=received_at,
            dataset=f"app_audit.{values['system']}",
            decoded=decoded,
            raw=line,
            source=source,
        )
        event["event"]["original"] = original
        self._map(event, values, pseudonym)
        return finish(event)

    def _json(self, line: bytes) -> dict[str, Any]:
        record = load_object(line)
        unknown = sorted(set(record) - set(FIELDS))
        if unknown:
            # Field names only: values may hold personal data.
            raise ParseError(f"unknown field(s) {', '.join(unknown)[:200]}", field=unknown[0][:64])
        return record

    def _csv(self, text: str) -> dict[str, Any]:
        try:
            rows = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise ParseError(f"malformed CSV ({exc})") from None
        if len(rows) != 1:
            raise ParseError("expected exactly one CSV record")
        row = rows[0]
        if row and row[0] == "time":
            raise HeaderRow("CSV header row, not a record")
        if len(row) != len(FIELDS):
            raise ParseError(
                f"expected {len(FIELDS)} columns ({', '.join(FIELDS)}), got {len(row)}"
            )
        return {name: value for name, value in zip(FIELDS, row, strict=True) if value != ""}

    @staticmethod
    def _validate(record: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in FIELDS:
            value = record.get(name)
            if value is None or value == "":
                if name in REQUIRED:
                    raise ParseError("is required", field=name)
                continue
            if name == "record_count":
                values[name] = _record_count(value)
                continue
            if not isinstance(value, str):
                raise ParseError("must be a string", field=name)
            if name == "time":
                values[name] = _time(value)
            elif name == "action":
                if value not in ACTIONS:
                    raise ParseError(f"must be one of {', '.join(sorted(ACTIONS))}", field=name)
                values[name] = value
            elif name == "result":
                if value not in RESULTS:
                    raise ParseError(f"must be one of {', '.join(sorted(RESULTS))}", field=name)
                values[name] = value
            elif name == "subject":
                values[name] = value  # validated by the pseudonymiser (11-test)
            else:
                pattern, rule = _CHECKS[name]
                if not pattern.fullmatch(value):
                    raise ParseError(f"must be {rule}", field=name)
                values[name] = value
        return values

    @staticmethod
    def _map(event: Event, values: dict[str, Any], pseudonym: str | None) -> None:
        block = event["event"]
        action, result = values["action"], values["result"]
        block["action"] = action
        block["category"] = ["database"]
        block["type"] = [_TYPE_BY_ACTION[action]]
        block["outcome"] = "success" if result == "success" else "failure"
        block["provider"] = values["system"]
        if result == "denied":
            block["reason"] = "access denied"
        user: dict[str, Any] = {"id": values["actor"]}
        if "actor_role" in values:
            user["roles"] = [values["actor_role"]]
        event["user"] = user
        extension = event.setdefault("dijkwacht", {})
        if "department" in values:
            extension["actor"] = {"department": values["department"]}
        subject: dict[str, Any] = {}
        if pseudonym is not None:
            subject["pseudonym"] = pseudonym
        if "record_type" in values:
            subject["record_type"] = values["record_type"]
        if subject:
            extension["subject"] = subject
        case: dict[str, Any] = {}
        if "case_ref" in values:
            case["reference"] = values["case_ref"]
        if "purpose" in values:
            case["purpose"] = values["purpose"]
        if case:
            extension["case"] = case
        if "channel" in values:
            extension["channel"] = values["channel"]
        if "record_count" in values:
            extension["record_count"] = values["record_count"]
