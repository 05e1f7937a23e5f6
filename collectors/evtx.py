"""Windows event log files (EVTX) to ECS, read with the Rust-backed `evtx` package.

Fields follow Winlogbeat's `winlog.*` (documented in docs/ecs-extension.md) plus ECS `event.*`,
`host.name`, `user.*` and, for process creation (Sysmon 1, Security 4688), `process.*`. The
record's JSON as `evtx` renders it is kept in `event.original`, and `winlog.event_data` keeps
every EventData item, so Sigma rules written for either field style can match.

Damaged files: before `evtx` reads a file, `collectors.evtx_chunks` checks the file and chunk
CRC32s and locates every record. A chunk that fails a check is dead-lettered with its offset;
`evtx` skips what it cannot read (`skip_errors=True`), and every record it skipped, silently
or with a warning, is dead-lettered with its offset and its own bytes. A file shorter than
its chunks (a cut copy) is reported too. So the readable records are kept and the damage is
visible and counted.
"""

from __future__ import annotations

import ntpath
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import evtx
import orjson

from collectors import evtx_chunks
from collectors.errors import MALFORMED_INPUT
from core.clock import utc_iso
from core.errors import ValidationError
from core.events import Event, set_field, validate_event
from core.store.base import DeadLetter

FILE_HEADER = evtx_chunks.FILE_HEADER
CHUNK_SIZE = evtx_chunks.CHUNK_SIZE
CHECKSUM_TAG = "evtx_checksum_mismatch"  # in `tags` of events read from a chunk that failed a CRC
# A rendered record whose JSON is not the shape Windows writes (a string where `System`
# should be, a bad SystemTime) is dead-lettered; the rest of the file is read.
_UNNORMALISABLE: tuple[type[Exception], ...] = (*MALFORMED_INPUT, ValidationError)
_RECORD_NUMBER = re.compile(r"record number (\d+)")
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")
_SYSMON = "Microsoft-Windows-Sysmon"
_SECURITY = "Microsoft-Windows-Security-Auditing"
_DATASETS = {
    "Security": "windows.security",
    "System": "windows.system",
    "Application": "windows.application",
    "Microsoft-Windows-Sysmon/Operational": "windows.sysmon_operational",
    "Microsoft-Windows-PowerShell/Operational": "windows.powershell_operational",
    "Windows PowerShell": "windows.powershell",
}
_EMPTY = frozenset({"", "-"})


def read_evtx(
    handle: BinaryIO, *, source: str, received_at: datetime | None = None
) -> Iterator[Event | DeadLetter]:
    """ECS events of every readable record, and a DeadLetter for each damaged part.

    Damage never stops the file: a chunk that fails its checksums is dead-lettered with its
    offset (records `evtx` still reads from it are kept, tagged `evtx_checksum_mismatch`),
    and every record `evtx` skipped or could not normalise is dead-lettered with its offset
    and bytes.
    """
    yield from _read(handle, source=source, created=utc_iso(received_at or datetime.now(UTC)))


