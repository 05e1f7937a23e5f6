"""Syslog over UDP, TCP and TLS into the spool (RFC 5424 and RFC 3164, auto-detected).

Guarantees:

- **TCP/TLS acknowledgement = spooled before reading more.** Each chunk the socket delivers is
  framed (RFC 6587 octet counting or LF), parsed, and written to the spool; reading stays
  paused until that write is committed and fsynced. Syslog has no application-level ack, so a
  SIGKILL loses at most the frames already in the kernel's socket buffers or in the chunk being
  spooled; everything the spool committed reaches the event store exactly once.
- **Back-pressure**: while the spool holds `max_pending` rows, TCP reading stays paused (the
  sender's writes block once its socket buffer fills); UDP datagrams are dropped and counted
  (`dropped` on /metrics), never silently. Datagrams the kernel drops because the socket's
  receive buffer overflowed are counted too (`collectors.udp_socket`: SO_RXQ_OVFL and
  /proc/net/udp), so for UDP `received` = parsed + dead-lettered + dropped holds exactly.
- **Nothing unparseable is lost**: a frame the parser refuses becomes a dead letter with the
  source, the reason (prefixed with the peer address), the connection's stream offset of the
  chunk that completed the frame (TCP; None for UDP) and the raw bytes, cut at the spool's
  64 KiB limit (`collectors.spool.MAX_DEAD_RAW_BYTES`); a frame over `max_message_bytes` keeps
  only its first 256 bytes (the framer never buffers more).
- **Bounded memory**: per connection at most one chunk is in flight; UDP batches are capped at
  `batch_size` and dropped once `MAX_QUEUED_WRITES` writes are waiting.

Sources (counters, dead letters): `syslog-udp`, `syslog-tcp`, `syslog-tls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from collectors.parsers import ParseError, Parser, SyslogFramer
from collectors.spool_writer import MAX_QUEUED_WRITES, SpoolWriter
from collectors.udp_socket import (
    DROPS_ANCILLARY,
    KernelDrops,
    UdpSocketInfo,
    ancillary_drops,
    open_udp_socket,
    proc_drops,
)
from core.clock import Clock, SystemClock
from core.events import Event
from core.store.base import DeadLetter

log = logging.getLogger(__name__)

Enricher = Callable[[Event], Event]
UDP_FLUSH_SECONDS = 0.05
RESUME_POLL_SECONDS = 0.05
MAX_DATAGRAM = 65535
# Datagrams read per wake-up before the loop serves the other sockets (fairness).
UDP_READS_PER_WAKEUP = 256
# How often the kernel's drop counter is read from /proc (catches drops after the last read).
UDP_DROP_POLL_SECONDS = 1.0
DEFAULT_UDP_RCVBUF = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SyslogListen:
    """Where to listen; port 0 picks a free port (tests); `tls` None disables TLS."""

    host: str = "127.0.0.1"
    udp_port: int | None = 5514
    tcp_port: int | None = 5514
    tls_port: int | None = None
    tls: ssl.SSLContext | None = None
    udp_rcvbuf: int = DEFAULT_UDP_RCVBUF


def tls_context(*, cert: str, key: str) -> ssl.SSLContext:
    """Server-side TLS (1.2+) from PEM files, as in RFC 5425."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert, keyfile=key)
    return context


class Batcher:
    """Turns raw frames into events and dead letters for one source."""

    def __init__(
        self, *, parser: Parser, source: str, clock: Clock, enrich: Enricher | None
    ) -> None:
        self.parser = parser
        self.source = source
        self.clock = clock
        self.enrich = enrich

    def convert(
        self, frames: Sequence[tuple[bytes, str | None]], *, peer: str, offset: int | None
    ) -> tuple[list[Event], list[DeadLetter]]:
        received_at: datetime = self.clock.now()
        events: list[Event] = []
        dead: list[DeadLetter] = []
        parse = self.parser.parse
        for data, error in frames:
            if error is None:
                try:
                    event = parse(data, received_at=received_at, source=peer)
                except ParseError as exc:
                    error = str(exc)
                else:
                    events.append(self.enrich(event) if self.enrich else event)
                    continue
            dead.append(
                DeadLetter(
                    source=self.source,
                    reason=f"{peer}: {error}",
                    raw=data,
                    offset=offset,
                    received_at=received_at,
                )
            )
        return events, dead


