"""Syslog: RFC 5424 (strict) and RFC 3164 / BSD (tolerant of real-world variants).

RFC 5424 is parsed to the letter (field lengths, PRINTUSASCII header fields, SD escapes,
duplicate SD-IDs), with two documented leniencies: a backslash before any character other than
`"`, `\\` or `]` is kept literally (RFC 5424 §6.3.3 says so), and spaces after `=` in an SD-PARAM
are accepted (rsyslog accepts them and some senders write them). RFC 3164 has no grammar worth
the name; we accept what the vectors and real senders write: an optional PRI (13 when absent, as
RFC 3164 §4.3.3 says), "Mmm dd hh:mm:ss" with or without a year or fraction, or an ISO time,
an optional hostname and an optional `TAG[pid]:` (or `TAG[pid]` without the colon, as rsyslog
forwards a message it received as RFC 5424). The year comes from the reception time; a time
without an offset is read in the sender's zone (`syslog_sender_timezones`), else the collector's.

A message from sshd, sudo, su, PAM or the shadow tools gets the same ECS fields as the line would
from an auth.log file (`collectors.parsers.auth_messages`), whatever the transport.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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
    peer_host,
)
from collectors.parsers.timestamps import (
    DEFAULT_FUTURE_TOLERANCE,
    bsd_timestamp,
    parse_iso_loose,
    parse_rfc3339,
)
from core.events import Event

FACILITY_NAMES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITY_NAMES = (
    "Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug",
)  # fmt: skip
DEFAULT_PRIORITY = 13  # user.notice, what RFC 3164 §4.3.3 tells a relay to assume.
BOM = "\ufeff"

_PRI_VERSION = re.compile(r"<(0|[1-9][0-9]{0,2})>([1-9][0-9]{0,2}) ")
_LOOKS_5424 = re.compile(r"<[0-9]{1,3}>[0-9]{1,3}(?: |$)")
_PRINTUSASCII = re.compile(r"[!-~]+")
_SD_NAME = re.compile(r"[!#-<>-\\^-~]{1,32}")
_SD_VALUE = re.compile(r'"((?:[^"\\\]]|\\.)*)"', re.DOTALL)
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')
_HEADER_FIELDS = (("hostname", 255), ("appname", 48), ("procid", 128), ("msgid", 32))

_BSD_HEAD = re.compile(
    r"(?:<(?P<pri>0|[1-9][0-9]{0,2})>)?"
    r" ?(?:"
    r"(?P<mon>[A-Za-z]{3}) {1,2}(?P<day>[0-9]{1,2})(?: (?P<year>[0-9]{4}))?"
    r" (?P<clock>[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.(?P<frac>[0-9]{1,6}))?:?"
    r"|(?P<iso>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)"
    r")(?: |$)"
)
_PRI_ONLY = re.compile(r"<(0|[1-9][0-9]{0,2})>")
_TAG = re.compile(r"(?P<tag>[^\s\[\]:]{1,64})(?:\[(?P<pid>[^\]\s]{1,32})\])?:(?: |$)")
# Without the colon only the unmistakable `name[digits]` counts as a tag: a bare first word
# may as well be the message ("Use the BFG!"), as the go-syslog and rsyslog vectors show.
_TAG_PID = re.compile(r"(?P<tag>[^\s\[\]:]{1,64})\[(?P<pid>[0-9]{1,10})\](?: |$)")
_HOST = re.compile(r"[^\s]{1,255}")


@lru_cache(maxsize=1024)
def _timestamp(text: str) -> datetime:
    """RFC 5424 TIMESTAMP, memoised: a burst repeats the same few values (errors not cached)."""
    return parse_rfc3339(text, field="@timestamp")


def looks_like_rfc5424(text: str) -> bool:
    """`<PRI>VERSION SP` at the start: only RFC 5424 begins like that."""
    return _LOOKS_5424.match(text) is not None


def priority_fields(priority: int) -> dict[str, Any]:
    """The ECS `log.syslog` object for a PRI value (0-191): priority, facility, severity."""
    facility, severity = divmod(priority, 8)
    return {
        "priority": priority,
        "facility": {"code": facility, "name": FACILITY_NAMES[facility]},
        "severity": {"code": severity, "name": SEVERITY_NAMES[severity]},
    }


def _check_pri(value: str) -> int:
    priority = int(value)
    if priority > 191:
        raise ParseError(f"PRI {priority} out of range 0-191", field="log.syslog.priority")
    return priority


def _strip_trailer(text: str) -> str:
    """Drop the one trailing LF/CRLF/NUL many UDP senders append; it is not content."""
    return text.rstrip("\r\n\x00") if text[-1:] in ("\n", "\r", "\x00") else text


def _process_fields(event: Event, appname: str | None, procid: str | None) -> None:
    if appname:
        event.setdefault("process", {})["name"] = appname
    if procid and procid.isdigit() and procid.isascii() and len(procid) <= 10:
        event.setdefault("process", {})["pid"] = int(procid)


def _set_message(event: Event, message: str | None) -> None:
    if message:
        event["message"] = message


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
        text = _strip_trailer(decoded.text)
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
        _process_fields(event, parts.appname, parts.procid)
        _set_message(event, parts.message)
        classify_auth(event)
        return finish(event)

    def split(self, text: str) -> Rfc5424Parts:
        """Split a message step by step; ParseError names the field and offset that failed."""
        head = _PRI_VERSION.match(text)
        if head is None:
            raise self._head_error(text)
        priority = _check_pri(head.group(1))
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
        pri = _PRI_ONLY.match(text)
        if pri is None:
            return ParseError("expected <PRI> (0-191) at the start", field="log.syslog.priority")
        _check_pri(pri.group(1))
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


@dataclass(frozen=True, slots=True)
class BsdParts:
    """The pieces of a BSD syslog line; None where the line had no such part."""

    priority: int | None
    timestamp: datetime | None
    hostname: str | None
    appname: str | None
    procid: str | None
    message: str


def split_host_tag(rest: str) -> tuple[str | None, str | None, str | None, str]:
    """Split "[HOSTNAME ]TAG[pid]: MSG"; a first word that is a tag means no hostname."""
    hostname = appname = procid = None
    tag = _TAG.match(rest) or _TAG_PID.match(rest)
    if tag is None:
        host = _HOST.match(rest)
        if host is not None:
            hostname = host.group()
            rest = rest[host.end() + 1 :]
            tag = _TAG.match(rest) or _TAG_PID.match(rest)
    if tag is not None:
        appname, procid = tag.group("tag"), tag.group("pid")
        rest = rest[tag.end() :]
    return hostname, appname, procid, rest


def split_bsd(
    text: str,
    *,
    tz: tzinfo,
    reference: datetime,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    zones: Mapping[str, tzinfo] | None = None,
    peer: str = "",
) -> BsdParts | None:
    """Read `[<PRI>]TIMESTAMP [HOSTNAME ][TAG[pid]:] MSG`; None when neither PRI nor time.

    A time without an offset is read in `zones[peer]`, else `zones[HOSTNAME]`, else `tz`.
    """
    head = _BSD_HEAD.match(text)
    if head is None:
        pri = _PRI_ONLY.match(text)
        if pri is None:
            return None
        return BsdParts(_check_pri(pri.group(1)), None, None, None, None, text[pri.end() :])
    pri_text = head.group("pri")
    hostname, appname, procid, message = split_host_tag(text[head.end() :])
    if zones:
        tz = zones.get(peer) or zones.get(hostname or "") or tz
    if head.group("iso"):
        timestamp = parse_iso_loose(head.group("iso"), default_tz=tz, field="@timestamp")
    else:
        year = head.group("year")
        timestamp = bsd_timestamp(
            month_name=head.group("mon"),
            day=int(head.group("day")),
            clock=head.group("clock"),
            fraction=head.group("frac"),
            year=int(year) if year else None,
            tz=tz,
            reference=reference,
            future_tolerance=future_tolerance,
            field="@timestamp",
        )
    return BsdParts(
        None if pri_text is None else _check_pri(pri_text),
        timestamp,
        hostname,
        appname,
        procid,
        message,
    )


class Rfc3164Parser:
    """BSD syslog (RFC 3164) as real senders write it; see the module docstring."""

    name = "rfc3164"

    def __init__(
        self,
        *,
        tz: tzinfo = UTC,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
        dataset: str = "syslog",
        zones: Mapping[str, tzinfo] | None = None,
    ) -> None:
        self.tz = tz
        self.future_tolerance = future_tolerance
        self.dataset = dataset
        self.zones = dict(zones or {})

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        decoded = decode(raw)
        return self.parse_decoded(decoded, raw, received_at=received_at, source=source)

    def parse_decoded(
        self, decoded: Decoded, raw: bytes, *, received_at: datetime, source: str
    ) -> Event:
        text = _strip_trailer(decoded.text)
        parts = split_bsd(
            text,
            tz=self.tz,
            reference=received_at,
            future_tolerance=self.future_tolerance,
            zones=self.zones,
            peer=peer_host(source) if self.zones else "",
        )
        if parts is None:
            raise ParseError(
                "not syslog: neither <PRI> nor a timestamp at the start", field="message"
            )
        priority = DEFAULT_PRIORITY if parts.priority is None else parts.priority
        timestamp, hostname, appname, procid = (
            parts.timestamp,
            parts.hostname,
            parts.appname,
            parts.procid,
        )
        rest = parts.message

        event = base_event(
            timestamp=timestamp,
            received_at=received_at,
            dataset=self.dataset,
            decoded=decoded,
            raw=raw,
            source=source,
        )
        syslog = priority_fields(priority)
        if hostname:
            syslog["hostname"] = hostname
        host_fields(event, hostname)
        if appname:
            syslog["appname"] = appname
        if procid:
            syslog["procid"] = procid
        event["log"] = {"syslog": syslog}
        _process_fields(event, appname, procid)
        _set_message(event, rest)
        classify_auth(event)
        return finish(event)


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