def _read(handle: BinaryIO, *, source: str, created: str) -> Iterator[Event | DeadLetter]:

    size = handle.seek(0, 2)
    handle.seek(0)
    header = handle.read(FILE_HEADER)
    handle.seek(0)
    if size < FILE_HEADER or not header.startswith(b"ElfFile\0"):
        yield _letter(source, 0, header[:256], size, "not an EVTX file (no ElfFile header)")
        return
    announced = int.from_bytes(header[42:44], "little")
    complete = (size - FILE_HEADER) // CHUNK_SIZE
    if complete < announced or (size - FILE_HEADER) % CHUNK_SIZE:
        offset = FILE_HEADER + complete * CHUNK_SIZE
        handle.seek(offset)
        raw = handle.read(256)
        handle.seek(0)
        reason = (
            f"file truncated: header announces {announced} chunk(s), {complete} complete, "
            f"{size - offset} byte(s) of a partial chunk; its records are lost"
        )
        yield _letter(source, offset, raw, size - offset, reason)
    layout = evtx_chunks.scan(handle, size)
    for damage in layout.damage:
        yield _letter(source, damage.offset, damage.raw, damage.length, damage.reason)
    seen: set[int] = set()
    why: dict[int, str] = {}  # record number -> the warning `evtx` gave when skipping it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = evtx.PyEvtxParser(handle, skip_errors=True)
            records = parser.records_json()
        except (RuntimeError, OSError, ValueError) as exc:
            yield _letter(source, 0, header[:256], size, f"unreadable EVTX file ({exc})")
            yield from _skipped(handle, source, layout, seen, why)  # each record, with its bytes
            return
        while True:
            record: dict[str, Any] | None = None
            failure: Exception | None = None
            try:
                record = next(records)
            except StopIteration:
                pass
            except (RuntimeError, OSError, ValueError) as exc:
                failure = exc
            while caught:
                message = str(caught.pop(0).message)
                number = _warned_record(message)
                if number is not None and number in layout.records:
                    why[number] = message  # reported with the record's bytes below
                elif not _about_damaged_chunk(message, layout):
                    yield _letter(source, None, b"", 0, f"damaged EVTX record: {message}")
            if failure is not None:
                yield _letter(source, None, b"", 0, f"EVTX reading stopped: {failure}")
            if record is None:
                break
            number = record.get("event_record_id")
            span = layout.records.get(number) if isinstance(number, int) else None
            if isinstance(number, int):
                seen.add(number)
            try:
                event = normalise(record, source=source, created=created)
            except _UNNORMALISABLE as exc:
                raw = str(record.get("data", "")).encode("utf-8")
                at = span.offset if span is not None else None
                yield _letter(source, at, raw, len(raw), f"record {number}: {exc}")
                continue
            if span is not None and span.chunk in layout.altered_chunks:
                event.setdefault("tags", []).append(CHECKSUM_TAG)
            yield event
    yield from _skipped(handle, source, layout, seen, why)


def _warned_record(message: str) -> int | None:
    """The record number in an `evtx` warning ("Failed to parse record number 13: ...")."""
    match = _RECORD_NUMBER.search(message)
    return int(match.group(1)) if match else None


def _about_damaged_chunk(message: str, layout: evtx_chunks.Layout) -> bool:
    """A chunk-level warning for a chunk the checksum walk has already dead-lettered."""
    match = _CHUNK_NUMBER.search(message)
    return match is not None and int(match.group(1)) in layout.altered_chunks


def _skipped(
    handle: BinaryIO,
    source: str,
    layout: evtx_chunks.Layout,
    seen: set[int],
    why: dict[int, str],
) -> Iterator[DeadLetter]:
    """A dead letter, with the record's own bytes, for every record `evtx` did not return."""
    for number, span in sorted(layout.records.items(), key=lambda item: item[1].offset):
        if number in seen:
            continue
        handle.seek(span.offset)
        raw = handle.read(span.size)
        reason = why.get(number) or (
            f"in damaged chunk {span.chunk}"
            if span.chunk in layout.altered_chunks
            else "not returned by the evtx reader"
        )
        yield _letter(
            source, span.offset, raw, span.size, f"EVTX record {number} skipped: {reason}"
        )


def read_evtx_file(path: Path, *, source: str | None = None) -> Iterator[Event | DeadLetter]:
    """`read_evtx` on a path (the source defaults to `file:<path>`)."""
    with path.open("rb") as handle:
        yield from read_evtx(handle, source=source or f"file:{path}")


def _letter(source: str, offset: int | None, raw: bytes, length: int, reason: str) -> DeadLetter:
    where = f"byte offset {offset}: " if offset is not None else ""
    return DeadLetter(
        source=source, reason=f"{where}{reason}", raw=raw, offset=offset, raw_length=length
    )


def _text(value: Any) -> str | None:
    """A scalar of the rendered record; `{"#text": ..}` when the element had attributes."""
    if isinstance(value, dict):
        value = value.get("#text")
    if value is None:
        return None
    return str(value)


def _int(value: Any) -> int | None:
    """Decimal or `0x` hex (4688 writes process ids in hex)."""
    text = _text(value)
    if text is None or text.strip() in _EMPTY:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _timestamp(text: str) -> str:
    """SystemTime with up to 9 fraction digits, as ECS millisecond UTC."""
    head, dot, rest = text.rstrip("Z").partition(".")
    fraction = rest[:6] if dot else ""
    moment = datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00")
    return utc_iso(moment)


