"""EVTX: generated files (see evtx_writer.py for why) normalised to ECS; damage dead-lettered."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.evtx import read_evtx, read_evtx_file
from core.store.base import DeadLetter
from tests.collectors.evtx_writer import event_xml, write_evtx
from tests.collectors.support import assert_ecs

T = datetime(2025, 1, 31, 9, 15, 0, 123456, tzinfo=UTC)
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def sysmon_1(record_id: int) -> Any:
    return event_xml(
        provider="Microsoft-Windows-Sysmon",
        provider_guid="{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
        event_id=1,
        channel=SYSMON,
        computer="ws042.gemeente.local",
        record_id=record_id,
        time=T,
        data={
            "ProcessGuid": "{9a3b1c2d-0000-0000-0000-000000000001}",
            "ProcessId": "4242",
            "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "cmd.exe /c whoami /all",
            "CurrentDirectory": "C:\\Users\\jan\\",
            "User": "GEMEENTE\\jan",
            "ParentProcessId": "1000",
            "ParentImage": "C:\\Windows\\explorer.exe",
            "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
        },
    )


def security(record_id: int, event_id: int, data: dict[str, str]) -> Any:
    return event_xml(
        provider="Microsoft-Windows-Security-Auditing",
        event_id=event_id,
        channel="Security",
        computer="dc01.gemeente.local",
        record_id=record_id,
        time=T,
        data=data,
    )


def _file(tmp_path: Path, chunks: list[list[tuple[int, datetime, Any]]]) -> Path:
    path = tmp_path / "test.evtx"
    path.write_bytes(write_evtx(chunks))
    return path


def _split(items: list[Any]) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    events = [assert_ecs(item) for item in items if not isinstance(item, DeadLetter)]
    return events, [item for item in items if isinstance(item, DeadLetter)]


def test_sysmon_process_creation(tmp_path: Path) -> None:
    events, dead = _split(list(read_evtx_file(_file(tmp_path, [[(1, T, sysmon_1(1))]]))))
    assert dead == []
    (event,) = events
    assert event["@timestamp"] == "2025-01-31T09:15:00.123Z"
    assert event["event"]["code"] == "1"
    assert event["event"]["provider"] == "Microsoft-Windows-Sysmon"
    assert event["event"]["category"] == ["process"] and event["event"]["type"] == ["start"]
    assert event["winlog"]["channel"] == SYSMON
    assert event["winlog"]["event_id"] == "1" and event["winlog"]["record_id"] == "1"
    assert event["winlog"]["computer_name"] == event["host"]["name"] == "ws042.gemeente.local"
    assert event["winlog"]["provider_guid"] == "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
    assert event["winlog"]["event_data"]["CommandLine"] == "cmd.exe /c whoami /all"
    assert event["process"] == {
        "pid": 4242,
        "executable": "C:\\Windows\\System32\\cmd.exe",
        "name": "cmd.exe",
        "command_line": "cmd.exe /c whoami /all",
        "entity_id": "{9a3b1c2d-0000-0000-0000-000000000001}",
        "working_directory": "C:\\Users\\jan\\",
        "parent": {
            "pid": 1000,
            "executable": "C:\\Windows\\explorer.exe",
            "name": "explorer.exe",
            "command_line": "C:\\Windows\\Explorer.EXE",
        },
    }
    assert event["user"] == {"name": "jan", "domain": "GEMEENTE"}
    assert event["event"]["original"].startswith('{"Event":')


def test_security_4688_and_4624(tmp_path: Path) -> None:
    process = security(
        10,
        4688,
        {
            "SubjectUserName": "jan",
            "SubjectDomainName": "GEMEENTE",
            "NewProcessId": "0x1a2b",
            "NewProcessName": "C:\\Windows\\System32\\net.exe",
            "CommandLine": "net user /domain",
            "ProcessId": "0x3e8",
            "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
            "TargetUserName": "-",
        },
    )
    logon = security(
        11,
        4624,
        {
            "SubjectUserName": "DC01$",
            "TargetUserName": "piet",
            "TargetDomainName": "GEMEENTE",
            "LogonType": "3",
            "IpAddress": "192.0.2.44",
        },
    )
    events, dead = _split(
        list(read_evtx_file(_file(tmp_path, [[(10, T, process), (11, T, logon)]])))
    )
    assert dead == []
    created, logged_on = events
    assert created["event"]["dataset"] == "windows.security"
    assert created["process"]["pid"] == 0x1A2B
    assert created["process"]["parent"] == {
        "pid": 1000,
        "executable": "C:\\Windows\\System32\\cmd.exe",
        "name": "cmd.exe",
    }
    assert created["process"]["command_line"] == "net user /domain"
    assert created["user"] == {"name": "jan", "domain": "GEMEENTE"}
    assert "process" not in logged_on
    assert logged_on["user"] == {"name": "piet", "domain": "GEMEENTE"}
    assert logged_on["winlog"]["event_data"]["LogonType"] == "3"
    assert logged_on["event"]["code"] == "4624"


def test_truncated_file_keeps_the_complete_chunks(tmp_path: Path) -> None:
    first = [(n, T, sysmon_1(n)) for n in range(1, 4)]
    second = [(n, T, sysmon_1(n)) for n in range(4, 7)]
    data = _file(tmp_path, [first, second]).read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: 4096 + 65536 + 2000])  # inside the second chunk
    events, dead = _split(list(read_evtx_file(cut)))
    assert [event["winlog"]["record_id"] for event in events] == ["1", "2", "3"]
    assert len(dead) == 1
    assert dead[0].offset == 4096 + 65536
    assert "file truncated" in dead[0].reason and "2 chunk(s), 1 complete" in dead[0].reason


def test_corrupt_record_is_dead_lettered_and_the_rest_kept(tmp_path: Path) -> None:
    first = [(n, T, sysmon_1(n)) for n in range(1, 4)]
    second = [(n, T, sysmon_1(n)) for n in range(4, 6)]
    data = bytearray(_file(tmp_path, [first, second]).read_bytes())
    start = 4096 + 512 + 24 + 10  # inside the BinXML of the first record
    data[start : start + 40] = b"\xff" * 40
    events, dead = _split(list(read_evtx(io.BytesIO(bytes(data)), source="memory")))
    assert {event["winlog"]["record_id"] for event in events} == {"2", "3", "4", "5"}
    chunk, record = dead
    assert chunk.offset == 4096 and "chunk 0: event records checksum mismatch" in chunk.reason
    assert record.offset == 4096 + 512 and "EVTX record 1 skipped" in record.reason
    assert record.raw == bytes(data[record.offset : record.offset + len(record.raw)])
    assert record.raw.startswith(b"**\0\0") and record.raw_length == len(record.raw)
    # Records read from the damaged chunk are kept but marked: their bytes are unverified.
    tagged = {
        e["winlog"]["record_id"] for e in events if "evtx_checksum_mismatch" in e.get("tags", [])
    }
    assert tagged == {"2", "3"}


@pytest.mark.parametrize("content", [b"", b"MZ" + b"\0" * 5000, b"ElfFile\0" + b"\0" * 100])
def test_not_evtx_is_one_dead_letter(content: bytes) -> None:
    events, dead = _split(list(read_evtx(io.BytesIO(content), source="memory")))
    assert events == []
    assert len(dead) == 1 and dead[0].offset == 0


def test_record_of_the_wrong_shape_is_dead_lettered_and_the_rest_kept(tmp_path: Path) -> None:
    """#16: a System element holding text (AttributeError in normalise) stopped the file."""
    from tests.collectors.evtx_writer import Element

    odd = Element("Event", children=[Element("System", text="not a System element")])
    path = _file(tmp_path, [[(1, T, odd), (2, T, sysmon_1(2))]])
    events, dead = _split(list(read_evtx_file(path)))
    assert [event["winlog"]["record_id"] for event in events] == ["2"]
    (letter,) = dead
    assert letter.offset == 4096 + 512 and letter.reason.startswith("byte offset 4608: record 1:")
    assert b"not a System element" in letter.raw  # the rendered record, kept for replay
