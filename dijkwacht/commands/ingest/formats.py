"""The formats `dijkwacht ingest` reads and how `auto` tells them apart.

`auto` picks a reader per file by its content (`sniff_format`): EVTX and pcap by their magic
bytes, text by what its first lines look like; a file it cannot place is refused with the
`--format` choices, never dead-lettered line by line under a wrong guess.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson

from collectors.service import APP_AUDIT_FIELDS, AUTH_PROGRAMS, PARSER_NAMES

FILE_FORMATS = ("evtx", "pcap")
EXTENSIONS = {".evtx": "evtx", ".pcap": "pcap", ".pcapng": "pcap", ".cap": "pcap"}
FORMATS = ("auto", *PARSER_NAMES, *FILE_FORMATS)


# What each --format reads, for the hint printed when `auto` cannot tell.
FORMAT_HELP = {
    "ecs-json": "JSON lines of complete ECS events",
    "json": "JSON lines: ECS-like objects, or any object with a `timestamp` field",
    "syslog": "RFC 5424 or RFC 3164 syslog lines",
    "authlog": "Linux auth.log / secure (sshd, sudo, su, PAM)",
    "nginx": "nginx access log (combined or common format)",
    "apache": "Apache access log (combined or common format)",
    "app-audit-json": "municipal application audit log, JSON lines",
    "app-audit-csv": "municipal application audit log, CSV with a header row",
    "ldv": "Logboek Dataverwerkingen records, JSON lines (docs/ldv.md)",
    "evtx": "Windows event log file (.evtx)",
    "pcap": "packet capture (pcap or pcapng)",
}
SNIFF_LINES = 50  # non-blank lines looked at
SNIFF_LINE_BYTES = 64 * 1024  # a longer line is passed over (a runaway is no evidence)
SNIFF_BUDGET_BYTES = 8 * 1024 * 1024  # most read while looking
_MAGIC = (
    (b"ElfFile\x00", "evtx"),
    (b"\xd4\xc3\xb2\xa1", "pcap"),
    (b"\xa1\xb2\xc3\xd4", "pcap"),
    (b"\x4d\x3c\xb2\xa1", "pcap"),
    (b"\xa1\xb2\x3c\x4d", "pcap"),
    (b"\x0a\x0d\x0d\x0a", "pcap"),
)
_SYSLOG_PRI = re.compile(r"<[0-9]{1,3}>")
_ACCESS = re.compile(
    r'\S+ \S+ .{1,200}? \[[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}\] "'
)
_BSD_TIME = re.compile(
    r"(?:[A-Za-z]{3} [ 0-9]?[0-9] (?:[0-9]{4} )?[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,}\S*) "
)
# HOSTNAME then `prog[pid]:` or `prog:`, as syslog daemons write files (and journalctl without
# a time); group 1 is the program.
_HOST_TAG = re.compile(r"[^\s\[\]]+ ([^\s\[\]:]{1,64})(?:\[[0-9]+\])?: ")
_AUTH_NAME = re.compile(r"auth|secure", re.IGNORECASE)
_APACHE_NAME = re.compile(r"apache|httpd", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The format `auto` chose for a file and why, in words for the user."""

    format: str
    why: str


def sniff_file(path: Path) -> Sniffed | None:
    """The format of the file at `path` by its content; None when it does not tell.

    Raises OSError when the file cannot be read.
    """
    with path.open("rb") as handle:
        head = handle.read(16)
        handle.seek(0)
        lines: list[str] = []
        budget = SNIFF_BUDGET_BYTES
        while len(lines) < SNIFF_LINES and budget > 0:
            raw = handle.readline(SNIFF_LINE_BYTES + 1)
            if not raw:
                break
            budget -= len(raw)
            if len(raw) > SNIFF_LINE_BYTES:
                while raw and not raw.endswith(b"\n") and budget > 0:  # skip the runaway
                    raw = handle.readline(SNIFF_LINE_BYTES)
                    budget -= len(raw)
                continue
            lines.append(raw.decode("utf-8", errors="replace"))
    return sniff_format(path, head, lines)


def sniff_format(path: Path, head: bytes, lines: list[str]) -> Sniffed | None:
    """The format of a file from its first bytes `head` and first `lines` (and its name where
    content is mute).

    Binary formats by magic bytes (then by extension: a damaged EVTX is still EVTX); text by
    the kind most of the first lines have, comment lines (`#`) aside. None: cannot tell.
    """
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return Sniffed(name, f"{name.upper()} magic bytes")
    by_extension = EXTENSIONS.get(path.suffix.lower())
    if by_extension is not None:
        return Sniffed(by_extension, f"file extension {path.suffix}")
    if any("\x00" in line for line in lines):
        return None
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return None
    kinds = Counter(_line_kind(line) for line in lines)
    if kinds["json"] and kinds["ecs-json"]:  # `json` also reads (and completes) ECS events
        kinds["json"] += kinds.pop("ecs-json")
    kind, count = kinds.most_common(1)[0]
    if kind is None or count * 2 < len(lines):
        return None
    share = f"{count} of the first {len(lines)} lines"
    if kind == "access":
        name = "apache" if _APACHE_NAME.search(path.name) else "nginx"
        return Sniffed(name, f"{share} are web access log lines")
    if kind == "bsd":
        auth = sum(_is_auth_line(line) for line in lines)
        if auth * 2 >= len(lines) or _AUTH_NAME.search(path.name):
            return Sniffed("authlog", f"{share} are syslog lines, {auth} from auth programs")
        return Sniffed("syslog", f"{share} are BSD syslog lines")
    if kind == "app-audit-csv" and not lines[0].startswith("time,"):
        return None
    return Sniffed(kind, f"{share} are {FORMAT_HELP[kind]}")


def _line_kind(line: str) -> str | None:
    """What one text line looks like: a format name, `access`, `bsd`, or None."""
    stripped = line.strip()
    if stripped.startswith("{"):
        return _json_kind(stripped)
    if _SYSLOG_PRI.match(stripped):
        return "syslog"
    if _ACCESS.match(stripped):
        return "access"
    if _BSD_TIME.match(stripped) or _HOST_TAG.match(stripped):
        return "bsd"
    if stripped.count(",") == len(APP_AUDIT_FIELDS) - 1 and (
        stripped.startswith("time,") or stripped[:1].isdigit()
    ):
        return "app-audit-csv"
    return None


def _json_kind(line: str) -> str | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    event = obj.get("event")
    if "@timestamp" in obj and isinstance(event, dict):
        return "ecs-json" if event.get("original") and event.get("dataset") else "json"
    if {"time", "system", "actor", "action", "result"} <= obj.keys():
        return "app-audit-json"
    if {"trace_id", "span_id", "start_time", "attributes"} <= obj.keys():
        return "ldv"
    if "timestamp" in obj:
        return "json"
    return None


def _is_auth_line(line: str) -> bool:
    rest = _BSD_TIME.sub("", line.strip(), count=1)
    tag = _HOST_TAG.match(rest)
    return tag is not None and (tag.group(1) in AUTH_PROGRAMS or "pam_" in rest)


def format_choices() -> str:
    """The --format names with what each reads, one per line, for a hint."""
    return "\n".join(f"  --format {name:<15} {text}" for name, text in FORMAT_HELP.items())
