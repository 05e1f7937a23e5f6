"""RELP input: syslog with an acknowledgement per message, as rsyslog's `omrelp` sends it.

Plain TCP syslog has no acknowledgement: whatever sits in kernel buffers when the collector is
killed is gone, and the sender cannot know. RELP (librelp's protocol; there is no RFC) numbers
every message and the sender keeps it until the receiver answers `rsp 200 OK`, resending the
unanswered ones after a reconnect. We answer only after the message is committed to the spool,
so a kill -9 loses no acknowledged message; a message resent because its `rsp` was lost in the
crash is recognised and stored once (`collectors.relp_store`).

Frames, both ways: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`; TXNR 1-999999999 (0 for
`serverclose`), COMMAND 1-32 letters, DATALEN 0-999999999. Commands served: `open` (answered
with our offers `relp_version=0`, `commands=syslog`), `syslog` and `close`; anything else gets
`rsp 500`. A frame whose header cannot be read ends the session (`serverclose`, the bytes
dead-lettered): the stream cannot be resynchronised. A message over `max_message_bytes` is
dead-lettered (first 256 bytes, without buffering the rest) and acknowledged, as TCP does.

Per connection, the frames of one read are parsed and written in one spool transaction (on the
`RelpStore` thread); their `rsp` frames go out, in order, once it is committed. Reading pauses
meanwhile, and while the spool is full or the collector paused, so the sender's window fills
and it waits.
Source (counters, dead letters): `relp`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from collectors.parsers import Parser
from collectors.relp_store import RelpStore
from collectors.spool import Spool
from collectors.syslog_server import Batcher, Enricher
from core.clock import Clock, SystemClock
from core.errors import ConfigError

log = logging.getLogger(__name__)

SOURCE = "relp"
RELP_VERSION = "0"
SOFTWARE = "dijkwacht"
KEPT_OF_OVERSIZED = 256
RESUME_POLL_SECONDS = 0.05
# How long a clean stop waits for in-flight commits to be acknowledged.
STOP_WAIT_SECONDS = 5.0
# TXNR SP COMMAND SP DATALEN, then SP (data follows) or LF (no data).
_HEADER = re.compile(rb"([0-9]{1,9}) ([A-Za-z]{1,32}) ([0-9]{1,9})([ \n])")
_MAX_HEADER = 9 + 1 + 32 + 1 + 9 + 1
SERVERCLOSE = b"0 serverclose 0\n"


@dataclass(slots=True)
class RelpFrame:
    """One received frame; `error` set when DATA was too large (only its start is kept)."""

    txnr: int
    command: str
    data: bytes
    error: str | None = None


class RelpProtocolError(Exception):
    """The byte stream is not RELP; the session cannot continue."""


class RelpFramer:
    """Split a RELP byte stream into frames without ever buffering more than one frame."""

    def __init__(self, *, max_data: int) -> None:
        self.max_data = max_data
        self._buffer = bytearray()
        self._frame: RelpFrame | None = None  # header read, waiting for data + LF
        self._need = 0  # data bytes still expected for `_frame`
        self._kept = 0  # data bytes of an oversized frame kept so far
        self.error: RelpProtocolError | None = None

    def feed(self, data: bytes) -> list[RelpFrame]:
        """Frames completed by `data`, in order; after unreadable input `error` is set and
        the frames before it are still returned (the caller must then end the session)."""
        if self.error is not None:
            return []
        self._buffer += data
        frames: list[RelpFrame] = []
        try:
            self._split(frames)
        except RelpProtocolError as exc:
            self.error = exc
        return frames

    def _split(self, frames: list[RelpFrame]) -> None:
        while True:
            if self._frame is None and not self._read_header():
                return
            frame = self._frame
            assert frame is not None
            if not self._read_data(frame):
                return
            if not self._buffer:
                return
            if self._buffer[0] != 0x0A:
                raise RelpProtocolError(f"txnr {frame.txnr}: frame not terminated by LF")
            del self._buffer[0]
            frames.append(frame)
            self._frame = None

    def _read_header(self) -> bool:
        buffer = self._buffer
        while buffer[:1] in (b"\n", b"\r"):  # tolerate blank lines between frames
            del buffer[0]
        match = _HEADER.match(buffer)
        if match is None:
            end = buffer.find(b"\n")
            if len(buffer) >= _MAX_HEADER or end != -1:
                raise RelpProtocolError("frame header: expected 'TXNR COMMAND DATALEN'")
            return False
        txnr, command, length, separator = match.groups()
        self._frame = RelpFrame(int(txnr), command.decode("ascii").lower(), b"")
        self._need = int(length)
        self._kept = 0
        # With no data the header ends in LF (or `SP LF`); leave the LF as the trailer.
        del buffer[: match.end() - (1 if separator == b"\n" else 0)]
        if self._need > self.max_data:
            self._frame.error = f"message: larger than {self.max_data} bytes ({self._need})"
        return True

    def _read_data(self, frame: RelpFrame) -> bool:
        if self._need == 0:
            return True
        buffer = self._buffer
        take = min(self._need, len(buffer))
        if frame.error is None:
            if take < self._need:
                return False  # wait for the rest; at most max_data is buffered
            frame.data = bytes(buffer[:take])
        else:
            keep = min(take, KEPT_OF_OVERSIZED - self._kept)
            if keep > 0:
                frame.data += bytes(buffer[:keep])
                self._kept += keep
        del buffer[:take]
        self._need -= take
        return self._need == 0


def frame(txnr: int, command: str, data: bytes = b"") -> bytes:
    """Encode one frame (used for our responses, and by tests as a client)."""
    if not data:
        return b"%d %s 0\n" % (txnr, command.encode("ascii"))
    return b"%d %s %d %s\n" % (txnr, command.encode("ascii"), len(data), data)


def _rsp(txnr: int, status: str, extra: str = "") -> bytes:
    return frame(txnr, "rsp", (status + extra).encode("utf-8"))


class _RelpProtocol(asyncio.Protocol):
    """One RELP session: frame, convert, spool, then acknowledge and read on."""

    def __init__(self, server: RelpServer, scheme: str = "relp") -> None:
        self._server = server
        self._scheme = scheme
        self._framer = RelpFramer(max_data=server.max_message_bytes)
        self._transport: asyncio.Transport | None = None
        self._peer = SOURCE
        self._peer_host = ""
        self._session = uuid.uuid4().hex
        self._matching = True  # the session's first frames may be resends (see relp_store)
        self._open = False
        self._busy = False
        self._closing = False
        self._client_closed = False
        self._stopping = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._peer = f"{self._scheme}://{peer[0]}:{peer[1]}"
            self._peer_host = str(peer[0])
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        frames = self._framer.feed(data)
        error = self._framer.error
        replies: list[bytes] = []
        messages: list[tuple[bytes, str | None]] = []
        for item in frames:
            replies.extend(self._handle(item, messages))
        problems: list[tuple[bytes, str]] = []
        if error is not None:
            log.warning("RELP %s: %s; closing the session", self._peer, error)
            problems.append((data[:KEPT_OF_OVERSIZED], str(error)))
            replies.append(SERVERCLOSE)
            self._closing = True
        if not messages and not problems and not self._client_closed:
            self._reply(replies)
            return
        assert self._transport is not None
        self._transport.pause_reading()
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._commit(messages, problems, replies))
        self._server.tasks.add(task)
        task.add_done_callback(self._server.tasks.discard)

    async def _commit(
        self,
        messages: list[tuple[bytes, str | None]],
        problems: list[tuple[bytes, str]],
        replies: list[bytes],
    ) -> None:
        try:
            if messages or problems:
                done = await self._server.store.persist(
                    peer_host=self._peer_host,
                    peer=self._peer,
                    session=self._session,
                    matching=self._matching,
                    messages=messages,
                    problems=problems,
                )
                self._matching = done.matching
                self._server.resent += done.resent
            if self._client_closed:
                await self._server.store.forget(self._session)
        except Exception:
            # Nothing is acknowledged: the sender resends after it reconnects.
            log.exception("RELP spool write failed; closing %s unacknowledged", self._peer)
            if self._transport is not None:
                self._transport.abort()
            return
        finally:
            self._busy = False
        if self._stopping:
            replies.append(SERVERCLOSE)
            self._closing = True
        self._reply(replies)
        self.resume_if_possible()

    def _handle(self, item: RelpFrame, messages: list[tuple[bytes, str | None]]) -> list[bytes]:
        command = item.command
        if command == "open":
            if self._open:
                return [_rsp(item.txnr, "500 session already open")]
            self._open = True
            offers = f"\nrelp_version={RELP_VERSION}\nrelp_software={SOFTWARE}\ncommands=syslog"
            return [_rsp(item.txnr, "200 OK", offers)]
        if command == "syslog":
            if not self._open:
                return [_rsp(item.txnr, "500 session not open: send 'open' first")]
            messages.append((item.data, item.error))
            return [_rsp(item.txnr, "200 OK")]
        if command == "close":
            self._closing = self._client_closed = True
            return [_rsp(item.txnr, "200 OK")]
        return [_rsp(item.txnr, f"500 command not supported: {command[:32]}")]

    def _reply(self, replies: list[bytes]) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if replies:
            transport.write(b"".join(replies))
        if self._closing:
            transport.close()

    def resume_if_possible(self) -> None:
        """Read on unless a write is in flight, the spool is full or the collector paused."""
        transport = self._transport
        if transport is None or self._busy or self._closing or transport.is_closing():
            return
        if not self._server.store.full and not self._server.paused():
            transport.resume_reading()
        else:
            transport.pause_reading()

    def server_close(self) -> None:
        """Tell the sender we go away after acknowledging what is being committed (so a clean
        stop causes no resends); the sender reconnects and resends anything unanswered."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.pause_reading()
        self._stopping = True
        if not self._busy:
            self._closing = True
            self._reply([SERVERCLOSE])

    @property
    def done(self) -> bool:
        return self._transport is None or self._transport.is_closing()