def normalise(record: dict[str, Any], *, source: str, created: str) -> Event:
    """One `evtx` JSON record (`{"event_record_id", "timestamp", "data"}`) as an ECS event."""
    original = record["data"]
    document = orjson.loads(original)
    root = document.get("Event", document)
    system = root.get("System") or {}
    provider_attrs = (system.get("Provider") or {}).get("#attributes", {})
    provider = provider_attrs.get("Name") or ""
    channel = _text(system.get("Channel")) or ""
    event_id = _text(system.get("EventID")) or ""
    computer = _text(system.get("Computer"))
    time_created = (system.get("TimeCreated") or {}).get("#attributes", {}).get("SystemTime")
    timestamp = _timestamp(time_created) if time_created else _timestamp(record["timestamp"])
    event: Event = {
        "@timestamp": timestamp,
        "event": {
            "kind": "event",
            "dataset": _DATASETS.get(channel, "windows.evtx"),
            "original": original,
            "created": created,
            "code": event_id,
            "provider": provider,
        },
        "winlog": {
            "channel": channel,
            "provider_name": provider,
            "event_id": event_id,
            # System/EventRecordID, what Windows shows; the record header's number differs
            # in exported or cleared logs, so it is only the fallback.
            "record_id": _text(system.get("EventRecordID")) or str(record.get("event_record_id")),
        },
        "dijkwacht": {"ingest": {"source": source}},
    }
    winlog = event["winlog"]
    if provider_attrs.get("Guid"):
        winlog["provider_guid"] = provider_attrs["Guid"]
    if computer:
        winlog["computer_name"] = computer
        event["host"] = {"name": computer}
    execution = (system.get("Execution") or {}).get("#attributes", {})
    pid, tid = _int(execution.get("ProcessID")), _int(execution.get("ThreadID"))
    if pid is not None:
        winlog.setdefault("process", {})["pid"] = pid
    if tid is not None:
        winlog.setdefault("process", {})["thread"] = {"id": tid}
    data = root.get("EventData")
    if isinstance(data, dict):
        data = {key: value for key, value in data.items() if key != "#attributes"}
        if data:
            winlog["event_data"] = data
    elif root.get("UserData") is not None:
        winlog["user_data"] = root["UserData"]
    fields = data if isinstance(data, dict) else {}
    _user(event, fields)
    if (provider == _SYSMON and event_id == "1") or (provider == _SECURITY and event_id == "4688"):
        _process(event, fields, sysmon=provider == _SYSMON)
    return validate_event(event)


def _user(event: Event, data: dict[str, Any]) -> None:
    """`user.*`: the target of logon-type events, else the subject, else Sysmon's `User`."""
    for name_key, domain_key in (
        ("TargetUserName", "TargetDomainName"),
        ("SubjectUserName", "SubjectDomainName"),
    ):
        name = _text(data.get(name_key))
        if name is not None and name not in _EMPTY:
            set_field(event, "user.name", name)
            domain = _text(data.get(domain_key))
            if domain is not None and domain not in _EMPTY:
                set_field(event, "user.domain", domain)
            return
    user = _text(data.get("User"))
    if user and user not in _EMPTY:
        domain, sep, name = user.rpartition("\\")
        set_field(event, "user.name", name)
        if sep and domain:
            set_field(event, "user.domain", domain)


def _process(event: Event, data: dict[str, Any], *, sysmon: bool) -> None:
    """Process creation: the new process and its parent as ECS `process.*`."""
    keys = (
        ("ProcessId", "Image", "CommandLine", "ParentProcessId", "ParentImage")
        if sysmon
        else ("NewProcessId", "NewProcessName", "CommandLine", "ProcessId", "ParentProcessName")
    )
    pid, executable, command_line, parent_pid, parent_executable = (data.get(key) for key in keys)
    values: dict[str, Any] = {
        "process.pid": _int(pid),
        "process.executable": _text(executable),
        "process.command_line": _text(command_line),
        "process.parent.pid": _int(parent_pid),
        "process.parent.executable": _text(parent_executable),
    }
    if sysmon:
        values["process.parent.command_line"] = _text(data.get("ParentCommandLine"))
        values["process.entity_id"] = _text(data.get("ProcessGuid"))
        values["process.working_directory"] = _text(data.get("CurrentDirectory"))
    for path in ("process.executable", "process.parent.executable"):
        if values[path]:
            values[path.replace("executable", "name")] = ntpath.basename(values[path])
    for path, value in values.items():
        if value is not None and value not in _EMPTY:
            set_field(event, path, value)
    event["event"]["category"] = ["process"]
    event["event"]["type"] = ["start"]
