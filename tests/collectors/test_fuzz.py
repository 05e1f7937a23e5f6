"""Fuzzing every decoder and parser in CI: bench/fuzz.py's targets with a CI-sized count.

Each target gets 20,000 inputs (fewer for the costly ones: DNS through scapy, whole pcap and
EVTX files; see `Target.cost`), seeded so a failure reproduces. Only declared errors may
escape, no input may take a second, and hostile big inputs stay within a memory bound.
"""

from __future__ import annotations

import contextlib
import io
import struct
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

import pytest

from bench import fuzz
from collectors.errors import ParseError
from tests.conftest import CORPUS_DIR

CI_INPUTS = 20_000
MAX_SECONDS = 1.0
MAX_PEAK = 32 << 20  # bytes of Python allocations while one big hostile input is read
NAMES = [
    "frame",
    "summariser",
    "dns",
    "tls",
    "http",
    "pcap",
    "evtx",
    "framing",
    "ecs-json",
    "timestamps",
    "syslog",
    "rfc5424",
    "rfc3164",
    "nginx",
    "apache",
    "authlog",
    "json",
    "app-audit-json",
    "app-audit-csv",
]


@cache
def _targets() -> dict[str, fuzz.Target]:
    return {target.name: target for target in fuzz.targets()}


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_only_declared_errors(name: str) -> None:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"corpus not found at {CORPUS_DIR}")
    target = _targets()[name]
    result = fuzz.run(target, CI_INPUTS // target.cost, seed=16)
    shown = [f"{reason} <- {data[:80].hex()}" for data, reason in result.crashes[:3]]
    assert result.crashes == [], f"{len(result.crashes)} crash(es): " + "\n".join(shown)
    assert result.slowest < MAX_SECONDS, (
        f"{result.slowest:.2f} s on {result.slowest_input[:80].hex()}"
    )
    assert result.inputs == CI_INPUTS // target.cost


def test_mutation_is_seeded_and_changes_inputs() -> None:
    target = fuzz.Target("t", [b"<34>1 2025-01-31T09:15:00Z host app - - - hello"], len)
    first = list(fuzz.inputs(target, 200, seed=3))
    assert first == list(fuzz.inputs(target, 200, seed=3))
    assert len(set(first)) > 150  # mutants differ from the seed and from one another


def test_an_undeclared_exception_is_counted_as_a_crash() -> None:
    def fragile(data: bytes) -> object:
        return data[40]  # IndexError on short input: what the harness must catch

    result = fuzz.run(fuzz.Target("fragile", [bytes(64)], fragile, (ParseError,)), 500)
    assert 0 < len(result.crashes) < 500
    assert result.crashes[0][1].startswith("IndexError at test_fuzz.py")


def _dns_pointer_bomb() -> bytes:
    """A maximal UDP DNS answer: 4,000 records whose names are long compression chains."""
    labels = b"".join(b"\x3f" + b"a" * 63 for _ in range(3)) + b"\xc0\x0c"  # loops to itself
    body = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01"
    message = struct.pack("!HHHHHH", 1, 0x8180, 1, 4000, 0, 0) + body + labels
    return (message + answer * 4000)[:65_507]


def _pcap_lies() -> bytes:
    """A pcap whose one record announces 4 GB and a pcapng with a 4 GB block length."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0xFFFFFFFF, 1)
    return header + struct.pack("<IIII", 0, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"\0" * 64


def _pcapng_lies() -> bytes:
    section = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    return section + struct.pack("<II", 6, 0xFFFFFFF0) + b"\0" * 64


def _evtx_lies() -> bytes:
    """An EVTX header announcing 65,535 chunks, then one chunk of record magic and huge sizes."""
    header = bytearray(4096)
    header[:8] = b"ElfFile\0"
    header[42:44] = b"\xff\xff"
    chunk = bytearray(b"ElfChnk\0" + bytes(65528))
    chunk[48:52] = (65536).to_bytes(4, "little")
    for pos in range(512, 65536 - 28, 28):
        chunk[pos : pos + 8] = b"**\0\0\xff\xff\xff\x7f"
    return bytes(header + chunk)


def _deep_json() -> bytes:
    return b'{"timestamp":"2025-01-31T09:15:00Z","a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _reader(name: str) -> Callable[[bytes], object]:
    from collectors.evtx import read_evtx
    from collectors.netdecode import dns_fields
    from collectors.packets import read_capture
    from collectors.parsers import get_parser

    now = datetime(2025, 1, 31, tzinfo=UTC)
    if name == "dns":
        return dns_fields
    if name == "pcap":
        return lambda data: list(read_capture(io.BytesIO(data), source="t", received_at=now))
    if name == "evtx":
        return lambda data: list(read_evtx(io.BytesIO(data), source="t", received_at=now))
    parser = get_parser(name)
    return lambda data: parser.parse(data, received_at=now, source="t")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("dns", _dns_pointer_bomb()),
        ("pcap", _pcap_lies()),
        ("pcap", _pcapng_lies()),
        ("evtx", _evtx_lies()),
        ("json", _deep_json()),
        ("syslog", b"<34>1 2025-01-31T09:15:00Z h a - - " + b'[x a="' * 20_000),
        ("nginx", b'192.0.2.1 - - [31/Jan/2025:09:15:00 +0000] "GET /' + b"%" * 200_000),
    ],
    ids=["dns-pointers", "pcap-4gb", "pcapng-4gb", "evtx-65535-chunks", "json-deep", "sd", "url"],
)
def test_big_hostile_input_stays_bounded(name: str, data: bytes) -> None:
    read = _reader(name)
    tracemalloc.start()
    try:
        with contextlib.suppress(ParseError):
            read(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK, f"{peak / 2**20:.1f} MiB for {len(data)} input bytes"


def test_every_target_is_fuzzed_here() -> None:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"corpus not found at {CORPUS_DIR}")
    assert sorted(_targets()) == sorted(NAMES)
