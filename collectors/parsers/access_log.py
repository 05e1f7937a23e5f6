"""Web access logs in the Apache/nginx "combined" and "common" formats.

One regex reads both (the referrer/user-agent pair is optional; fields some nginx setups append
after the user agent, such as `"$http_x_forwarded_for"`, are accepted and left in
`event.original`). Quoted fields may contain `\\"` (Apache) or `\\x22` (nginx) escapes; we keep
them as logged, since un-escaping would hide what a scanner actually sent.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta, timezone
from typing import Literal

from collectors.parsers.base import (
    ParseError,
    base_event,
    check_received_at,
    decode,
    finish,
    strip_line_end,
)
from collectors.parsers.timestamps import MONTHS
from core.events import Event

# Bounded: a user of up to 8 words and a time of up to 64 characters. Unbounded, each way
# to split the user was retried with a time scan to the end of the line: quadratic, 0.1 s
# for an 8 KiB line of "[ [ [", minutes for a 1 MiB one (found by bench/fuzz.py).
# Possessive (`*+`): a quoted field ends at its first unescaped quote, so there is nothing to
# backtrack into; a plain `*` made `re` keep a backtrack point per character (~300 bytes of
# memory per byte of a long quoted field, 300 MB for a 1 MiB line; tests/collectors/test_fuzz.py).
_QUOTED = r'"((?:[^"\\]|\\.)*+)"'
_LINE = re.compile(
    r"(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+(?: \S+){0,7}?) "
    r"\[(?P<time>[^\]]{1,64})\] "
    rf"{_QUOTED.replace('(', '(?P<request>', 1)} "
    r"(?P<status>[0-9]{3}) (?P<bytes>[0-9]+|-)"
    rf"(?: {_QUOTED.replace('(', '(?P<referrer>', 1)} {_QUOTED.replace('(', '(?P<agent>', 1)})?"
    r"(?P<extra>(?: (?:\"(?:[^\"\\\\]|\\\\.)*+\"|[^\s\"]++))*+) *",
    re.DOTALL,
)
_TIME = re.compile(
    r"([0-9]{2})/([A-Za-z]{3})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r" ([+-])([0-9]{2})([0-9]{2})"
)
_REQUEST = re.compile(r"([A-Za-z]{1,20}) (\S+) HTTP/([0-9](?:\.[0-9])?)")
_OFFSETS: dict[str, timezone] = {}


def _offset(sign: str, hours: str, minutes: str) -> timezone:
    key = sign + hours + minutes
    zone = _OFFSETS.get(key)
    if zone is None:
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        zone = timezone(-delta if sign == "-" else delta)
        if len(_OFFSETS) < 64:  # a handful of zones per site; bounded anyway
            _OFFSETS[key] = zone
    return zone


def parse_clf_time(text: str) -> datetime:
    """`10/Oct/2000:13:55:36 -0700` as an aware datetime."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ParseError("expected dd/Mmm/yyyy:hh:mm:ss +zzzz", field="@timestamp")
    day, month_name, year, hour, minute, second, sign, off_h, off_m = match.groups()
    month = MONTHS.get(month_name.lower())
    if month is None or int(off_h) > 23 or int(off_m) > 59:
        raise ParseError("unknown month or offset out of range", field="@timestamp")
    try:
        return datetime(
            int(year),
            month,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=_offset(sign, off_h, off_m),
        )
    except ValueError as exc:
        raise ParseError(f"impossible date or time ({exc})", field="@timestamp") from None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class AccessLogParser:
    """Combined/common access log lines; `flavour` picks the dataset (nginx.access, ...)."""

    def __init__(self, *, flavour: Literal["nginx", "apache"] = "nginx") -> None:
        if flavour not in ("nginx", "apache"):
            raise ValueError(f"unknown access log flavour {flavour!r}")
        self.name: str = flavour
        self.dataset = f"{flavour}.access"

    def parse(self, raw: bytes, *, received_at: datetime, source: str) -> Event:
        check_received_at(received_at)
        decoded = decode(strip_line_end(raw))
        text = decoded.text
        match = _LINE.fullmatch(text)
        if match is None:
            raise ParseError(
                "not a common/combined access log line (a field is missing or unterminated)",
                field="event.original",
            )
        timestamp = parse_clf_time(match.group("time"))
        event = base_event(
            timestamp=timestamp,
            received_at=received_at,
            dataset=self.dataset,
            decoded=decoded,
            raw=raw,
            source=source,
        )
        event["event"]["category"] = ["web"]
        event["event"]["type"] = ["access"]
        status = int(match.group("status"))
        if not 100 <= status <= 599:
            raise ParseError(f"status {status} out of range 100-599", field="http.response")
        event["event"]["outcome"] = "success" if status < 400 else "failure"

        client = match.group("client")
        if _is_ip(client):
            event["source"] = {"ip": client, "address": client}
        elif client != "-":
            event["source"] = {"domain": client, "address": client}
        user = match.group("user")
        if user != "-":
            event["user"] = {"name": user}

        http: dict[str, object] = {"response": {"status_code": status}}
        size = match.group("bytes")
        if len(size) > 18:  # int() refuses > 4300 digits with ValueError; ECS `long` is 64-bit
            raise ParseError(f"{len(size)} digits, too large", field="http.response.body.bytes")
        if size != "-":
            http["response"] = {"status_code": status, "body": {"bytes": int(size)}}
        request_line = match.group("request")
        request = _REQUEST.fullmatch(request_line)
        request_fields: dict[str, object] = {}
        if request is not None:
            method, target, version = request.groups()
            request_fields["method"] = method
            http["version"] = version
            self._url(event, target)
        elif request_line not in ("", "-"):
            # Garbage or a bare "HELP": keep it findable instead of guessing its parts.
            event["url"] = {"original": request_line}
        referrer = match.group("referrer")
        if referrer and referrer != "-":
            request_fields["referrer"] = referrer
        if request_fields:
            http["request"] = request_fields
        event["http"] = http
        agent = match.group("agent")
        if agent and agent != "-":
            event["user_agent"] = {"original": agent}
        return finish(event)

    @staticmethod
    def _url(event: Event, target: str) -> None:
        url: dict[str, str] = {"original": target}
        path, _, query = target.partition("?")
        path, _, fragment = path.partition("#")
        if path:
            url["path"] = path
        if query:
            url["query"] = query
        if fragment:
            url["fragment"] = fragment
        event["url"] = url
