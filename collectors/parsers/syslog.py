"""Syslog: RFC 5424 (strict) and RFC 3164 / BSD (tolerant of real-world variants).

RFC 5424 is parsed to the letter (field lengths, PRINTUSASCII header fields, SD escapes,
duplicate SD-IDs), with two documented leniencies: a backslash before any character other than
`"`, `\\` or `]` is kept literally (RFC 5424 §6.3.3 says so), and spaces after `=` in an SD-PARAM
are accepted (rsyslog accepts them and some senders write them). RFC 3164 is read in
`collectors.parsers.rfc3164`; `SyslogParser` here tells the two apart by their first bytes.

A message from sshd, sudo, su, PAM or the shadow tools gets the same ECS fields as the line would
from an auth.log file (`collectors.parsers.auth_messages`), whatever the transport.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple

from collectors.parsers.auth_messages import classify_auth
from collectors.parsers.base import (
    Decoded,
    ParseError,
    base_event,
    check_received_at,
    decode,
    finish,
    host_fields,
)
from collectors.parsers.rfc3164 import Rfc3164Parser
from collectors.parsers.syslog_fields import (
    BOM,
    PRI_ONLY,
    check_pri,
    priority_fields,
    process_fields,
    set_message,
    strip_trailer,
)
from collectors.parsers.timestamps import DEFAULT_FUTURE_TOLERANCE, parse_rfc3339
from core.events import Event

_PRI_VERSION = re.compile(r"<(0|[1-9][0-9]{0,2})>([1-9][0-9]{0,2}) ")
_LOOKS_5424 = re.compile(r"<[0-9]{1,3}>[0-9]{1,3}(?: |$)")
_PRINTUSASCII = re.compile(r"[!-~]+")
_SD_NAME = re.compile(r"[!#-<>-\\^-~]{1,32}")
_SD_VALUE = re.compile(r'"((?:[^"\\\]]|\\.)*)"', re.DOTALL)
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')
_HEADER_FIELDS = (("hostname", 255), ("appname", 48), ("procid", 128), ("msgid", 32))


@lru_cache(maxsize=1024)
def _timestamp(text: str) -> datetime:
    """RFC 5424 TIMESTAMP, memoised: a burst repeats the same few values (errors not cached)."""
    return parse_rfc3339(text, field="@timestamp")


def looks_like_rfc5424(text: str) -> bool:
    """`<PRI>VERSION SP` at the start: only RFC 5424 begins like that."""
    return _LOOKS_5424.match(text) is not None


class Rfc5424Parts(NamedTuple):
    """The pieces of an RFC 5424 message (header values None where the message has `-`).

    A NamedTuple: built once per message on the hot path (see `collectors.parsers.Decoded`).
    """

    priority: int
    version: str
    timestamp: str
    hostname: str | None
    appname: str | None
    procid: str | None
    msgid: str | None
    structured: dict[str, Any]
    message: str


# The common shape in one match: header fields of printable US-ASCII within their RFC 5424
# lengths, no STRUCTURED-DATA (`-`), then nothing or a space and MSG. Whatever it does not
# match goes through the strict step-by-step split, which also names the field of an error.
_COMMON_5424 = re.compile(
    r"<(0|[1-9][0-9]{0,2})>([1-9][0-9]{0,2}) ([^ ]+) ([!-~]{1,255}) ([!-~]{1,48}) "
    r"([!-~]{1,128}) ([!-~]{1,32}) -(?: (.*))?",
    re.DOTALL,
)


def split_common_5424(text: str) -> Rfc5424Parts | None:
    """The fast path: the parts of a message in the common shape, else None (never raises).

    Gives exactly what `Rfc5424Parser.split` gives for such a message (a property test holds
    the two to that); the timestamp is returned unparsed, as there.
    """
    match = _COMMON_5424.fullmatch(text)
    if match is None:
        return None
    pri, version, timestamp, hostname, appname, procid, msgid, message = match.groups()
    priority = int(pri)
    if priority > 191:
        return None
    return Rfc5424Parts(
        priority,
        version,
        timestamp,
        None if hostname == "-" else hostname,
        None if appname == "-" else appname,
        None if procid == "-" else procid,
        None if msgid == "-" else msgid,
        {},
        message[1:] if message and message.startswith(BOM) else message or "",
    )


class Rfc5424Parser:
    """RFC 5424 messages, strictly (the leniencies are listed in the module docstring)."""

    name = "rfc5424"

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        decoded = decode(raw)
        return self.parse_decoded(decoded, raw, received_at=received_at, source=source)

    def parse_decoded(
        self, decoded: Decoded, raw: bytes, *, received_at: datetime, source: str
    ) -> Event:
        text = strip_trailer(decoded.text)
        parts = split_common_5424(text) or self.split(text)
        timestamp = None if parts.timestamp == "-" else _timestamp(parts.timestamp)
        event = base_event(
            timestamp=timestamp,
            received_at=received_at,
            dataset="syslog",
            decoded=decoded,
            raw=raw,
            source=source,
        )
        syslog = priority_fields(parts.priority)
        syslog["version"] = parts.version
        for key, item in (
            ("hostname", parts.hostname),
            ("appname", parts.appname),
            ("procid", parts.procid),
            ("msgid", parts.msgid),
        ):
            if item is not None:
                syslog[key] = item
        if parts.structured:
            syslog["structured_data"] = parts.structured
        event["log"] = {"syslog": syslog}
        host_fields(event, parts.hostname)
        process_fields(event, parts.appname, parts.procid)
        set_message(event, parts.message)
        classify_auth(event)
        return finish(event)

    def split(self, text: str) -> Rfc5424Parts:
        """Split a message step by step; ParseError names the field and offset that failed."""
        head = _PRI_VERSION.match(text)
        if head is None:
            raise self._head_error(text)
        priority = check_pri(head.group(1))
        pos = head.end()
        ts_end = text.find(" ", pos)
        if ts_end < 0:
            raise ParseError("truncated after TIMESTAMP", field="@timestamp", offset=pos)
        ts_text = text[pos:ts_end]
        if ts_text != "-":
            _timestamp(ts_text)  # a bad TIMESTAMP is reported before a bad header field
        pos = ts_end + 1
        header: list[str | None] = []
        for name, limit in _HEADER_FIELDS:
            end = text.find(" ", pos)
            if end < 0:
                raise ParseError("truncated header", field=f"log.syslog.{name}", offset=pos)
            value = text[pos:end]
            if not _PRINTUSASCII.fullmatch(value) or len(value) > limit:
                raise ParseError(
                    f"must be 1-{limit} printable US-ASCII characters or '-'",
                    field=f"log.syslog.{name}",
                    offset=pos,
                )
            header.append(None if value == "-" else value)
            pos = end + 1
        structured, pos = self._structured_data(text, pos)
        if pos < len(text):
            if text[pos] != " ":
                raise ParseError(
                    "expected a space before MSG", field="log.syslog.structured_data", offset=pos
                )
            pos += 1
        message = text[pos:]
        if message.startswith(BOM):
            message = message[1:]
        hostname, appname, procid, msgid = header
        return Rfc5424Parts(
            priority,
            head.group(2),
            ts_text,
            hostname,
            appname,
            procid,
            msgid,
            structured,
            message,
        )

    @staticmethod
    def _head_error(text: str) -> ParseError:
        pri = PRI_ONLY.match(text)
        if pri is None:
            return ParseError("expected <PRI> (0-191) at the start", field="log.syslog.priority")
        check_pri(pri.group(1))
        return ParseError(
            "expected VERSION (1-999) and a space after <PRI>",
            field="log.syslog.version",
            offset=pri.end(),
        )

    @staticmethod
    def _structured_data(text: str, pos: int) -> tuple[dict[str, Any], int]:
        """Parse STRUCTURED-DATA at `pos`; returns {sd-id: {name: value}} and the end."""
        field = "log.syslog.structured_data"
        if text.startswith("-", pos):
            return {}, pos + 1
        if not text.startswith("[", pos):
            raise ParseError("expected '-' or '['", field=field, offset=pos)
        elements: dict[str, Any] = {}
        while text.startswith("[", pos):
            sd_id = _SD_NAME.match(text, pos + 1)
            if sd_id is None:
                raise ParseError("expected an SD-ID (1-32 characters)", field=field, offset=pos)
            if sd_id.group() in elements:
                raise ParseError("duplicate SD-ID", field=field, offset=pos + 1)
            params: dict[str, Any] = {}
            pos = sd_id.end()
            while text.startswith(" ", pos):
                name = _SD_NAME.match(text, pos + 1)
                if name is None or not text.startswith("=", name.end()):
                    raise ParseError(
                        'expected PARAM-NAME="value" (name 1-32 characters)',
                        field=field,
                        offset=pos + 1,
                    )
                value_at = name.end() + 1
                while text.startswith(" ", value_at):  # leniency: `name= "value"`
                    value_at += 1
                value = _SD_VALUE.match(text, value_at)
                if value is None:
                    bad = text.find("]", value_at)
                    reason = (
                        "unescaped ']' in PARAM-VALUE"
                        if text.startswith('"', value_at) and bad >= 0
                        else "expected a quoted PARAM-VALUE"
                    )
                    raise ParseError(reason, field=field, offset=value_at)
                unescaped = value.group(1)
                if "\\" in unescaped:
                    unescaped = _SD_UNESCAPE.sub(r"\1", unescaped)
                key = name.group()
                if key in params:  # RFC 5424 allows a repeated PARAM-NAME: keep every value.
                    previous = params[key]
                    params[key] = (
                        [*previous, unescaped]
                        if isinstance(previous, list)
                        else [
                            previous,
                            unescaped,
                        ]
                    )
                else:
                    params[key] = unescaped
                pos = value.end()
            if not text.startswith("]", pos):
                raise ParseError("expected ']' to close the SD-ELEMENT", field=field, offset=pos)
            elements[sd_id.group()] = params
            pos += 1
        return elements, pos


class SyslogParser:
    """Either syslog flavour: `<PRI>VERSION SP` means RFC 5424, anything else RFC 3164."""

    name = "syslog"

    def __init__(
        self,
        *,
        tz: tzinfo = UTC,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
        zones: Mapping[str, tzinfo] | None = None,
    ) -> None:
        self._rfc5424 = Rfc5424Parser()
        self._rfc3164 = Rfc3164Parser(tz=tz, future_tolerance=future_tolerance, zones=zones)

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        decoded = decode(raw)
        parser: Rfc5424Parser | Rfc3164Parser = (
            self._rfc5424 if looks_like_rfc5424(decoded.text) else self._rfc3164
        )
        return parser.parse_decoded(decoded, raw, received_at=received_at, source=source)
