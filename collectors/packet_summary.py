"""Decoded packets to ECS network events: flows, DNS, HTTP request lines and TLS server names.

`PacketSummariser` takes raw frames (link type, bytes, capture time) from either reader in
`collectors.packets` and keeps the flow table. Headers are sliced in `collectors.netdecode`
rather than dissected by scapy, which is ~100x faster (see bench/packets.py); this module needs
no scapy at all. A flow is the 5-tuple as first seen (its first sender is `source.*`); it is
summarised when idle for `flow_timeout` seconds of capture time, when the table is full (oldest
first) and at the end of a file.

`event.original` of these events is a one-line summary of what was read, not packet bytes: the
capture file is the original, and packet payloads carry cookies and passwords we must not copy.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors import netdecode as nd
from collectors.errors import ParseError
from core.clock import utc_iso
from core.events import Event, set_field

DEFAULT_FLOW_TIMEOUT = 60.0
DEFAULT_MAX_FLOWS = 65_536
_SWEEP_EVERY = 1.0  # seconds of capture time between idle-flow sweeps
# Capture times `datetime` can format: 0001-01-01 up to the end of 9999 (epoch seconds).
MIN_TIMESTAMP = -62_135_596_800.0
MAX_TIMESTAMP = 253_402_300_799.0


@dataclass(slots=True)
class _Flow:
    packet: nd.Packet  # the first packet: its sender is the flow's source
    first: float
    last: float
    packets: int = 0
    bytes: int = 0
    reply_packets: int = 0
    reply_bytes: int = 0
    hello: bytearray | None = None  # a ClientHello spanning several segments, being collected
    community: str | None = None  # Community ID, computed when the first event needs it


class _Timestamps:
    """ECS timestamps of capture times; the date-time part is formatted once per second.

    Packets arrive in bursts within one second, and `datetime` formatting was a large share of
    the per-event cost (bench/packets.py).
    """

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, timestamp: float) -> str:
        # As datetime.fromtimestamp: round to microseconds, then isoformat cuts to milliseconds.
        fraction, whole = math.modf(timestamp)
        second, micros = int(whole), round(fraction * 1e6)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        elif micros < 0:  # before 1970: modf keeps the sign
            second, micros = second - 1, micros + 1_000_000
        millis = micros // 1000
        if second != self._second:
            self._second = second
            self._prefix = utc_iso(datetime.fromtimestamp(second, UTC))[:-4]  # keep "...:SS."
        return f"{self._prefix}{millis:03d}Z"


@dataclass(slots=True)
class CaptureStats:
    """What a summariser saw; `skipped` frames were not IP or too short to read."""

    packets: int = 0
    skipped: int = 0
    flows: int = 0
    dns: int = 0
    http: int = 0
    tls: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class PacketSummariser:
    """Turns frames into ECS events; collect them with `drain()` (events queue up in order)."""

    def __init__(
        self,
        *,
        source: str,
        flow_timeout: float = DEFAULT_FLOW_TIMEOUT,
        max_flows: int = DEFAULT_MAX_FLOWS,
        received_at: datetime | None = None,
    ) -> None:
        if flow_timeout <= 0 or max_flows < 1:
            raise ValueError("flow_timeout and max_flows must be positive")
        self.source = source
        self.flow_timeout = flow_timeout
        self.max_flows = max_flows
        self.stats = CaptureStats()
        self._created = utc_iso(received_at or datetime.now(UTC))
        self._flows: OrderedDict[tuple[Any, ...], _Flow] = OrderedDict()
        self._events: list[Event] = []
        self._next_sweep = 0.0
        self._iso = _Timestamps()
        # scapy's DNS layer reads the odd DNS messages; importing it takes ~1 s, which must not
        # fall on the first odd packet of a live capture (bench/fuzz.py saw it as the slowest).
        import scapy.layers.dns  # noqa: F401, PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it

    def drain(self) -> list[Event]:
        """The events summarised so far, oldest first; the queue is emptied."""
        events, self._events = self._events, []
        return events

    def add(self, linktype: int, data: bytes, timestamp: float) -> None:
        """Account one captured frame (`timestamp`: epoch seconds of capture).

        A frame with a capture time outside years 1-9999 (or NaN) raises ParseError before it
        touches any flow, so the caller can dead-letter it; a malformed frame is `skipped`
        and counted under `extra["malformed"]`.
        """
        if not MIN_TIMESTAMP <= timestamp <= MAX_TIMESTAMP:
            raise ParseError(f"capture time {timestamp!r} out of range", field="timestamp")
        self.stats.packets += 1
        try:
            packet = nd.decode_frame(linktype, data)
        except ParseError:
            self._count("malformed")
            packet = None
        if packet is None:
            self.stats.skipped += 1
            return
        if timestamp >= self._next_sweep:
            self.expire(timestamp)
        key = (packet.src, packet.sport, packet.dst, packet.dport, packet.proto)
        flows = self._flows
        flow = flows.get(key)
        forward = True
        if flow is None:
            flow = flows.get((packet.dst, packet.dport, packet.src, packet.sport, packet.proto))
            if flow is not None and timestamp - flow.last > self.flow_timeout:
                del flows[(packet.dst, packet.dport, packet.src, packet.sport, packet.proto)]
                self._emit_flow(flow)
                flow = None
            if flow is None:
                if len(flows) >= self.max_flows:
                    self._emit_flow(flows.popitem(last=False)[1])
                flow = flows[key] = _Flow(packet, timestamp, timestamp)
            else:
                forward = False
                key = (packet.dst, packet.dport, packet.src, packet.sport, packet.proto)
        elif timestamp - flow.last > self.flow_timeout:  # idle too long: a new flow
            del flows[key]
            self._emit_flow(flow)
            flow = flows[key] = _Flow(packet, timestamp, timestamp)
        flows.move_to_end(key)
        if forward:
            flow.packets += 1
            flow.bytes += packet.length
        else:
            flow.reply_packets += 1
            flow.reply_bytes += packet.length
        flow.last = max(flow.last, timestamp)
        payload = packet.payload
        if payload:
            self._application(flow, packet, payload, timestamp, forward)

    def _count(self, name: str) -> None:
        self.stats.extra[name] = self.stats.extra.get(name, 0) + 1

    def _application(
        self, flow: _Flow, packet: nd.Packet, payload: bytes, timestamp: float, forward: bool
    ) -> None:
        if packet.sport == 53 or packet.dport == 53:
            if packet.proto == 6:  # DNS over TCP: a 2-byte length first
                if len(payload) < 14 or int.from_bytes(payload[:2], "big") != len(payload) - 2:
                    return
                payload = payload[2:]
            self._dns(flow, packet, payload, timestamp)
            return
        if packet.proto != 6:
            return
        if flow.hello is not None and forward:
            flow.hello += payload
            self._tls_complete(flow, packet, timestamp)
        elif nd.is_client_hello_start(payload):
            flow.hello = bytearray(payload)
            self._tls_complete(flow, packet, timestamp)
        elif nd.looks_like_http_request(payload):
            request = nd.parse_http_request(payload)
            if request is not None:
                self._http(flow, packet, request, timestamp)

    def _base(
        self, flow: _Flow, packet: nd.Packet, timestamp: float, *, dataset: str, original: str
    ) -> Event:
        transport = nd.TRANSPORTS.get(packet.proto, str(packet.proto))
        event: Event = {
            "@timestamp": self._iso(timestamp),
            "event": {
                "kind": "event",
                "dataset": dataset,
                "category": ["network"],
                "type": ["protocol"],
                "original": original,
                "created": self._created,
            },
            "network": {
                "transport": transport,
                "type": f"ipv{packet.ip_version}",
                "iana_number": str(packet.proto),
            },
            "source": {"ip": packet.src},
            "destination": {"ip": packet.dst},
            "dijkwacht": {"ingest": {"source": self.source}},
        }
        if packet.proto in (6, 17):
            event["source"]["port"] = packet.sport
            event["destination"]["port"] = packet.dport
            community = flow.community
            if community is None:  # once per flow: its DNS/HTTP/TLS events share the hash
                first = flow.packet
                community = flow.community = nd.community_id(
                    first.src, first.dst, first.proto, first.sport, first.dport
                )
            event["network"]["community_id"] = community
        return event

    def _dns(self, flow: _Flow, packet: nd.Packet, payload: bytes, timestamp: float) -> None:
        try:
            fields = nd.dns_fields(payload)
        except ParseError:
            self._count("dns_unreadable")
            return
        name = fields.get("dns.question.name", "")
        qtype = fields.get("dns.question.type", "")
        summary = f"dns {fields['dns.type']} id={fields['dns.id']} {name} {qtype}".rstrip()
        if "dns.response_code" in fields:
            summary += (
                f" {fields['dns.response_code']} answers={len(fields.get('dns.answers', []))}"
            )
        event = self._base(flow, packet, timestamp, dataset="network.dns", original=summary)
        event["network"]["protocol"] = "dns"
        for path, value in fields.items():
            set_field(event, path, value)
        self.stats.dns += 1
        self._events.append(event)

    def _http(
        self, flow: _Flow, packet: nd.Packet, request: nd.HttpRequest, timestamp: float
    ) -> None:
        summary = f"{request.method} {request.target} HTTP/{request.version}"
        if request.host is not None:
            summary += f" Host: {request.host}"
        event = self._base(flow, packet, timestamp, dataset="network.http", original=summary)
        event["event"]["category"] = ["network", "web"]
        event["event"]["type"] = ["protocol", "access"]
        event["network"]["protocol"] = "http"
        event["http"] = {"request": {"method": request.method}, "version": request.version}
        event["url"] = {"original": request.target}
        domain = _host_name(request.host)
        if domain:
            event["url"]["domain"] = domain
        self.stats.http += 1
        self._events.append(event)

    def _tls_complete(self, flow: _Flow, packet: nd.Packet, timestamp: float) -> None:
        record = flow.hello
        assert record is not None
        needed = nd.client_hello_length(bytes(record[:5]))
        if len(record) < needed and len(record) < nd.MAX_CLIENT_HELLO:
            return  # wait for the next segment of the ClientHello
        flow.hello = None
        data = bytes(record[:needed])
        name = nd.parse_sni(data)
        version = nd.tls_version_name(data)
        summary = f"tls client_hello server_name={name or '-'}"
        event = self._base(flow, packet, timestamp, dataset="network.tls", original=summary)
        event["network"]["protocol"] = "tls"
        tls: dict[str, Any] = {"client": {}}
        if name:
            tls["client"]["server_name"] = name
        if version:
            tls["version"], tls["version_protocol"] = version, "tls"
        event["tls"] = {key: value for key, value in tls.items() if value}
        self.stats.tls += 1
        self._events.append(event)

    def expire(self, now: float) -> None:
        """Summarise flows idle for longer than the timeout at capture time `now`."""
        self._next_sweep = now + _SWEEP_EVERY
        flows = self._flows
        limit = now - self.flow_timeout
        while flows:
            key, flow = next(iter(flows.items()))
            if flow.last > limit:
                break
            del flows[key]
            self._emit_flow(flow)

    def flush(self) -> None:
        """Summarise every open flow (end of file, end of capture)."""
        while self._flows:
            self._emit_flow(self._flows.popitem(last=False)[1])

    def _emit_flow(self, flow: _Flow) -> None:
        packet = flow.packet
        transport = nd.TRANSPORTS.get(packet.proto, str(packet.proto))
        where = (
            f"{packet.src}:{packet.sport} -> {packet.dst}:{packet.dport}"
            if packet.proto in (6, 17)
            else f"{packet.src} -> {packet.dst}"
        )
        summary = (
            f"flow {transport} {where} packets={flow.packets}/{flow.reply_packets} "
            f"bytes={flow.bytes}/{flow.reply_bytes}"
        )
        event = self._base(flow, packet, flow.first, dataset="network.flow", original=summary)
        event["event"].update(
            type=["connection"],
            action="network_flow",
            start=self._iso(flow.first),
            end=self._iso(flow.last),
            duration=round((flow.last - flow.first) * 1e9),
        )
        event["source"].update(bytes=flow.bytes, packets=flow.packets)
        event["destination"].update(bytes=flow.reply_bytes, packets=flow.reply_packets)
        event["network"].update(
            bytes=flow.bytes + flow.reply_bytes, packets=flow.packets + flow.reply_packets
        )
        self.stats.flows += 1
        self._events.append(event)


def _host_name(host: str | None) -> str | None:
    """`example.org:8080` or `[2001:db8::1]:80` without the port."""
    if not host:
        return None
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else None
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host
