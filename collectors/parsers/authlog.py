"""Linux auth.log / secure lines (sshd, PAM, sudo, su, useradd, passwd, dropbear).

A line is a BSD syslog line without PRI, or a journalctl line without a timestamp
(`host sshd[1]: ...`). Every such line becomes an event; the messages we recognise also get
`event.category`, `event.action`, `event.outcome` and the user/source fields. Unrecognised
messages are kept as plain events (not errors): the format is right, only the wording is new.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from collectors.parsers.base import (
    ParseError,
    base_event,
    check_received_at,
    decode,
    finish,
    strip_line_end,
)
from collectors.parsers.syslog import (
    Rfc5424Parser,
    looks_like_rfc5424,
    split_bsd,
    split_host_tag,
)
from collectors.parsers.timestamps import DEFAULT_FUTURE_TOLERANCE
from core.events import Event

_PREFIX = re.compile(r"(?:(?:error|fatal): |\[ID [0-9]+ [\w.]+\] )+")
_SUFFIX = " [preauth]"
_KV = re.compile(r"(\w+)=(\S*)")
_PAM_LAYOUT = re.compile(
    r"logname=\S* uid=\S* euid=\S* tty=\S* ruser=(?P<ruser>.*?) rhost=(?P<rhost>\S*)"
    r"(?:\s+user=(?P<user>.*))?"
)
_SUDO = re.compile(
    r"\s*(?P<user>\S+) : (?:(?P<reason>[^;]*?) ; )?TTY=(?P<tty>[^;]*?) ; PWD=(?P<pwd>[^;]*?)"
    r" ; USER=(?P<target>[^;]*?) ;(?: [A-Z]+=[^;]*? ;)* COMMAND=(?P<command>.*)"
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One recognised message: its pattern and what it means in ECS terms."""

    pattern: re.Pattern[str]
    action: str
    category: tuple[str, ...]
    type: tuple[str, ...]
    outcome: str | None


def _rule(pattern: str, action: str, category: str, kind: str, outcome: str | None) -> Rule:
    return Rule(
        re.compile(pattern), action, tuple(category.split(",")), tuple(kind.split(",")), outcome
    )


