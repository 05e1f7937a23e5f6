"""Packets/s of the raw summariser path vs scapy's full dissection, on the same file, same run.

A pcap of >= 100k packets is built in a temporary directory by repeating the corpus capture
`zeek/wikipedia.pcap` (HTTP, DNS, TCP flows). Value: `collectors.packets.read_capture`
(RawPcapReader + struct slicing + flows/DNS/HTTP/TLS events). Baseline: scapy's `PcapReader`,
which dissects every packet fully and does nothing else. Last line: the standard JSON.
"""

from __future__ import annotations

import struct
import sys
import tempfile
import time
from pathlib import Path

import orjson

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "pcap"
TARGET_PACKETS = 100_000


def build(path: Path) -> int:
    from scapy.utils import RawPcapReader

    source = CORPUS / "zeek" / "wikipedia.pcap"
    reader = RawPcapReader(str(source))  # type: ignore[no-untyped-call]
    linktype = reader.linktype
    records = [(data, meta) for data, meta in reader]
    reader.close()
    count = 0
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        round_ = 0
        while count < TARGET_PACKETS:
            for data, meta in records:
                # Shift each copy by an hour so flows of different rounds stay apart.
                out.write(
                    struct.pack("<IIII", meta.sec + round_ * 3600, meta.usec, len(data), len(data))
                )
                out.write(data)
                count += 1
            round_ += 1
    return count


def _decode_only(path: Path) -> int:
    """RawPcapReader + header slicing, no flows or events: the floor of the raw path."""
    from scapy.utils import RawPcapReader

    from collectors.netdecode import decode_frame

    reader = RawPcapReader(str(path))  # type: ignore[no-untyped-call]
    count = 0
    for data, _meta in reader:
        decode_frame(1, data)
        count += 1
    reader.close()
    return count


def main() -> None:
    # Load the layers the baseline dissects before timing anything: the raw path no longer
    # imports scapy's DNS layer, and without these PcapReader would quietly yield Raw packets.
    import scapy.layers.dns
    import scapy.layers.inet
    import scapy.layers.inet6
    import scapy.layers.l2  # noqa: F401
    from scapy.utils import PcapReader

    from collectors.packets import read_capture

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pcap"
        packets = build(path)
        start = time.perf_counter()
        with path.open("rb") as handle:
            events = sum(1 for _ in read_capture(handle, source="bench"))
        raw_s = time.perf_counter() - start
        start = time.perf_counter()
        decoded = _decode_only(path)
        decode_s = time.perf_counter() - start
        start = time.perf_counter()
        dissected = sum(1 for _ in PcapReader(str(path)))  # type: ignore[no-untyped-call]
        full_s = time.perf_counter() - start
    value, baseline = packets / raw_s, dissected / full_s
    print(
        f"{packets} packets -> {events} events: raw path {value:,.0f}/s, "
        f"scapy full dissection {baseline:,.0f}/s",
        file=sys.stderr,
    )
    result = {
        "metric": "packets_per_s_raw_summary_vs_scapy_dissection",
        "value": round(value),
        "baseline": round(baseline),
        "ratio": round(value / baseline, 2),
        "target": 10.0,
        "packets": packets,
        "events": events,
        "header_decode_only_per_s": round(decoded / decode_s),
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
