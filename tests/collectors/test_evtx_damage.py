"""EVTX fidelity on a real file from the corpus: record ids, and damage that is counted.

The file (EVTX-to-MITRE-Attack, CC0) has 55 records in three chunks and 14 unused chunks;
its record-header numbers (1..55) differ from the EventRecordIDs Windows wrote (9796981..).
Each test copies it to tmp_path and damages the copy.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.evtx import read_evtx, read_evtx_file
from core.store.base import DeadLetter, EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.conftest import CORPUS_DIR
from tests.dijkwacht.test_events_cli import data_dir, run

__all__ = ["data_dir"]  # the fixture, shared

SAMPLE = (
    CORPUS_DIR
    / "sigma-dev/evtx/hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0007-Discovery"
    / "T1069-Permission Groups Discovery"
    / "ID4799-4624-Local admin group enumerated by SharpHound.evtx"
)
CHUNK = [4096 + n * 65536 for n in range(3)]
RECORDS = 55


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    if not SAMPLE.is_file():
        pytest.skip(f"EVTX corpus not found at {SAMPLE} (shared/ beside the repo)")
    copy = tmp_path / "sample.evtx"
    shutil.copyfile(SAMPLE, copy)
    return copy


def _read(data: bytes) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    items = list(read_evtx(io.BytesIO(data), source="test"))
    dead = [item for item in items if isinstance(item, DeadLetter)]
    return [item for item in items if not isinstance(item, DeadLetter)], dead


def _damaged(path: Path, offset: int, length: int = 256) -> bytes:
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = bytes(length)
    return bytes(data)


def _record_letters(dead: list[DeadLetter]) -> list[DeadLetter]:
    return [letter for letter in dead if "EVTX record" in letter.reason]


def test_record_id_is_the_event_record_id(sample: Path) -> None:
    events, dead = _read(sample.read_bytes())
    assert dead == [] and len(events) == RECORDS
    for event in events:
        system = orjson.loads(event["event"]["original"])["Event"]["System"]
        assert event["winlog"]["record_id"] == str(system["EventRecordID"])
    assert events[0]["winlog"]["record_id"] == "9796981"  # not the record header's "1"


def test_zeroed_chunk_header_table_is_no_longer_silent(sample: Path) -> None:
    # Zeroing bytes 368-624 of chunk 1 made `evtx` drop its 25 records without a word.
    events, dead = _read(_damaged(sample, CHUNK[1] + 368))
    assert len(events) == 30
    assert dead[0].offset == CHUNK[1] and "chunk header checksum mismatch" in dead[0].reason
    gap = dead[1]  # the first record's head was zeroed: its bytes no longer frame a record
    assert gap.offset == CHUNK[1] + 512 and "frame no record" in gap.reason
    assert gap.raw_length == len(gap.raw) > 0
    records = _record_letters(dead)
    assert len(records) == 24 and all(letter.raw.startswith(b"**\0\0") for letter in records)
    assert all(CHUNK[1] < (letter.offset or 0) < CHUNK[2] for letter in records)
    # Every record is accounted for: read, or dead-lettered on its own or inside the gap.
    assert len(events) + len(records) + 1 == RECORDS


def test_damaged_record_is_skipped_and_the_rest_read(sample: Path) -> None:
    events, dead = _read(_damaged(sample, 80_000))  # inside record 29, in chunk 1
    assert len(events) == RECORDS - 1
    chunk, record = dead
    assert chunk.offset == CHUNK[1] and "event records checksum mismatch" in chunk.reason
    assert record.offset == 77_912 and "EVTX record 29 skipped" in record.reason
    assert "Failed to parse record number 29" in record.reason  # evtx's own words kept
    original = sample.read_bytes()
    assert record.raw[:8] == original[77_912 : 77_912 + 8]
    tagged = [e for e in events if "evtx_checksum_mismatch" in e.get("tags", [])]
    assert len(tagged) == 24  # chunk 1's other records: kept, but marked unverified


def test_chunk_without_magic_dead_letters_each_record(sample: Path) -> None:
    events, dead = _read(_damaged(sample, CHUNK[0], 8))
    assert len(events) == 30  # chunks 1 and 2
    assert dead[0].offset == CHUNK[0] and "no ElfChnk magic" in dead[0].reason
    records = _record_letters(dead)
    assert len(records) == 25 and records[0].offset == CHUNK[0] + 512


def test_ingest_prints_damage_totals(sample: Path, data_dir: Path) -> None:
    sample.write_bytes(_damaged(sample, 80_000))
    code, _, err = run("ingest", str(sample))
    assert code == 0, err
    assert "stored 54 event(s), dead-lettered 2 line(s) from 1 of 1 file(s); damaged 2" in err
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        offsets = sorted(letter.offset or 0 for letter in store.list_dead_letters(limit=10))
        assert offsets == [CHUNK[1], 77_912]
        assert store.count(EventQuery(filters={"winlog.record_id": "9796981"})) == 1


def test_every_corpus_file_reads_without_damage() -> None:
    """The checksum walk must not call healthy files damaged (a false alarm per file)."""
    root = CORPUS_DIR / "sigma-dev/evtx"
    files = sorted(root.rglob("*.evtx"))[:40]
    if not files:
        pytest.skip(f"EVTX corpus not found at {root}")
    for path in files:
        dead = [item for item in read_evtx_file(path) if isinstance(item, DeadLetter)]
        assert dead == [], path.name