_FROM = r" from (?P<ip>\S+?)(?: port (?P<port>[0-9]+))?"
# Order matters: the first matching rule wins.
_RULES = (
    _rule(
        r"Accepted (?P<method>\S+) for (?P<user>.*?)" + _FROM + r"(?: ssh[12])?(?:: .*)?",
        "ssh_login", "authentication", "start", "success",
    ),
    _rule(
        r"Failed (?P<method>\S+) for (?:invalid user )?(?P<user>.*?)" + _FROM
        + r"(?: ssh[12])?(?:: .*)?",
        "ssh_login", "authentication", "info", "failure",
    ),
    _rule(r"Invalid user (?P<user>.*?)" + _FROM, "ssh_invalid_user", "authentication", "info",
          "failure"),
    _rule(r"input_userauth_request: invalid user (?P<user>.*)", "ssh_invalid_user",
          "authentication", "info", "failure"),
    _rule(r"PAM: [Aa]uthentication (?:failure|error) for (?:illegal user )?(?P<user>.*?)"
          r" from (?P<ip>\S+)(?: via \S+)?", "pam_authentication_failure", "authentication",
          "info", "failure"),
    _rule(r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?)"
          + _FROM + r"(?: ssh[12])?", "ssh_max_auth_attempts", "authentication", "info",
          "failure"),
    _rule(r"Disconnecting: Too many authentication failures(?: for (?P<user>.*))?",
          "ssh_max_auth_attempts", "authentication", "info", "failure"),
    _rule(r"User (?P<user>\S+)" + r"(?: from (?P<ip>\S+))? not allowed because .*",
          "ssh_user_not_allowed", "authentication", "info", "failure"),
    _rule(r"ROOT LOGIN REFUSED FROM (?P<ip>\S+?)(?: port (?P<port>[0-9]+))?",
          "ssh_root_login_refused", "authentication", "info", "failure"),
    _rule(r"(?:pam_unix(?:\([^)]*\))?:?|\(pam_unix\))? ?authentication failure; (?P<kv>.*)",
          "pam_authentication_failure", "authentication", "info", "failure"),
    _rule(r"PAM: User not known to the underlying authentication module for (?:illegal user )?"
          r"(?P<user>.*?) from (?P<ip>\S+)", "pam_authentication_failure", "authentication",
          "info", "failure"),
    _rule(r"pam_unix\((?P<service>[^:)]+):session\): session opened for user (?P<user>\S+?)"
          r"(?:\(uid=[0-9]+\))?(?: by (?P<by>\S*?)(?:\(uid=[0-9]+\))?)?", "session_opened",
          "session", "start", "success"),
    _rule(r"pam_unix\((?P<service>[^:)]+):session\): session closed for user (?P<user>\S+)",
          "session_closed", "session", "end", "success"),
    _rule(r"Disconnected from (?:(?:invalid|authenticating) user (?P<user>\S*) )?(?P<ip>\S+)"
          r" port (?P<port>[0-9]+)", "ssh_disconnect", "session", "end", None),
    _rule(r"Connection closed by (?:(?:invalid|authenticating) user (?P<user>\S*) )?"
          r"(?P<ip>\S+?)(?: port (?P<port>[0-9]+))?", "ssh_disconnect", "session", "end", None),
    _rule(r"Successful su for (?P<target>\S+) by (?P<user>\S+)", "su", "authentication",
          "info", "success"),
    _rule(r"FAILED su for (?P<target>\S+) by (?P<user>\S+)", "su", "authentication", "info",
          "failure"),
    _rule(r"'su (?P<target>\S+)' failed for (?P<user>\S+) on \S+", "su", "authentication",
          "info", "failure"),
    _rule(r"new user: name=(?P<target>[^,]+), UID=(?P<uid>[0-9]+), GID=[0-9]+.*", "user_created",
          "iam", "user,creation", "success"),
    _rule(r"new group: name=(?P<group>[^,]+), GID=(?P<gid>[0-9]+)", "group_created", "iam",
          "group,creation", "success"),
    _rule(r"delete user '(?P<target>[^']+)'", "user_deleted", "iam", "user,deletion", "success"),
    _rule(r"pam_unix\(passwd:chauthtok\): password changed for (?P<target>\S+)",
          "password_changed", "iam", "user,change", "success"),
    _rule(r"[Bb]ad password attempt for '(?P<user>[^']*)' from (?P<ip>\S+):(?P<port>[0-9]+)",
          "ssh_login", "authentication", "info", "failure"),
    _rule(r"[Ll]ogin attempt for nonexistent user from (?P<ip>\S+):(?P<port>[0-9]+)",
          "ssh_invalid_user", "authentication", "info", "failure"),
    _rule(r"Exit before auth \(user '(?P<user>[^']*)', [0-9]+ fails\): Max auth tries reached"
          r" - user '[^']*' from (?P<ip>\S+):(?P<port>[0-9]+)", "ssh_max_auth_attempts",
          "authentication", "info", "failure"),
    _rule(r"Password auth succeeded for '(?P<user>[^']*)' from (?P<ip>\S+):(?P<port>[0-9]+)",
          "ssh_login", "authentication", "start", "success"),
    _rule(r"Received disconnect from (?P<ip>[^\s]+?)(?: port (?P<port>[0-9]+))?: ?[0-9]+: .*",
          "ssh_disconnect", "session", "end", None),
    _rule(r"Connection reset by (?:(?:invalid|authenticating) user (?P<user>\S*) )?"
          r"(?P<ip>\S+?)(?: port (?P<port>[0-9]+))?", "ssh_disconnect", "session", "end", None),
    _rule(r"Disconnecting (?:invalid|authenticating) user (?P<user>\S*) (?P<ip>\S+) port "
          r"(?P<port>[0-9]+): .*", "ssh_disconnect", "session", "end", None),
    _rule(r"Connection from (?P<ip>\S+?)(?: port (?P<port>[0-9]+))?(?: on \S+ port [0-9]+.*)?",
          "ssh_connection", "network", "connection,start", None),
    _rule(r"Did not receive identification string from (?P<ip>\S+?)(?: port (?P<port>[0-9]+))?",
          "ssh_no_identification", "network", "connection", "failure"),
    _rule(r"Bad protocol version identification .* from (?P<ip>\S+?) port (?P<port>[0-9]+)",
          "ssh_bad_protocol", "network", "connection", "failure"),
    _rule(r"Unable to negotiate with (?P<ip>\S+?) port (?P<port>[0-9]+): .*",
          "ssh_negotiation_failed", "network", "connection", "failure"),
    _rule(r"Timeout before authentication for (?P<ip>\S+?) port (?P<port>[0-9]+)",
          "ssh_timeout", "network", "connection", "failure"),
    _rule(r"refused connect from \S+ \((?P<ip>[^)\s]+)\)", "tcpwrappers_refused", "network",
          "connection,denied", "failure"),
)  # fmt: skip


