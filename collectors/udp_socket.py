"""A UDP listening socket whose kernel-side drops are counted, never silent.

A datagram that arrives while the socket's receive buffer is full is thrown away by the kernel;
userspace never sees it. asyncio's `DatagramProtocol` hides those losses, so the syslog server
reads with `recvmsg` itself (a non-blocking socket on `loop.add_reader`) and learns them two
ways from the same kernel counter (`sk_drops`):

- `SO_RXQ_OVFL` (Linux): the kernel attaches its cumulative drop count to every datagram as
  ancillary data, so drops are seen as soon as the next datagram is read;
- `/proc/net/udp` (and `udp6`): the socket's `drops` column, matched by inode, read
  periodically and at shutdown to catch drops after the last datagram read.

`KernelDrops` turns the cumulative counter into deltas, whichever source reports first.
A larger `SO_RCVBUF` makes drops rarer; the kernel caps it at `net.core.rmem_max` unless the
process may use `SO_RCVBUFFORCE` (CAP_NET_ADMIN), and the effective size is logged at start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Linux socket option numbers (asm-generic/socket.h); Python's socket module lacks them.
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RMEM_MAX = Path("/proc/sys/net/core/rmem_max")
DROPS_ANCILLARY = socket.CMSG_SPACE(4)
_U32 = 1 << 32


@dataclass(frozen=True, slots=True)
class UdpSocketInfo:
    """What the kernel granted, for the start-up log line and the tests."""

    requested_rcvbuf: int
    effective_rcvbuf: int
    rmem_max: int | None
    drop_counting: bool


def read_rmem_max() -> int | None:
    """`net.core.rmem_max`, the cap on SO_RCVBUF for unprivileged processes (None off Linux)."""
    try:
        return int(RMEM_MAX.read_text().strip())
    except (OSError, ValueError):
        return None


def open_udp_socket(host: str, port: int, *, rcvbuf: int) -> tuple[socket.socket, UdpSocketInfo]:
    """A bound, non-blocking UDP socket with a large receive buffer and drop reporting on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        # The kernel doubles the value it stores (bookkeeping overhead); compare against that.
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < 2 * rcvbuf:
            # Not privileged: rmem_max applies, and the start-up log line says so.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            counting = True
        except OSError:
            counting = False
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    info = UdpSocketInfo(
        requested_rcvbuf=rcvbuf,
        effective_rcvbuf=sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
        rmem_max=read_rmem_max(),
        drop_counting=counting or proc_drops(sock) is not None,
    )
    return sock, info


def ancillary_drops(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's cumulative drop count attached by SO_RXQ_OVFL, if present."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(data) >= 4:
            return int(struct.unpack("=I", data[:4])[0])
    return None


def proc_drops(sock: socket.socket) -> int | None:
    """The socket's `drops` column in /proc/net/udp{,6}, found by the socket's inode."""
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except OSError:
        return None
    name = "udp6" if sock.family == socket.AF_INET6 else "udp"
    try:
        with open(f"/proc/net/{name}", encoding="ascii") as table:
            next(table, None)  # header
            for line in table:
                columns = line.split()
                if len(columns) >= 13 and columns[9] == inode:
                    return int(columns[-1])
    except (OSError, ValueError):
        return None
    return None


class KernelDrops:
    """Turns the kernel's cumulative (32-bit, wrapping) drop counter into new-drop deltas."""

    def __init__(self, initial: int = 0) -> None:
        self._seen = initial

    def update(self, cumulative: int) -> int:
        """New drops since the last update; an older (smaller) report adds nothing."""
        delta = (cumulative - self._seen) % _U32
        if delta == 0 or delta >= _U32 // 2:  # stale value from an earlier datagram
            return 0
        self._seen = cumulative
        return delta
