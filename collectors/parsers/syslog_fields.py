"""What both syslog flavours share: PRI values and their names, and the fields every message
gets (`log.syslog` priority, facility and severity; process name and pid; the message)."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.base import ParseError
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
PRI_ONLY = re.compile(r"<(0|[1-9][0-9]{0,2})>")  # `<PRI>` at the start, whatever follows


def priority_fields(priority: int) -> dict[str, Any]:
    """The ECS `log.syslog` object for a PRI value (0-191): priority, facility, severity."""
    facility, severity = divmod(priority, 8)
    return {
        "priority": priority,
        "facility": {"code": facility, "name": FACILITY_NAMES[facility]},
        "severity": {"code": severity, "name": SEVERITY_NAMES[severity]},
    }


def check_pri(value: str) -> int:
    priority = int(value)
    if priority > 191:
        raise ParseError(f"PRI {priority} out of range 0-191", field="log.syslog.priority")
    return priority


def strip_trailer(text: str) -> str:
    """Drop the one trailing LF/CRLF/NUL many UDP senders append; it is not content."""
    return text.rstrip("\r\n\x00") if text[-1:] in ("\n", "\r", "\x00") else text


def process_fields(event: Event, appname: str | None, procid: str | None) -> None:
    if appname:
        event.setdefault("process", {})["name"] = appname
    if procid and procid.isdigit() and procid.isascii() and len(procid) <= 10:
        event.setdefault("process", {})["pid"] = int(procid)


def set_message(event: Event, message: str | None) -> None:
    if message:
        event["message"] = message
