"""Just enough packet decoding for network summaries, with `struct` instead of scapy layers.

scapy's full dissection reads ~7k packets/s here, slicing headers ourselves ~100x more
(docs/dependencies.md), so link, IP and transport headers, HTTP request lines and the TLS
ClientHello's server name are read by hand, and so are common DNS messages
(`collectors.dnswire`); scapy's DNS layer reads only the odd ones.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
from dataclasses import dataclass
from typing import Any

from collectors.dnswire import RCODES, dns_message_fields
from collectors.errors import MALFORMED_INPUT, ParseError

# Link types (pcap LINKTYPE_* numbers) we can read.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_RAW_OLD = 12
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

TRANSPORTS = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_ETHER_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
_HTTP_METHODS = frozenset(
    {b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE"}
)
_HTTP_PREFIXES = frozenset(method[:3] for method in _HTTP_METHODS)
MAX_HTTP_HEAD = 8192  # request line + headers we look at; the rest of a segment is body
MAX_CLIENT_HELLO = 16384  # a TLS record is at most 2^14 bytes

_unpack_ipv4 = struct.Struct("!BBHHHBBH4s4s").unpack_from
_unpack_ports = struct.Struct("!HH").unpack_from
_unpack_u16 = struct.Struct("!H").unpack_from


@dataclass(slots=True)
class Packet:
    """The header fields a summary needs from one captured frame."""

    ip_version: int
    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    length: int  # IP packet length (header + payload), as the IP header says
    payload: bytes
    tcp_flags: int = 0


def _network_start(linktype: int, data: bytes) -> tuple[int, int] | None:
    """(ethertype-like protocol, offset of the network header) for a frame of `linktype`."""
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None
        offset = 12
        ethertype = _unpack_u16(data, offset)[0]
        while ethertype in _ETHER_VLAN and len(data) >= offset + 6:
            offset += 4
            ethertype = _unpack_u16(data, offset)[0]
        return ethertype, offset + 2
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_OLD, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not data:
            return None
        version = data[0] >> 4
        return (0x0800 if version == 4 else 0x86DD if version == 6 else 0), 0
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 5:
            return None
        version = data[4] >> 4  # the 4-byte family is in the writer's byte order; sniff IP
        return (0x0800 if version == 4 else 0x86DD if version == 6 else 0), 4
    if linktype == LINKTYPE_LINUX_SLL:
        return (_unpack_u16(data, 14)[0], 16) if len(data) >= 16 else None
    if linktype == LINKTYPE_LINUX_SLL2:
        return (_unpack_u16(data, 0)[0], 20) if len(data) >= 20 else None
    return None


def decode_frame(linktype: int, data: bytes) -> Packet | None:
    """The IP/transport view of a frame, or None for non-IP or truncated frames.

    Raises ParseError (never IndexError or struct.error) for a frame whose headers contradict
    each other, so one hostile packet cannot stop a capture. (The try costs nothing in 3.11;
    a wrapper function would cost a call per packet.)
    """
    try:
        start = _network_start(linktype, data)
        if start is None:
            return None
        ethertype, offset = start
        if ethertype == 0x0800:
            if len(data) < offset + 20:
                return None
            (ver_ihl, _tos, total, _ident, frag, _ttl, proto, _csum, src, dst) = _unpack_ipv4(
                data, offset
            )
            header = (ver_ihl & 0x0F) * 4
            if ver_ihl >> 4 != 4 or header < 20:
                return None
            end = min(offset + total, len(data)) if total >= header else len(data)
            body = offset + header
            version = 4
            src_text, dst_text = (
                socket.inet_ntop(socket.AF_INET, src),
                socket.inet_ntop(socket.AF_INET, dst),
            )
            length = total
            if frag & 0x1FFF:  # a later fragment: no transport header here
                return Packet(4, src_text, dst_text, proto, 0, 0, length, b"")
        elif ethertype == 0x86DD:
            if len(data) < offset + 40:
                return None
            payload_length = _unpack_u16(data, offset + 4)[0]
            proto = data[offset + 6]
            src_text = socket.inet_ntop(socket.AF_INET6, data[offset + 8 : offset + 24])
            dst_text = socket.inet_ntop(socket.AF_INET6, data[offset + 24 : offset + 40])
            body = offset + 40
            end = min(body + payload_length, len(data))
            length = 40 + payload_length
            version = 6
            while proto in _IPV6_EXTENSIONS and body + 8 <= end:
                proto, ext_len = data[body], (data[body + 1] + 1) * 8
                body += ext_len
            if proto == 44:  # fragment header
                return Packet(6, src_text, dst_text, proto, 0, 0, length, b"")
        else:
            return None
        return _transport(version, src_text, dst_text, proto, length, data, body, end)
    except (IndexError, ValueError, struct.error) as exc:
        raise ParseError(f"malformed frame ({type(exc).__name__})", field="frame") from exc


def _transport(
    version: int, src: str, dst: str, proto: int, length: int, data: bytes, body: int, end: int
) -> Packet:
    if proto == 6 and end - body >= 20:
        sport, dport = _unpack_ports(data, body)
        data_offset = (data[body + 12] >> 4) * 4
        flags = data[body + 13]
        return Packet(
            version, src, dst, proto, sport, dport, length, data[body + data_offset : end], flags
        )
    if proto == 17 and end - body >= 8:
        sport, dport = _unpack_ports(data, body)
        return Packet(version, src, dst, proto, sport, dport, length, data[body + 8 : end])
    if proto in (1, 58) and end - body >= 2:
        # ICMP: type and code take the ports' place, as Community ID does.
        return Packet(version, src, dst, proto, data[body], data[body + 1], length, b"")
    return Packet(version, src, dst, proto, 0, 0, length, b"")


def community_id(src: str, dst: str, proto: int, sport: int, dport: int, *, seed: int = 0) -> str:
    """Community ID v1 (corelight/community-id-spec): one flow hash that Zeek/Suricata share."""
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    a, b = socket.inet_pton(family, src), socket.inet_pton(family, dst)
    # ICMP: ports are type/code; the spec's optional request/reply pairing is not done.
    if (a, sport) > (b, dport):
        a, b, sport, dport = b, a, dport, sport
    digest = hashlib.sha1(
        struct.pack("!H", seed) + a + b + struct.pack("!BBHH", proto, 0, sport, dport)
    ).digest()
    return "1:" + base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str
    version: str
    host: str | None


def looks_like_http_request(payload: bytes) -> bool:
    """Cheap pre-check so most TCP segments cost one slice and one set lookup."""
    return payload[:3] in _HTTP_PREFIXES


def parse_http_request(payload: bytes) -> HttpRequest | None:
    """The request line and Host header of a segment that starts an HTTP/1.x request."""
    head = payload[:MAX_HTTP_HEAD]
    line_end = head.find(b"\r\n")
    if line_end < 0:
        line_end = head.find(b"\n")
        if line_end < 0:
            return None
    parts = head[:line_end].split(b" ")
    if len(parts) != 3 or parts[0] not in _HTTP_METHODS or not parts[2].startswith(b"HTTP/"):
        return None
    host = None
    for line in head[line_end:].split(b"\n")[1:]:
        line = line.rstrip(b"\r")
        if not line:
            break
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"host":
            host = value.strip().decode("latin-1")
            break
    return HttpRequest(
        method=parts[0].decode("ascii"),
        target=parts[1].decode("latin-1"),
        version=parts[2][5:].decode("latin-1"),
        host=host,
    )


def is_client_hello_start(payload: bytes) -> bool:
    """A TLS handshake record (0x16, version 3.x) holding a ClientHello (type 1)."""
    return len(payload) >= 6 and payload[0] == 0x16 and payload[1] == 3 and payload[5] == 1


def client_hello_length(payload: bytes) -> int:
    """Bytes needed for the whole first TLS record (header + body)."""
    return 5 + _unpack_u16(payload, 3)[0]


def parse_sni(record: bytes) -> str | None:
    """The server_name from a complete TLS record holding a ClientHello; None when absent."""
    try:
        pos = 5 + 4 + 2 + 32  # record header, handshake header, client version, random
        pos += 1 + record[pos]  # session id
        pos += 2 + _unpack_u16(record, pos)[0]  # cipher suites
        pos += 1 + record[pos]  # compression methods
        if pos + 2 > len(record):
            return None
        end = min(pos + 2 + _unpack_u16(record, pos)[0], len(record))
        pos += 2
        while pos + 4 <= end:
            ext_type, ext_len = _unpack_ports(record, pos)
            pos += 4
            if ext_type == 0:  # server_name: list length, then (type, length, name)*
                inner = pos + 2
                while inner + 3 <= pos + ext_len:
                    name_type = record[inner]
                    name_len = _unpack_u16(record, inner + 1)[0]
                    if name_type == 0:
                        return record[inner + 3 : inner + 3 + name_len].decode("ascii", "replace")
                    inner += 3 + name_len
                return None
            pos += ext_len
    except (IndexError, struct.error):
        return None
    return None


def tls_version_name(record: bytes) -> str | None:
    """The ClientHello's legacy version as ECS `tls.version` ("1.2"); TLS 1.3 also says 1.2."""
    if len(record) < 11:
        return None
    major, minor = record[9], record[10]
    if major != 3 or minor < 1:
        return None
    return f"1.{minor - 1}"


