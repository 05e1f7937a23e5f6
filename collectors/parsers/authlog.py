"""Linux auth.log / secure lines (sshd, PAM, sudo, su, useradd, passwd, dropbear).

A line is a BSD syslog line without PRI, or a journalctl line without a timestamp
(`host sshd[1]: ...`). Every such line becomes an event; the messages we recognise also get
`event.category`, `event.action`, `event.outcome` and the user/source fields. Unrecognised
messages are kept as plain events (not errors): the format is right, only the wording is new.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from collectors.parsers.auth_messages import classify
from collectors.parsers.base import (
    ParseError,
    base_event,
    check_received_at,
    decode,
    finish,
    host_fields,
    peer_host,
    strip_line_end,
)
from collectors.parsers.rfc3164 import split_bsd, split_host_tag
from collectors.parsers.syslog import Rfc5424Parser, looks_like_rfc5424
from collectors.parsers.timestamps import DEFAULT_FUTURE_TOLERANCE
from core.events import Event


class AuthLogParser:
    """auth.log / secure lines; `tz` is the zone the writing host logs in."""

    name = "authlog"

    def __init__(
        self,
        *,
        tz: tzinfo = UTC,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
        dataset: str = "system.auth",
        zones: Mapping[str, tzinfo] | None = None,
    ) -> None:
        self.tz = tz
        self.future_tolerance = future_tolerance
        self.dataset = dataset
        self.zones = dict(zones or {})
        self._classify: Callable[[Event, str], None] = classify
        self._rfc5424 = Rfc5424Parser()

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        line = strip_line_end(raw)
        decoded = decode(line)
        text = decoded.text
        if looks_like_rfc5424(text):
            event = self._rfc5424.parse_decoded(
                decoded, line, received_at=received_at, source=source
            )
            event["event"]["dataset"] = self.dataset
            if event.get("message") and "action" not in event["event"]:  # not yet classified
                self._classify(event, event["message"])
            return finish(event)
        parts = split_bsd(
            text,
            tz=self.tz,
            reference=received_at,
            future_tolerance=self.future_tolerance,
            zones=self.zones,
            peer=peer_host(source) if self.zones else "",
        )
        if parts is not None:
            timestamp, hostname = parts.timestamp, parts.hostname
            appname, procid, message = parts.appname, parts.procid, parts.message
        else:
            # journalctl's short format has no time; then a process tag is required.
            timestamp = None
            hostname, appname, procid, message = split_host_tag(text)
            if appname is None:
                raise ParseError(
                    "not an auth log line: no timestamp and no 'process[pid]:' tag",
                    field="process.name",
                )
        event = base_event(
            timestamp=timestamp,
            received_at=received_at,
            dataset=self.dataset,
            decoded=decoded,
            raw=raw,
            source=source,
        )
        host_fields(event, hostname)
        if appname:
            process: dict[str, Any] = {"name": appname}
            if procid and procid.isascii() and procid.isdigit() and len(procid) <= 10:
                process["pid"] = int(procid)
            event["process"] = process
        if message:
            event["message"] = message
            self._classify(event, message)
        return finish(event)