class _StreamProtocol(asyncio.Protocol):
    """One TCP or TLS connection: frame, parse, spool, then read on."""

    def __init__(self, server: SyslogServer, batcher: Batcher) -> None:
        self._server = server
        self._batcher = batcher
        self._framer = SyslogFramer(max_frame=server.max_message_bytes)
        self._transport: asyncio.Transport | None = None
        self._peer = batcher.source
        self._offset = 0
        self._busy = False  # a write is in flight: reading is paused until it commits
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        scheme = self._batcher.source.removeprefix("syslog-")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._peer = f"{scheme}://{peer[0]}:{peer[1]}"
        self._server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        frames = self._framer.feed(data)
        offset = self._offset
        self._offset += len(data)
        self._submit(frames, offset)
        if self._framer.broken and self._transport is not None:
            self._closing = True

    def eof_received(self) -> bool | None:
        frames = self._framer.flush()
        self._closing = True
        self._submit(frames, self._offset)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)

    def _submit(self, frames: Sequence[tuple[bytes, str | None]], offset: int) -> None:
        if not frames:
            self._maybe_close()
            return
        events, dead = self._batcher.convert(frames, peer=self._peer, offset=offset)
        assert self._transport is not None
        self._transport.pause_reading()
        self._busy = True
        future = self._server.writer.write(self._batcher.source, events, dead)
        future.add_done_callback(self._written)

    def _written(self, future: asyncio.Future[None]) -> None:
        self._busy = False
        if future.exception() is not None:
            log.error("spool write failed; closing %s unacknowledged", self._peer)
            if self._transport is not None:
                self._transport.abort()
            return
        self._server.spooled += 1
        self._maybe_close()
        self.resume_if_possible()

    def resume_if_possible(self) -> None:
        """Read on unless a write is in flight or the spool is full (checked again later)."""
        transport = self._transport
        if transport is None or self._busy or self._closing or transport.is_closing():
            return
        if not self._server.writer.full:
            transport.resume_reading()

    def _maybe_close(self) -> None:
        if self._closing and not self._busy and self._transport is not None:
            self._transport.close()


