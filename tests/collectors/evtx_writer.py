"""A minimal EVTX writer for tests: real file/chunk/record structures, plain BinXML, no templates.

No EVTX sample with a licence we may ship was available (the sigma-dev corpus holds flattened
JSON only; the `evtx` wheel and sdist ship no samples), so tests write their own files. Layout
follows the libevtx documentation of the format: a 4096-byte file header, 64 KiB chunks with a
512-byte header, records of `**\\0\\0` + size + id + FILETIME + BinXML + size copy. BinXML here
uses element, attribute and text tokens with names inline; CRC32 checksums are filled in.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

CHUNK_SIZE = 65536
_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)


@dataclass
class Element:
    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    children: list[Element] = field(default_factory=list)
    text: str | None = None


def _name(name: str, position: int) -> bytes:
    """An inline name structure; the token points at `position`, where it starts."""
    encoded = name.encode("utf-16-le")
    hash_ = sum(name.encode()) & 0xFFFF  # readers do not check the hash
    return struct.pack("<IHH", 0, hash_, len(name)) + encoded + b"\0\0"


def _value(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return struct.pack("<BBH", 0x05, 0x01, len(encoded) // 2) + encoded


def _element(element: Element, position: int) -> bytes:
    """BinXML of one element; `position` is its offset inside the chunk (names point there)."""
    token = 0x41 if element.attributes else 0x01
    head_len = 1 + 4 + 4  # token, data size, name offset (no dependency id outside templates)
    name = _name(element.name, position + head_len)
    body = bytearray()
    cursor = position + head_len + len(name) + (4 if element.attributes else 0)
    attributes = bytearray()
    for index, (key, text) in enumerate(element.attributes.items()):
        more = index < len(element.attributes) - 1
        attr_name = _name(key, cursor + len(attributes) + 5)
        attributes += struct.pack("<BI", 0x46 if more else 0x06, cursor + len(attributes) + 5)
        attributes += attr_name + _value(text)
    if element.attributes:
        body += struct.pack("<I", len(attributes)) + attributes
    cursor = position + head_len + len(name) + len(body)
    if element.children or element.text is not None:
        body += b"\x02"
        cursor += 1
        if element.text is not None:
            value = _value(element.text)
            body += value
            cursor += len(value)
        for child in element.children:
            data = _element(child, cursor)
            body += data
            cursor += len(data)
        body += b"\x04"
    else:
        body += b"\x03"
    size = len(name) + len(body)
    return struct.pack("<BII", token, size, position + head_len) + name + bytes(body)


def _filetime(moment: datetime) -> int:
    return int((moment - _EPOCH_1601).total_seconds() * 10_000_000)


def event_xml(
    *,
    provider: str,
    event_id: int,
    channel: str,
    computer: str,
    record_id: int,
    time: datetime,
    data: dict[str, str],
    provider_guid: str | None = None,
) -> Element:
    provider_attrs = {"Name": provider}
    if provider_guid:
        provider_attrs["Guid"] = provider_guid
    system = Element(
        "System",
        children=[
            Element("Provider", provider_attrs),
            Element("EventID", text=str(event_id)),
            Element("Level", text="0"),
            Element(
                "TimeCreated",
                {"SystemTime": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
            ),
            Element("EventRecordID", text=str(record_id)),
            Element("Execution", {"ProcessID": "4", "ThreadID": "8"}),
            Element("Channel", text=channel),
            Element("Computer", text=computer),
        ],
    )
    event_data = Element(
        "EventData",
        children=[Element("Data", {"Name": key}, text=value) for key, value in data.items()],
    )
    return Element(
        "Event",
        {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        children=[system, event_data],
    )


def _chunk(records: Sequence[tuple[int, datetime, Element]]) -> bytes:
    body = bytearray()
    last_offset = 512
    for record_id, written, element in records:
        offset = 512 + len(body)
        binxml = b"\x0f\x01\x01\x00" + _element(element, offset + 24 + 4) + b"\x00"
        size = 24 + len(binxml) + 4
        body += struct.pack("<IIQQ", 0x2A2A, size, record_id, _filetime(written))
        body += binxml + struct.pack("<I", size)
        last_offset = offset
    first_id, last_id = records[0][0], records[-1][0]
    header = bytearray(512)
    header[0:8] = b"ElfChnk\0"
    struct.pack_into("<QQQQ", header, 8, first_id, last_id, first_id, last_id)
    struct.pack_into("<III", header, 40, 128, last_offset, 512 + len(body))
    struct.pack_into("<I", header, 52, zlib.crc32(bytes(body)))
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120] + header[128:512])))
    chunk = bytes(header) + bytes(body)
    if len(chunk) > CHUNK_SIZE:
        raise ValueError("too many records for one chunk")
    return chunk + b"\0" * (CHUNK_SIZE - len(chunk))


def write_evtx(chunks: Sequence[Sequence[tuple[int, datetime, Element]]]) -> bytes:
    """An EVTX file holding `chunks`, each a list of (record id, written time, event)."""
    header = bytearray(4096)
    header[0:8] = b"ElfFile\0"
    last_id = chunks[-1][-1][0]
    struct.pack_into("<QQQ", header, 8, 0, len(chunks) - 1, last_id + 1)
    struct.pack_into("<IHHHH", header, 32, 128, 1, 3, 4096, len(chunks))
    struct.pack_into("<I", header, 120, 0)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header) + b"".join(_chunk(records) for records in chunks)
