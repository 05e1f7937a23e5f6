"""Packets in: pcap/pcapng files and live capture, handed to the flow summariser.

Files are read with scapy's `RawPcapReader` (pcap and pcapng) and live traffic with a raw
PF_PACKET socket, both without scapy's dissection: the frames go as bytes to
`collectors.packet_summary.PacketSummariser`, which slices the headers and keeps the flows.
A damaged part of a file becomes a dead letter; what precedes it is still summarised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, BinaryIO

from collectors import netdecode as nd
from collectors.errors import MALFORMED_INPUT, ParseError
from collectors.packet_summary import (  # noqa: F401 - re-exported: the readers' callers use them
    DEFAULT_FLOW_TIMEOUT,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    CaptureStats,
    PacketSummariser,
)
from core.events import Event
from core.store.base import DeadLetter

MAX_DEAD_RAW = 256  # bytes of a damaged capture kept with its dead letter


# -- files -------------------------------------------------------------------------------------

CaptureItem = Event | DeadLetter


def read_capture(
    handle: BinaryIO,
    *,
    source: str,
    flow_timeout: float = DEFAULT_FLOW_TIMEOUT,
    received_at: datetime | None = None,
    stats: CaptureStats | None = None,
) -> Iterator[CaptureItem]:
    """Events of a pcap/pcapng file, then a DeadLetter for any part that could not be read.

    What precedes damage is always summarised; open flows are flushed at the end of the file.
    """
    from scapy.error import Scapy_Exception  # noqa: PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it
    from scapy.utils import RawPcapNgReader, RawPcapReader  # noqa: PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it

    unreadable: tuple[type[Exception], ...] = (Scapy_Exception, OSError, *MALFORMED_INPUT)
    summariser = PacketSummariser(source=source, flow_timeout=flow_timeout, received_at=received_at)
    if stats is not None:
        summariser.stats = stats
    size = _size(handle)
    try:
        # scapy's stubs say `str`; it reads file objects too. Any: we use its raw methods.
        reader: Any = RawPcapReader(handle)  # type: ignore[arg-type]
    except (EOFError, *unreadable) as exc:  # type: ignore[misc]  # mypy cannot read the star
        reason = f"not a readable pcap or pcapng file ({type(exc).__name__}: {exc})"
        yield _damage(handle, 0, size, reason, source)
        return
    ng = isinstance(reader, RawPcapNgReader)
    nano = bool(getattr(reader, "nano", False))
    linktype = int(getattr(reader, "linktype", nd.LINKTYPE_ETHERNET))
    before = handle.tell()
    # Block by block (pcapng statistics blocks hold no packet), so `before` marks where a
    # damaged record starts.
    read_next = reader._read_block if ng else reader._read_packet
    while True:
        try:
            result = read_next()
        except EOFError:
            if before < size:  # stopped before the end: a cut or damaged last record
                reason = "truncated or damaged capture: the last record is incomplete"
                yield _damage(handle, before, size, reason, source)
            break
        except unreadable as exc:
            reason = f"damaged capture record ({type(exc).__name__}: {exc})"
            yield _damage(handle, before, size, reason, source)
            break
        if result is None:
            before = handle.tell()
            continue
        data, meta = result
        after = handle.tell()
        try:
            if ng:
                timestamp = ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
                summariser.add(meta.linktype, data, timestamp)
            else:
                timestamp = meta.sec + meta.usec / (1e9 if nano else 1e6)
                summariser.add(linktype, data, timestamp)
        except (ParseError, ZeroDivisionError, OverflowError) as exc:
            # One record with an impossible time (or time resolution): dead-letter it alone.
            yield _damage(handle, before, after, f"unreadable capture record: {exc}", source)
        if not ng and meta.caplen > len(data) and len(data) < 65535:
            reason = f"record truncated: {meta.caplen} bytes announced, {len(data)} present"
            yield _damage(handle, before, size, reason, source)
        before = after
        if summariser._events:
            yield from summariser.drain()
    summariser.flush()
    yield from summariser.drain()


def _size(handle: BinaryIO) -> int:
    position = handle.tell()
    end = handle.seek(0, 2)
    handle.seek(position)
    return end


def _damage(handle: BinaryIO, offset: int, size: int, reason: str, source: str) -> DeadLetter:
    """A dead letter for bytes [offset, size) of the capture, keeping the first few."""
    position = handle.tell()
    handle.seek(offset)
    raw = handle.read(MAX_DEAD_RAW)
    handle.seek(position)
    return DeadLetter(
        source=source,
        reason=f"byte offset {offset}: {reason}",
        raw=raw,
        offset=offset,
        raw_length=size - offset,
    )


# -- live capture ------------------------------------------------------------------------------


def capture_live(
    *,
    iface: str,
    sink: Callable[[Sequence[Event]], None],
    stop: threading.Event,
    flow_timeout: float = DEFAULT_FLOW_TIMEOUT,
    tick: float = 1.0,
    lfilter: Callable[[bytes], bool] | None = None,
    started: threading.Event | None = None,
) -> CaptureStats:
    """Capture on `iface` until `stop` is set, handing events to `sink` about every `tick` s.

    Uses scapy's `sniff(prn=..., store=False)` on a PF_PACKET socket whose frames are left as
    raw bytes (no dissection). Idle flows are summarised by wall-clock time; open flows are
    flushed when capture stops. `lfilter` sees raw frames (BPF needs libpcap, see
    docs/dependencies.md). Needs CAP_NET_RAW.
    """
    import time  # noqa: PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it

    from scapy.config import conf  # noqa: PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it
    from scapy.sendrecv import sniff  # noqa: PLC0415 - scapy costs 0.3-0.75 s to import; only packet decoding needs it

    summariser = PacketSummariser(source=f"iface:{iface}", flow_timeout=flow_timeout)
    sock: Any = conf.L2listen(iface=iface)
    linktype = int(conf.l2types.layer2num.get(sock.LL, nd.LINKTYPE_ETHERNET))
    sock.LL = conf.raw_layer  # hand us bytes: we slice headers ourselves

    def on_packet(frame: Any) -> None:
        data = bytes(frame)
        if lfilter is None or lfilter(data):
            try:
                summariser.add(linktype, data, float(frame.time))
            except ParseError:  # a frame stamped outside years 1-9999: count it, keep capturing
                summariser._count("bad_timestamp")

    try:
        if started is not None:
            started.set()
        while not stop.is_set():
            sniff(opened_socket=sock, prn=on_packet, store=False, timeout=tick)
            summariser.expire(time.time())
            events = summariser.drain()
            if events:
                sink(events)
        summariser.flush()
        events = summariser.drain()
        if events:
            sink(events)
    finally:
        sock.close()
    return summariser.stats
