"""Readers for `dijkwacht ingest`: each turns a binary file into `Record`s.

A `Record` is either an event or the reason the raw bytes are not one, so the command stores
valid events and dead-letters the rest with file, line, byte offset and reason. ECS JSON is
read here; every other line format goes through the collectors' parser registry (the same
parsers the syslog server and the file tailer use), EVTX and pcap/pcapng through their
collectors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from collectors.service import PARSER_NAMES, HeaderRow, ParseError, get_parser, zone_options
from core.errors import ValidationError
from core.events import Event, validate_event
from core.store.base import DeadLetter

if TYPE_CHECKING:
    from core.config import Settings


# One line longer than this is not an event but a runaway (a binary file, a missing newline);
# it is dead-lettered instead of being read into memory whole.
MAX_LINE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    """One unit a reader found: an event, or the reason the raw bytes are not one."""

    line: int
    offset: int
    raw: bytes
    event: Event | None = None
    reason: str | None = None
    raw_length: int | None = None
    damaged: bool = False  # a damaged part of a binary file (EVTX chunk or record, pcap block)


Reader = Callable[[BinaryIO], Iterator[Record]]


def read_ecs_json(handle: BinaryIO) -> Iterator[Record]:
    """JSON lines, one ECS event per line; blank lines are skipped."""
    offset = 0
    line_no = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        start = offset
        offset += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            length = len(raw)
            while raw and not raw.endswith(b"\n"):  # skip the rest of the runaway line
                more = handle.readline(MAX_LINE_BYTES)
                if not more:
                    break
                length += len(more)
                offset += len(more)
                raw = more
            yield Record(
                line_no,
                start,
                raw=b"",
                reason=f"line longer than {MAX_LINE_BYTES} bytes ({length} bytes)",
                raw_length=length,
            )
            continue
        body = raw.rstrip(b"\r\n")
        if not body.strip():
            continue
        yield _parse_ecs_line(line_no, start, body)


def _parse_ecs_line(line_no: int, offset: int, body: bytes) -> Record:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(line_no, offset, body, reason=f"invalid UTF-8 at byte {exc.start}")
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Record(line_no, offset, body, reason=f"bad JSON: {exc}")
    try:
        validate_event(event)
    except ValidationError as exc:
        return Record(line_no, offset, body, reason=f"invalid event: {exc}")
    return Record(line_no, offset, body, event=event)


READERS: dict[str, Reader] = {"ecs-json": read_ecs_json}


def reader_for(fmt: str, *, settings: Settings) -> Reader | None:
    """A reader for a parser name, `evtx` or `pcap`; None for formats this module lacks.

    Raises core.errors.ConfigError when the parser cannot be built.
    """
    if fmt == "evtx":
        return _read_evtx
    if fmt == "pcap":
        return _read_pcap
    if fmt not in PARSER_NAMES:
        return None
    options: dict[str, Any] = zone_options(settings)
    if fmt.startswith("app-audit-") or fmt == "ldv":
        from core.privacy.service import Pseudonymiser

        options["pseudonymiser"] = Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))
    parser = get_parser(fmt, **options)

    def read(handle: BinaryIO) -> Iterator[Record]:
        return _read_lines(handle, parser=parser, source=_source(handle))

    return read


def _source(handle: BinaryIO) -> str:
    return f"file:{getattr(handle, 'name', 'stdin')}"


def _read_lines(handle: BinaryIO, *, parser: Any, source: str) -> Iterator[Record]:
    """One record per line through `parser`; runaway lines are skipped, not held in memory."""
    redact = getattr(parser, "redact", None)
    offset = 0
    line_no = 0
    now = datetime.now(UTC)
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        start = offset
        offset += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            head, length = raw[:256], len(raw)
            while not raw.endswith(b"\n"):
                raw = handle.readline(MAX_LINE_BYTES)
                if not raw:
                    break
                length += len(raw)
                offset += len(raw)
            reason = f"line longer than {MAX_LINE_BYTES} bytes ({length} bytes)"
            kept = redact(head) if callable(redact) else head
            yield Record(line_no, start, raw=kept, reason=reason, raw_length=length)
            continue
        if not raw.strip():
            continue
        if line_no % 4096 == 0:
            now = datetime.now(UTC)
        try:
            event = parser.parse(raw, received_at=now, source=source)
        except HeaderRow:
            continue
        except ParseError as exc:
            body = raw.rstrip(b"\r\n")
            kept = redact(body) if callable(redact) else body
            yield Record(line_no, start, raw=kept, reason=str(exc))
            continue
        yield Record(line_no, start, raw=raw.rstrip(b"\r\n"), event=event)


def _records(items: Iterator[Any], handle: BinaryIO) -> Iterator[Record]:
    """Events and DeadLetters of a file collector as Records (number = position in the file)."""
    for number, item in enumerate(items, start=1):
        if isinstance(item, DeadLetter):
            yield Record(
                number,
                item.offset or 0,
                raw=item.raw,
                reason=item.reason,
                raw_length=item.raw_length,
                damaged=True,
            )
        else:
            yield Record(number, handle.tell(), raw=b"", event=item)


def _read_pcap(handle: BinaryIO) -> Iterator[Record]:
    from collectors.processes import read_capture

    return _records(read_capture(handle, source=_source(handle)), handle)


def _read_evtx(handle: BinaryIO) -> Iterator[Record]:
    from collectors.processes import read_evtx

    return _records(read_evtx(handle, source=_source(handle)), handle)