class _DatagramProtocol(asyncio.DatagramProtocol):
    """UDP: parse each datagram, spool in small batches; drop (counted) when the spool is full."""

    def __init__(self, server: SyslogServer, batcher: Batcher) -> None:
        self._server = server
        self._batcher = batcher
        self._frames: list[tuple[bytes, str | None]] = []
        self._peers: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self.source = batcher.source

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        writer = self._server.writer
        if writer.full or writer.queued >= MAX_QUEUED_WRITES:
            writer.count_dropped(self._batcher.source)
            return
        self._frames.append((data, None))
        self._peers.append(f"udp://{addr[0]}:{addr[1]}")
        if len(self._frames) >= self._server.batch_size:
            self.flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(UDP_FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._frames:
            return
        frames, peers = self._frames, self._peers
        self._frames, self._peers = [], []
        events: list[Event] = []
        dead: list[DeadLetter] = []
        # Each datagram carries its own peer as `source`; a run of datagrams from one peer (the
        # usual case: a relay) is converted in one call, with one reception time, as TCP
        # converts a chunk.
        start = 0
        while start < len(frames):
            peer = peers[start]
            end = start + 1
            while end < len(frames) and peers[end] == peer:
                end += 1
            got, bad = self._batcher.convert(frames[start:end], peer=peer, offset=None)
            events.extend(got)
            dead.extend(bad)
            start = end
        future = self._server.writer.write(self._batcher.source, events, dead)
        future.add_done_callback(_report_udp_failure)


class _UdpReader:
    """Reads a non-blocking UDP socket with `recvmsg` so kernel drop counts are not lost."""

    def __init__(
        self, sock: socket.socket, protocol: _DatagramProtocol, server: SyslogServer
    ) -> None:
        self.sock = sock
        self._protocol = protocol
        self._server = server
        self._source = protocol.source
        self._drops = KernelDrops(proc_drops(sock) or 0)
        self._poller: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self._readable)
        self._poller = loop.call_later(UDP_DROP_POLL_SECONDS, self._poll, loop)

    def _readable(self) -> None:
        recvmsg = self.sock.recvmsg
        received = self._protocol.datagram_received
        for _ in range(UDP_READS_PER_WAKEUP):
            try:
                data, ancdata, _flags, addr = recvmsg(MAX_DATAGRAM, DROPS_ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP errors surfaced on the socket; keep reading
                log.warning("UDP receive error on %s: %s", self._source, exc)
                return
            if ancdata:
                self._count(ancillary_drops(ancdata))
            received(data, addr)

    def _count(self, cumulative: int | None) -> None:
        if cumulative is not None and (new := self._drops.update(cumulative)):
            self._server.writer.count_dropped(self._source, new)

    def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        self._count(proc_drops(self.sock))
        self._poller = loop.call_later(UDP_DROP_POLL_SECONDS, self._poll, loop)

    def close(self) -> None:
        """Read what is queued, count the last drops, stop listening."""
        if self._poller is not None:
            self._poller.cancel()
        with contextlib.suppress(OSError, ValueError):
            self._readable()
            self._count(proc_drops(self.sock))
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self._protocol.flush()
        self.sock.close()


def _report_udp_failure(future: asyncio.Future[None]) -> None:
    """UDP has no sender to refuse; a failed spool write is logged loudly instead."""
    if not future.cancelled() and future.exception() is not None:
        log.error("spool write of a UDP batch failed: %s", future.exception())


class SyslogServer:
    """UDP, TCP and optional TLS listeners writing through one `SpoolWriter`."""

    def __init__(
        self,
        *,
        writer: SpoolWriter,
        parser: Parser,
        listen: SyslogListen,
        max_message_bytes: int = 64 * 1024,
        batch_size: int = 500,
        clock: Clock | None = None,
        enrich: Enricher | None = None,
    ) -> None:
        self.writer = writer
        self.parser = parser
        self.listen = listen
        self.max_message_bytes = max_message_bytes
        self.batch_size = batch_size
        self.clock = clock or SystemClock()
        self.enrich = enrich
        self.connections: set[_StreamProtocol] = set()
        self.spooled = 0  # committed writes from streams (a test-visible progress counter)
        self.ports: dict[str, int] = {}
        self.udp_info: UdpSocketInfo | None = None
        self._servers: list[asyncio.Server] = []
        self._udp: list[_UdpReader] = []
        self._resumer: asyncio.Task[None] | None = None

    def _batcher(self, source: str) -> Batcher:
        return Batcher(parser=self.parser, source=source, clock=self.clock, enrich=self.enrich)

    async def start(self) -> None:
        """Bind every configured listener; `ports` then holds the bound port per transport."""
        loop = asyncio.get_running_loop()
        spec = self.listen
        if spec.udp_port is not None:
            sock, info = open_udp_socket(spec.host, spec.udp_port, rcvbuf=spec.udp_rcvbuf)
            log.info(
                "UDP receive buffer %d bytes (requested %d, net.core.rmem_max %s); kernel drops %s",
                info.effective_rcvbuf,
                info.requested_rcvbuf,
                info.rmem_max,
                "counted" if info.drop_counting else "NOT countable on this system",
            )
            self.udp_info = info
            reader = _UdpReader(sock, _DatagramProtocol(self, self._batcher("syslog-udp")), self)
            reader.start(loop)
            self._udp.append(reader)
            self.ports["udp"] = sock.getsockname()[1]
        streams = [("tcp", spec.tcp_port, None), ("tls", spec.tls_port, spec.tls)]
        for name, port, context in streams:
            if port is None or (name == "tls" and context is None):
                continue
            batcher = self._batcher(f"syslog-{name}")
            server = await loop.create_server(
                lambda b=batcher: _StreamProtocol(self, b), spec.host, port, ssl=context
            )
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]
        self._resumer = asyncio.create_task(self._resume_paused())

    async def _resume_paused(self) -> None:
        """Connections paused by a full spool read on once the consumer has drained it."""
        while True:
            await asyncio.sleep(RESUME_POLL_SECONDS)
            for connection in list(self.connections):
                connection.resume_if_possible()

    async def stop(self) -> None:
        """Stop listening, spool what UDP has buffered and wait for in-flight writes."""
        if self._resumer is not None:
            self._resumer.cancel()
        for server in self._servers:
            server.close()
        for reader in self._udp:
            reader.close()
        for connection in list(self.connections):
            if connection._transport is not None:
                connection._transport.close()
        for server in self._servers:
            await server.wait_closed()
        # Let writes queued just now complete before the writer thread is stopped.
        await asyncio.sleep(0)
