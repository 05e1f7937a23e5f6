"""Tiny pcap/pcapng writers with `struct`, so tests can write what scapy's writers refuse.

scapy's writers need a path and sane packet times; regression cases need a time past year
9999 or a frame whose headers lie, written byte for byte.
"""

from __future__ import annotations

import socket
import struct

CLIENT, RESOLVER = "192.0.2.10", "192.0.2.53"


def udp_frame(payload: bytes, *, sport: int = 40000, dport: int = 53) -> bytes:
    """An Ethernet/IPv4/UDP frame from CLIENT to RESOLVER (checksums zero: nobody checks)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        1,
        0,
        64,
        17,
        0,
        socket.inet_aton(CLIENT),
        socket.inet_aton(RESOLVER),
    )
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp


def pcap(frames: list[tuple[float, bytes]], *, linktype: int = 1) -> bytes:
    """A little-endian microsecond pcap file of (epoch seconds, frame) records."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for moment, frame in frames:
        sec = int(moment)
        usec = round((moment - sec) * 1e6)
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    return b"".join(out)


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def pcapng(frames: list[tuple[int, bytes]], *, linktype: int = 1) -> bytes:
    """A pcapng file of (raw 64-bit timestamp in microseconds, frame) enhanced packet blocks."""
    section = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    interface = _block(1, struct.pack("<HHI", linktype, 0, 65535))
    packets = [
        _block(6, struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(f), len(f)) + f)
        for stamp, f in frames
    ]
    return section + interface + b"".join(packets)