class RelpServer:
    """A RELP listener; its messages go to the spool through a `RelpStore` (own thread)."""

    def __init__(
        self,
        *,
        open_spool: Callable[[], Spool],
        parser: Parser,
        host: str = "127.0.0.1",
        port: int = 2514,
        max_message_bytes: int = 64 * 1024,
        clock: Clock | None = None,
        enrich: Enricher | None = None,
        paused: Callable[[], bool] = lambda: False,
        tls: ssl.SSLContext | None = None,
        tls_port: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.tls_port = tls_port if tls is not None else None
        self.max_message_bytes = max_message_bytes
        self.paused = paused
        batcher = Batcher(parser=parser, source=SOURCE, clock=clock or SystemClock(), enrich=enrich)
        self.store = RelpStore(open_spool=open_spool, batcher=batcher, source=SOURCE)
        self.connections: set[_RelpProtocol] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.resent = 0  # resent messages recognised and not stored again
        self._servers: list[asyncio.Server] = []
        self._resumer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen on `port`, and on `tls_port` with TLS when a context is given."""
        loop = asyncio.get_running_loop()
        plain = await self._listen(loop, "relp_port", self.port, None)
        self.port = int(plain.sockets[0].getsockname()[1])
        if self.tls is not None and self.tls_port is not None:
            secure = await self._listen(loop, "relp_tls_port", self.tls_port, self.tls)
            self.tls_port = int(secure.sockets[0].getsockname()[1])
        self._resumer = asyncio.create_task(self._resume_paused())

    async def _listen(
        self,
        loop: asyncio.AbstractEventLoop,
        setting: str,
        port: int,
        context: ssl.SSLContext | None,
    ) -> asyncio.Server:
        scheme = "relp" if context is None else "relps"
        try:
            server = await loop.create_server(
                lambda: _RelpProtocol(self, scheme=scheme), self.host, port, ssl=context
            )
        except OSError as exc:
            raise ConfigError(
                f"{setting}: cannot listen on {self.host}:{port} ({exc.strerror})"
            ) from exc
        self._servers.append(server)
        return server

    async def _resume_paused(self) -> None:
        """Sessions paused by a full spool read on once the consumer has drained it."""
        while True:
            await asyncio.sleep(RESUME_POLL_SECONDS)
            if self.store.full:
                await self.store.refresh()
            for connection in list(self.connections):
                connection.resume_if_possible()

    async def stop(self) -> None:
        """Stop listening, send `serverclose` and let in-flight writes finish."""
        if self._resumer is not None:
            self._resumer.cancel()
        for server in self._servers:
            server.close()
        for connection in list(self.connections):
            connection.server_close()
        for _ in range(int(STOP_WAIT_SECONDS / RESUME_POLL_SECONDS)):
            if all(connection.done for connection in self.connections):
                break
            await asyncio.sleep(RESUME_POLL_SECONDS)
        for server in self._servers:
            await server.wait_closed()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self.store.close)
