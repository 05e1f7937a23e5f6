"""Syslog RFC 3164 / BSD, tolerant of real-world variants.

RFC 3164 has no grammar worth the name; we accept what the vectors and real senders write: an
optional PRI (13 when absent, as RFC 3164 §4.3.3 says), "Mmm dd hh:mm:ss" with or without a year
or fraction, or an ISO time, an optional hostname and an optional `TAG[pid]:` (or `TAG[pid]`
without the colon, as rsyslog forwards a message it received as RFC 5424). The year comes from
the reception time; a time without an offset is read in the sender's zone
(`syslog_sender_timezones`), else the collector's. Auth messages get their ECS fields as in
`collectors.parsers.syslog`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

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
from collectors.parsers.syslog_fields import (
    DEFAULT_PRIORITY,
    PRI_ONLY,
    check_pri,
    priority_fields,
    process_fields,
    set_message,
    strip_trailer,
)
from collectors.parsers.timestamps import DEFAULT_FUTURE_TOLERANCE, bsd_timestamp, parse_iso_loose
from core.events import Event

_BSD_HEAD = re.compile(
    r"(?:<(?P<pri>0|[1-9][0-9]{0,2})>)?"
    r" ?(?:"
    r"(?P<mon>[A-Za-z]{3}) {1,2}(?P<day>[0-9]{1,2})(?: (?P<year>[0-9]{4}))?"
    r" (?P<clock>[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.(?P<frac>[0-9]{1,6}))?:?"
    r"|(?P<iso>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)"
    r")(?: |$)"
)
_TAG = re.compile(r"(?P<tag>[^\s\[\]:]{1,64})(?:\[(?P<pid>[^\]\s]{1,32})\])?:(?: |$)")
# Without the colon only the unmistakable `name[digits]` counts as a tag: a bare first word
# may as well be the message ("Use the BFG!"), as the go-syslog and rsyslog vectors show.
_TAG_PID = re.compile(r"(?P<tag>[^\s\[\]:]{1,64})\[(?P<pid>[0-9]{1,10})\](?: |$)")
_HOST = re.compile(r"[^\s]{1,255}")


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
        pri = PRI_ONLY.match(text)
        if pri is None:
            return None
        return BsdParts(check_pri(pri.group(1)), None, None, None, None, text[pri.end() :])
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
        None if pri_text is None else check_pri(pri_text),
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
        text = strip_trailer(decoded.text)
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
        process_fields(event, appname, procid)
        set_message(event, rest)
        classify_auth(event)
        return finish(event)
