"""The crashes issue #16 names, kept as regression cases: each input now becomes a counted,
skipped or dead-lettered record and the rest of the input is still read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.errors import ParseError
from collectors.netdecode import dns_fields, scapy_dns_fields
from collectors.packets import MAX_TIMESTAMP, CaptureStats, PacketSummariser, read_capture
from core.store.base import DeadLetter
from tests.collectors.captures import pcap, pcapng, udp_frame
from tests.dijkwacht.test_events_cli import data_dir, run

__all__ = ["data_dir"]  # the fixture, shared

# A 13-byte UDP payload to port 53 that crashed scapy's fallback reading (AttributeError).
SHORT_DNS = bytes.fromhex("79c3c46c26bb6d1cfc3cdcc7b9")
T0 = 1_738_314_900.0  # 2025-01-31T09:15:00Z
VALID_QUERY = bytes.fromhex("10920100000100000000000003777777076578616d706c6503636f6d0000010001")


# More payloads bench/fuzz.py found crashing scapy's reading before the fix, by missing field.
FUZZ_FOUND = {
    "qname": "eb940100000100000000000108",
    "type": "645084000001000100010001000000000870",
    "ttl": "c11b8400000100010073656100000a00010000291000000080000000",
}


@pytest.mark.parametrize("payload", [SHORT_DNS.hex(), *FUZZ_FOUND.values()])
def test_dns_payloads_that_crashed_are_parse_errors(payload: str) -> None:
    for decode in (dns_fields, scapy_dns_fields):
        with pytest.raises(ParseError) as caught:
            decode(bytes.fromhex(payload))
        assert caught.value.field == "dns"


def test_short_dns_payload_is_counted_and_the_flow_kept() -> None:
    summariser = PacketSummariser(source="test")
    summariser.add(1, udp_frame(SHORT_DNS), T0)
    summariser.add(1, udp_frame(VALID_QUERY), T0 + 0.5)
    summariser.flush()
    events = summariser.drain()
    assert summariser.stats.extra == {"dns_unreadable": 1}
    assert [e["event"]["dataset"] for e in events] == ["network.dns", "network.flow"]
    assert events[0]["dns"]["question"]["name"] == "www.example.com"
    assert events[1]["source"]["packets"] == 2


def test_pcap_with_the_short_dns_payload_reads_to_the_end() -> None:
    data = pcap([(T0, udp_frame(SHORT_DNS)), (T0 + 1, udp_frame(VALID_QUERY))])
    stats = CaptureStats()
    items = list(read_capture(io.BytesIO(data), source="test", stats=stats))
    assert not [item for item in items if isinstance(item, DeadLetter)]
    assert stats.packets == 2 and stats.dns == 1 and stats.extra["dns_unreadable"] == 1


def test_pcapng_record_with_a_huge_timestamp_is_dead_lettered_alone() -> None:
    good = int(T0 * 1e6)
    frames = [(good, udp_frame(VALID_QUERY)), (0xFFFFFFFF_FFFFFFFF, udp_frame(VALID_QUERY))]
    frames.append((good + 2_000_000, udp_frame(VALID_QUERY)))
    data = pcapng(frames)
    stats = CaptureStats()
    items = list(read_capture(io.BytesIO(data), source="test", stats=stats))
    dead = [item for item in items if isinstance(item, DeadLetter)]
    assert len(dead) == 1
    assert "timestamp" in dead[0].reason and "out of range" in dead[0].reason
    frame = len(udp_frame(VALID_QUERY))
    assert dead[0].offset == 28 + 20 + 32 + frame + (-frame % 4)  # after SHB, IDB, first EPB
    assert dead[0].raw[:4] == b"\x06\x00\x00\x00"  # the enhanced packet block itself
    assert stats.dns == 2 and stats.packets == 2  # both good records summarised


def test_summariser_refuses_times_datetime_cannot_hold() -> None:
    summariser = PacketSummariser(source="test")
    for moment in (float("nan"), 1e300, -1e300, float("inf")):
        with pytest.raises(ParseError, match="timestamp"):
            summariser.add(1, udp_frame(VALID_QUERY), moment)
    assert summariser.stats.packets == 0 and summariser.drain() == []


def test_ingest_of_the_crashing_pcap_exits_cleanly(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "short-dns.pcap"
    path.write_bytes(pcap([(T0, udp_frame(SHORT_DNS))]))
    code, _, err = run("ingest", str(path))
    assert code == 0, err
    assert "stored 1 event(s), dead-lettered 0 line(s)" in err  # the flow; the DNS is counted


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**64 - 1), st.binary(max_size=120)), min_size=1, max_size=6)
)
def test_every_pcapng_record_is_summarised_or_dead_lettered(
    records: list[tuple[int, bytes]],
) -> None:
    """Nothing is lost: any time, any payload to port 53; each record is read or a letter."""
    stats = CaptureStats()
    data = pcapng([(stamp, udp_frame(payload)) for stamp, payload in records])
    items = list(read_capture(io.BytesIO(data), source="test", stats=stats))
    dead = [item for item in items if isinstance(item, DeadLetter)]
    readable = [payload for stamp, payload in records if stamp / 1_000_000 <= MAX_TIMESTAMP]
    assert stats.packets == len(readable) and len(dead) == len(records) - len(readable)
    assert all(letter.offset is not None and letter.offset >= 48 for letter in dead)
    assert stats.dns + stats.extra.get("dns_unreadable", 0) == len(list(filter(None, readable)))


def test_ingest_counts_the_dead_lettered_capture_record(data_dir: Path, tmp_path: Path) -> None:
    good = int(T0 * 1e6)
    path = tmp_path / "huge-time.pcapng"
    path.write_bytes(pcapng([(good, udp_frame(VALID_QUERY)), (2**64 - 1, udp_frame(VALID_QUERY))]))
    code, _, err = run("ingest", str(path))
    assert code == 0, err
    assert "dead-lettered 1 line(s) from 1 of 1 file(s); damaged 1 part(s)" in err
