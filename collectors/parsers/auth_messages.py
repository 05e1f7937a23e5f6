"""What sshd, sudo, su, PAM and the shadow tools say, in ECS terms, for every transport.

The same message can arrive from a file (`authlog` parser) or over syslog (RFC 3164 / 5424,
UDP, TCP, RELP); either way it gets the same `event.action`, `event.outcome`, `user.*` and
`source.*` fields, so the SSH rules fire on forwarded logs as they do on files.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from core.events import Event

# Programs whose messages are authentication events; PAM lines are recognised by content.
AUTH_PROGRAMS = frozenset(
    {"sshd", "sudo", "su", "login", "dropbear", "passwd", "useradd", "userdel", "groupadd",
     "usermod", "chpasswd", "chage", "unix_chkpwd", "sshd-session"}
)  # fmt: skip
# log.syslog.facility.code of auth (4) and authpriv (10).
AUTH_FACILITIES = frozenset({4, 10})

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


def classify(event: Event, message: str) -> None:
    """Fill action, outcome, user and source fields for a recognised message; else nothing."""
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


def is_auth_message(appname: str | None, facility: int | None, message: str) -> bool:
    """Whether a syslog message is worth classifying: an auth program, facility or PAM text."""
    return (
        appname in AUTH_PROGRAMS
        or facility in AUTH_FACILITIES
        or message.startswith(("pam_", "(pam_", "PAM"))
    )


def classify_auth(event: Event, *, dataset: str = "system.auth") -> None:
    """Auth fields for an sshd/sudo/su/PAM message; a recognised one joins `dataset`."""
    message = event.get("message")
    if not message:
        return
    appname = event.get("process", {}).get("name")
    facility = event.get("log", {}).get("syslog", {}).get("facility", {}).get("code")
    if is_auth_message(appname, facility, message):
        classify(event, message)
        if "action" in event["event"]:
            event["event"]["dataset"] = dataset