def _ip(text: str) -> str | None:
    """The address as an IP; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes plain IPv4."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else text


def _source(event: Event, address: str | None, port: str | None) -> None:
    if not address:
        return
    source: dict[str, Any] = {"address": address}
    ip = _ip(address)
    if ip is not None:
        source["ip"] = ip
        event.setdefault("related", {}).setdefault("ip", []).append(ip)
    else:
        source["domain"] = address
    if port and len(port) <= 5 and int(port) <= 65535:
        source["port"] = int(port)
    event["source"] = source


def _user(event: Event, role: str, name: str | None) -> None:
    """Record a user name as the actor ("name"), "target", "effective" or only "related"."""
    if not name:
        return
    if role != "related":
        node = event.setdefault("user", {})
        if role in ("target", "effective"):
            node = node.setdefault(role, {})
        node["name"] = name
    related = event.setdefault("related", {}).setdefault("user", [])
    if name not in related:
        related.append(name)


def _classify(event: Event, message: str) -> None:
    body = _PREFIX.sub("", message, count=1) if message[:1] in ("e", "f", "[") else message
    body = body.removesuffix(_SUFFIX).rstrip()
    sudo = _SUDO.fullmatch(body) if event.get("process", {}).get("name") == "sudo" else None
    if sudo is not None:
        _sudo(event, sudo)
        return
    for rule in _RULES:
        match = rule.pattern.fullmatch(body)
        if match is None:
            continue
        groups = match.groupdict()
        block = event["event"]
        block["action"] = rule.action
        block["category"] = list(rule.category)
        block["type"] = list(rule.type)
        if rule.outcome:
            block["outcome"] = rule.outcome
        if groups.get("kv") is not None:
            _pam_kv(event, groups["kv"])
        _user(event, "name", groups.get("user"))
        _user(event, "target", groups.get("target"))
        if groups.get("uid"):
            event["user"]["target"]["id"] = groups["uid"]
        if groups.get("group"):
            event["group"] = {"name": groups["group"], "id": groups["gid"]}
        if groups.get("by"):
            _user(event, "related", groups["by"])
        _source(event, groups.get("ip"), groups.get("port"))
        return


def _pam_kv(event: Event, text: str) -> None:
    # Anchored on PAM's fixed layout so a user name containing "rhost=..." cannot pick the
    # source address; the generic key=value reading is only the fallback.
    layout = _PAM_LAYOUT.fullmatch(text.rstrip())
    values = layout.groupdict() if layout else dict(_KV.findall(text))
    _user(event, "name", values.get("user") or values.get("ruser") or None)
    _source(event, values.get("rhost") or None, None)


def _sudo(event: Event, match: re.Match[str]) -> None:
    block = event["event"]
    block["action"] = "sudo"
    block["category"] = ["authentication"]
    block["type"] = ["info"]
    reason = match.group("reason")
    block["outcome"] = "failure" if reason else "success"
    if reason:
        block["reason"] = reason
    _user(event, "name", match.group("user"))
    _user(event, "effective", match.group("target"))
    process = event.setdefault("process", {})
    process["command_line"] = match.group("command")
    process["working_directory"] = match.group("pwd")


class AuthLogParser:
    """auth.log / secure lines; `tz` is the zone the writing host logs in."""

    name = "authlog"

    def __init__(
        self,
        *,
        tz: tzinfo = UTC,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
        dataset: str = "system.auth",
    ) -> None:
        self.tz = tz
        self.future_tolerance = future_tolerance
        self.dataset = dataset
        self._classify: Callable[[Event, str], None] = _classify
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
            if event.get("message"):
                self._classify(event, event["message"])
            return finish(event)
        parts = split_bsd(
            text, tz=self.tz, reference=received_at, future_tolerance=self.future_tolerance
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
        if hostname:
            event["host"] = {"hostname": hostname}
        if appname:
            process: dict[str, Any] = {"name": appname}
            if procid and procid.isascii() and procid.isdigit() and len(procid) <= 10:
                process["pid"] = int(procid)
            event["process"] = process
        if message:
            event["message"] = message
            self._classify(event, message)
        return finish(event)
