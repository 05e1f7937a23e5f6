"""Checksums and record layout of an EVTX file, read by hand because `evtx` hides both.

The `evtx` package (0.14) neither checks the CRC32s in the file and chunk headers nor says
which records it silently left out: a chunk whose string table was zeroed is dropped without
a warning. So before `evtx` reads a file, this module walks it once:

- file header (4096 bytes): CRC32 of bytes 0-120, stored at 124;
- each 65536-byte chunk ("ElfChnk\\0"): header CRC32 of bytes 0-120 + 128-512, stored at 124;
  event-records CRC32 of bytes 512 up to the free-space offset (at 48), stored at 52;
- each record in a chunk ("**\\0\\0", size, record number, ...): where it starts and how long
  it is, so a record `evtx` did not return can be dead-lettered with its offset and bytes.

All-zero chunks are unused space the writer preallocated, not damage.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

FILE_HEADER = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER = 512
RECORD_HEADER = 24  # magic, size, record number, written time
_CHUNK_MAGIC = b"ElfChnk\0"
_RECORD_MAGIC = b"\x2a\x2a\0\0"
_EMPTY_CHUNK = bytes(CHUNK_SIZE)
_u32 = struct.Struct("<I").unpack_from
_u64 = struct.Struct("<Q").unpack_from
MAX_DAMAGE_RAW = 512  # bytes of a damaged chunk kept with its dead letter (its header)


@dataclass(frozen=True, slots=True)
class RecordSpan:
    """Where one record sits in the file; `chunk` is the index of the chunk that holds it."""

    offset: int
    size: int
    chunk: int


@dataclass(frozen=True, slots=True)
class Damage:
    """A damaged part of the file: its byte offset, first bytes, length and what is wrong."""

    offset: int
    raw: bytes
    length: int
    reason: str


@dataclass(slots=True)
class Layout:
    """What the walk found: records by record number, damage, and chunks that failed a CRC."""

    records: dict[int, RecordSpan] = field(default_factory=dict)
    damage: list[Damage] = field(default_factory=list)
    altered_chunks: set[int] = field(default_factory=set)


def scan(handle: BinaryIO, size: int) -> Layout:
    """Walk the file header and every complete chunk; the handle is left at offset 0.

    Reads one chunk at a time, so memory stays at one chunk plus a few ints per record.
    """
    layout = Layout()
    handle.seek(0)
    header = handle.read(FILE_HEADER)
    if len(header) >= 128 and zlib.crc32(header[:120]) != _u32(header, 124)[0]:
        layout.damage.append(
            Damage(0, header[:MAX_DAMAGE_RAW], FILE_HEADER, "file header checksum mismatch")
        )
    for index in range(max(0, size - FILE_HEADER) // CHUNK_SIZE):
        offset = FILE_HEADER + index * CHUNK_SIZE
        handle.seek(offset)
        chunk = handle.read(CHUNK_SIZE)
        if len(chunk) < CHUNK_SIZE or chunk == _EMPTY_CHUNK:
            continue
        problem = _check_chunk(chunk)
        if problem is not None:
            layout.altered_chunks.add(index)
            layout.damage.append(
                Damage(offset, chunk[:MAX_DAMAGE_RAW], CHUNK_SIZE, f"chunk {index}: {problem}")
            )
        _walk_records(chunk, index, offset, layout)
    handle.seek(0)
    return layout


def _check_chunk(chunk: bytes) -> str | None:
    """What is wrong with a chunk's magic, header or records checksum; None when all agree."""
    if not chunk.startswith(_CHUNK_MAGIC):
        return "no ElfChnk magic"
    if zlib.crc32(chunk[128:CHUNK_HEADER], zlib.crc32(chunk[:120])) != _u32(chunk, 124)[0]:
        return "chunk header checksum mismatch"
    free = _u32(chunk, 48)[0]
    if not CHUNK_HEADER <= free <= CHUNK_SIZE:
        return f"free space offset {free} outside the chunk"
    if zlib.crc32(chunk[CHUNK_HEADER:free]) != _u32(chunk, 52)[0]:
        return "event records checksum mismatch"
    return None


def _walk_records(chunk: bytes, index: int, offset: int, layout: Layout) -> None:
    """Record the span of every well-framed record between the header and the free space.

    Bytes that do not frame a record are damage: they are dead-lettered whole and the walk
    resumes at the next well-framed record. When the free-space offset itself is damaged the
    end of the records is unknown, so the walk stops quietly at the first gap (the slack after
    the last record may hold stale bytes).
    """
    free = _u32(chunk, 48)[0]
    trusted = CHUNK_HEADER <= free <= CHUNK_SIZE
    end = free if trusted else CHUNK_SIZE
    pos = CHUNK_HEADER
    while pos + RECORD_HEADER + 4 <= end:
        length = _framed(chunk, pos, end)
        if length:
            number = _u64(chunk, pos + 8)[0]
            layout.records.setdefault(number, RecordSpan(offset + pos, length, index))
            pos += length
            continue
        if not trusted:
            return
        resume = pos + 1
        while True:
            resume = chunk.find(_RECORD_MAGIC, resume, end)
            if resume < 0 or _framed(chunk, resume, end):
                break
            resume += 1
        stop = end if resume < 0 else resume
        layout.altered_chunks.add(index)
        layout.damage.append(
            Damage(
                offset + pos,
                chunk[pos:stop],  # whole: records in here are reported nowhere else
                stop - pos,
                f"chunk {index}: {stop - pos} byte(s) that frame no record",
            )
        )
        pos = stop


def _framed(chunk: bytes, pos: int, end: int) -> int:
    """The size of the record at `pos` when its magic and both size fields agree, else 0."""
    if chunk[pos : pos + 4] != _RECORD_MAGIC or pos + RECORD_HEADER + 4 > end:
        return 0
    length = _u32(chunk, pos + 4)[0]
    if length < RECORD_HEADER + 4 or pos + length > end:
        return 0
    return length if _u32(chunk, pos + length - 4)[0] == length else 0
