"""A small DNS message reader for the packet collector's `dns.*` fields.

scapy's DNS layer builds a packet object per record and dominated the packet path (about 0.3 ms
per message, bench/packets.py). The fields we publish need only the header, the first
question and the common answer types, so those are read here with `struct`; anything else
(an unusual record type or class, a malformed or truncated message) returns None and the
caller falls back to scapy, so odd records keep exactly the output they had.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

_HEADER = struct.Struct("!HHHHHH").unpack_from
_QUESTION_TAIL = struct.Struct("!HH").unpack_from
_RECORD_TAIL = struct.Struct("!HHIH").unpack_from

OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
RCODES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
}
# Question types named as scapy's `dnsqtypes` names them (the fallback must agree).
QTYPES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    10: "NULL",
    12: "PTR",
    13: "HINFO",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    52: "TLSA",
    64: "SVCB",
    65: "HTTPS",
    99: "SPF",
    255: "ALL",
    256: "URI",
    257: "CAA",
}
_NAME_TYPES = frozenset({2, 5, 12})  # NS, CNAME, PTR: the data is a (compressible) name
_FLAGS = (("AA", 0x0400), ("TC", 0x0200), ("RD", 0x0100), ("RA", 0x0080), ("AD", 0x0020))
_CD = 0x0010
MAX_POINTERS = 32  # compression pointers followed per name; more is a loop or an attack


class _Odd(Exception):
    """Not something this reader handles; the caller uses scapy."""


def _name(data: bytes, pos: int) -> tuple[str, int]:
    """The name at `pos` (compression followed) and the offset just after it in place."""
    labels: list[bytes] = []
    end = -1
    jumps = 0
    while True:
        length = data[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0 == 0xC0:
            if jumps >= MAX_POINTERS:
                raise _Odd
            jumps += 1
            if end < 0:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            continue
        if length & 0xC0:
            raise _Odd  # extended label types (RFC 6891 obsoleted them): leave to scapy
        label = data[pos + 1 : pos + 1 + length]
        if len(label) != length:
            raise _Odd
        labels.append(label)
        pos += 1 + length
    text = b".".join(labels).decode("utf-8", "replace") if labels else "."
    return text, end if end >= 0 else pos


def dns_message_fields(payload: bytes) -> dict[str, Any] | None:
    """ECS `dns.*` fields, or None when the message needs scapy (see the module doc)."""
    try:
        return _read(payload)
    except (_Odd, IndexError, struct.error):
        return None


def _read(data: bytes) -> dict[str, Any]:
    ident, flags, qdcount, ancount, _ns, _ar = _HEADER(data, 0)
    if flags & 0x0040:  # the reserved Z bit: unusual, keep scapy's reading
        raise _Odd
    response = bool(flags & 0x8000)
    opcode = (flags >> 11) & 0x0F
    header_flags = [name for name, bit in _FLAGS if flags & bit]
    if flags & _CD:
        header_flags.append("CD")
    fields: dict[str, Any] = {
        "dns.id": str(ident),
        "dns.type": "answer" if response else "query",
        "dns.op_code": OPCODES.get(opcode, str(opcode)),
        "dns.header_flags": header_flags,
    }
    pos = 12
    for index in range(qdcount):
        name, pos = _name(data, pos)
        qtype, qclass = _QUESTION_TAIL(data, pos)
        pos += 4
        if index == 0:
            if qtype not in QTYPES or qclass != 1:
                raise _Odd
            fields["dns.question.name"] = name
            fields["dns.question.type"] = QTYPES[qtype]
            fields["dns.question.class"] = "IN"
    if not response:
        return fields
    fields["dns.response_code"] = RCODES.get(flags & 0x0F, str(flags & 0x0F))
    answers = []
    resolved = []
    for _ in range(ancount):
        name, pos = _name(data, pos)
        rtype, rclass, ttl, length = _RECORD_TAIL(data, pos)
        pos += 10
        rdata = data[pos : pos + length]
        if len(rdata) != length or rclass != 1:
            raise _Odd
        if rtype == 1 and length == 4:
            value = socket.inet_ntop(socket.AF_INET, rdata)
            resolved.append(value)
        elif rtype == 28 and length == 16:
            value = socket.inet_ntop(socket.AF_INET6, rdata)
            resolved.append(value)
        elif rtype in _NAME_TYPES:
            value, _ = _name(data, pos)
        else:
            raise _Odd
        pos += length
        answers.append(
            {"name": name, "type": QTYPES[rtype], "class": "IN", "ttl": ttl, "data": value}
        )
    if answers:
        fields["dns.answers"] = answers
    if resolved:
        fields["dns.resolved_ip"] = resolved
    return fields
