"""`dijkwacht ingest` for every supported kind: parser formats, EVTX, pcap, auto-detection."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.evtx_writer import event_xml, write_evtx
from tests.collectors.test_packets import _written_capture
from tests.dijkwacht.test_events_cli import data_dir, run

__all__ = ["data_dir"]  # the fixture, shared

LINES = {
    "syslog": b"<34>1 2025-01-31T09:15:00Z web1 sshd 411 - - Failed password for root\n"
    b"garbage without header\n",
    "nginx": b'192.0.2.7 - - [31/Jan/2025:09:15:00 +0100] "GET / HTTP/1.1" 200 1 "-" "x"\n'
    b'192.0.2.7 - - [31/Jan/2025:09:15:00 +0100] "GET / HTTP/1.1\n',
    "apache": b'192.0.2.7 - - [31/Jan/2025:09:15:00 +0100] "GET / HTTP/1.1" 404 -\n',
    "authlog": b"Jan 31 09:15:00 web1 sshd[411]: Invalid user admin from 192.0.2.9 port 22\n",
    "json": b'{"timestamp": "2025-01-31T09:15:00Z", "message": "hi"}\n{"no": "time"}\n',
    "app-audit-json": b'{"time":"2025-01-31T09:15:00+01:00","system":"brp","actor":"E1",'
    b'"action":"view","subject":"111222333","result":"success"}\n',
    "app-audit-csv": b"time,system,actor,actor_role,department,action,subject,record_type,"
    b"purpose,case_ref,channel,result,record_count\n"
    b"2025-01-31T09:15:00+01:00,brp,E1,,,view,111222333,,,,,success,\n",
}
EXPECTED = {  # (stored, dead-lettered)
    "syslog": (1, 1),  # a line with neither PRI nor timestamp is refused
    "nginx": (1, 1),
    "apache": (1, 0),
    "authlog": (1, 0),
    "json": (1, 1),
    "app-audit-json": (1, 0),
    "app-audit-csv": (1, 0),
}


def _stored(data_dir: Path) -> tuple[int, int]:
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        return store.count(EventQuery()), len(store.list_dead_letters(limit=1000))


@pytest.mark.parametrize("fmt", sorted(LINES))
def test_every_parser_format(fmt: str, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / f"input.{fmt}.log"
    path.write_bytes(LINES[fmt])
    code, _, err = run("ingest", "--format", fmt, str(path))
    assert code == 0, err
    assert _stored(data_dir) == EXPECTED[fmt]
    if fmt.startswith("app-audit"):
        assert b"111222333" not in (data_dir / "events.sqlite").read_bytes()


def test_evtx_and_pcap_are_detected_by_extension(data_dir: Path, tmp_path: Path) -> None:
    moment = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)
    record = event_xml(
        provider="Microsoft-Windows-Security-Auditing",
        event_id=4625,
        channel="Security",
        computer="dc01",
        record_id=7,
        time=moment,
        data={"TargetUserName": "jan", "TargetDomainName": "GEMEENTE"},
    )
    evtx = tmp_path / "security.evtx"
    evtx.write_bytes(write_evtx([[(7, moment, record)]]))
    pcap = tmp_path / "traffic.pcapng"
    _written_capture(pcap, ng=True)
    code, _, err = run("ingest", str(evtx), str(pcap))
    assert code == 0, err
    assert "stored 8 event(s), dead-lettered 0 line(s) from 2 of 2 file(s)" in err
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        assert store.count(EventQuery(filters={"event.code": "4625"})) == 1
        assert store.count(EventQuery(filters={"event.dataset": "network.dns"})) == 2


def test_damaged_pcap_is_stored_up_to_the_damage(data_dir: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole.pcap"
    _written_capture(whole)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole.read_bytes()[:-30])
    code, _, err = run("ingest", "--format", "pcap", str(cut))
    assert code == 0, err
    stored, dead = _stored(data_dir)
    assert stored >= 5 and dead == 1


def test_unknown_format_lists_the_new_ones(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"x\n")
    code, _, err = run("ingest", "--format", "nope", str(path))
    assert code == 2
    assert "evtx" in err and "pcap" in err and "app-audit-csv" in err
