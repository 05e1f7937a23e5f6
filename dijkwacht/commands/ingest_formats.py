"""Readers for `dijkwacht ingest` beyond ECS JSON: every parser format, EVTX and pcap.

Line formats go through the collectors' parser registry (the same parsers the syslog server
and the file tailer use); EVTX and pcap/pcapng through their collectors. Each reader yields the
`Record`s `dijkwacht.commands.events` stores or dead-letters. `auto` picks a reader per file by
extension (.evtx, .pcap/.pcapng/.cap) and falls back to ECS JSON lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from collectors.parsers import PARSER_NAMES, HeaderRow, ParseError, get_parser, zone_options
from core.store.base import DeadLetter

if TYPE_CHECKING:
    from core.config import Settings
    from dijkwacht.commands.events import Record

Reader = Callable[[BinaryIO], Iterator["Record"]]
FILE_FORMATS = ("evtx", "pcap")
EXTENSIONS = {".evtx": "evtx", ".pcap": "pcap", ".pcapng": "pcap", ".cap": "pcap"}
FORMATS = ("auto", *PARSER_NAMES, *FILE_FORMATS)


def detect_format(path: Path, default: str = "ecs-json") -> str:
    """The format a file's extension implies (`x.pcapng` -> pcap), else `default`."""
    return EXTENSIONS.get(path.suffix.lower(), default)


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
    if fmt.startswith("app-audit-"):
        from collectors.pseudonym import Pseudonymiser

        options["pseudonymiser"] = Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))
    parser = get_parser(fmt, **options)

    def read(handle: BinaryIO) -> Iterator[Record]:
        return _read_lines(handle, parser=parser, source=_source(handle))

    return read


def _source(handle: BinaryIO) -> str:
    return f"file:{getattr(handle, 'name', 'stdin')}"


def _read_lines(handle: BinaryIO, *, parser: Any, source: str) -> Iterator[Record]:
    """One record per line through `parser`; runaway lines are skipped, not held in memory."""
    from datetime import UTC, datetime

    from dijkwacht.commands.events import MAX_LINE_BYTES, Record

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
    from dijkwacht.commands.events import Record

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
    from collectors.packets import read_capture

    return _records(read_capture(handle, source=_source(handle)), handle)


def _read_evtx(handle: BinaryIO) -> Iterator[Record]:
    from collectors.evtx import read_evtx

    return _records(read_evtx(handle, source=_source(handle)), handle)