def dns_fields(payload: bytes) -> dict[str, Any]:
    """ECS `dns.*` fields of a DNS message; ParseError (field `dns`) when it is not one.

    The common messages are read by `collectors.dnswire` (fast); the rest by scapy.
    """
    fields = dns_message_fields(payload)
    return fields if fields is not None else scapy_dns_fields(payload)


def scapy_dns_fields(payload: bytes) -> dict[str, Any]:
    """ECS `dns.*` fields via scapy's DNS layer: the fallback for odd or damaged messages.

    scapy dissects lazily, so a truncated message fails on the first read of a missing field
    (AttributeError), not when it is built; the whole reading is the boundary. Raises
    ParseError (field `dns`) for a message scapy cannot read either.
    """
    from scapy.error import Scapy_Exception  # noqa: PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it

    unreadable: tuple[type[Exception], ...] = (Scapy_Exception, *MALFORMED_INPUT)
    try:
        return _scapy_dns_fields(payload)
    except unreadable as exc:
        raise ParseError(f"unreadable DNS message ({type(exc).__name__})", field="dns") from exc


def _scapy_dns_fields(payload: bytes) -> dict[str, Any]:
    from scapy.layers.dns import DNS, dnsclasses, dnsqtypes  # noqa: PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it

    message = DNS(payload)
    if message.qdcount and not message.qd:
        raise ParseError("question count without a question", field="dns.question")
    fields: dict[str, Any] = {
        "dns.id": str(message.id),
        "dns.type": "answer" if message.qr else "query",
        "dns.op_code": {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}.get(
            int(message.opcode), str(message.opcode)
        ),
        "dns.header_flags": [
            flag for flag in ("AA", "TC", "RD", "RA", "AD", "CD") if getattr(message, flag.lower())
        ],
    }
    questions = list(message.qd or [])
    if questions:
        question = questions[0]
        fields["dns.question.name"] = _name(question.qname)
        fields["dns.question.type"] = dnsqtypes.get(question.qtype, str(question.qtype))
        fields["dns.question.class"] = dnsclasses.get(question.qclass, str(question.qclass))
    if message.qr:
        fields["dns.response_code"] = RCODES.get(int(message.rcode), str(message.rcode))
        answers = []
        resolved = []
        for record in list(message.an or []):
            kind = dnsqtypes.get(record.type, str(record.type))
            data = _rdata(record)
            answers.append(
                {
                    "name": _name(record.rrname),
                    "type": kind,
                    "class": dnsclasses.get(record.rclass, str(record.rclass)),
                    "ttl": int(record.ttl),
                    "data": data,
                }
            )
            if kind in ("A", "AAAA"):
                resolved.append(data)
        if answers:
            fields["dns.answers"] = answers
        if resolved:
            fields["dns.resolved_ip"] = resolved
    return fields


def _name(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text[:-1] if text.endswith(".") and len(text) > 1 else text


def _rdata(record: Any) -> str:
    value = getattr(record, "rdata", None)
    if isinstance(value, list):
        value = b" ".join(v if isinstance(v, bytes) else str(v).encode() for v in value)
    if isinstance(value, bytes):
        return _name(value)
    return str(value) if value is not None else ""
