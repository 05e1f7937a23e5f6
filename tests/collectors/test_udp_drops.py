"""UDP datagrams the kernel drops on a full receive buffer are counted: never silent."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from collectors.consumer import SpoolConsumer
from collectors.runtime import serve_collectors
from collectors.spool import open_spool
from collectors.udp_socket import KernelDrops, open_udp_socket, proc_drops
from core.config import load_settings
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.net import rfc5424
from tests.processes import free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="kernel drop counters are Linux")


def test_kernel_drop_counter_deltas() -> None:
    drops = KernelDrops(5)
    assert drops.update(5) == 0
    assert drops.update(9) == 4
    assert drops.update(7) == 0  # an older datagram's report adds nothing
    assert drops.update(2**32 - 1) == 0  # far "behind": stale, not a wrap
    wrapping = KernelDrops(2**32 - 2)
    assert wrapping.update(3) == 5


def test_socket_reports_buffer_and_drops() -> None:
    sock, info = open_udp_socket("127.0.0.1", 0, rcvbuf=1 << 20)
    with sock:
        assert info.effective_rcvbuf >= min(1 << 20, info.rmem_max or 0)
        assert info.drop_counting
        assert proc_drops(sock) == 0


def test_blast_at_a_paused_reader_is_fully_accounted(tmp_path: Path) -> None:
    """stored + counted dropped == sent, exactly, with most datagrams lost in the kernel."""
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        syslog_port=free_port(),
        ingest_batch_size=100,
        syslog_udp_receive_buffer_bytes=4096,
    )
    sent = 3000

    async def scenario() -> None:
        stop = asyncio.Event()
        ready: dict[str, int] = {}
        serving = asyncio.create_task(
            serve_collectors(settings=settings, on_batch=None, stop=stop, on_ready=ready.update)
        )
        while not ready:
            await asyncio.sleep(0.01)
        # Sending from the loop's own thread keeps the reader paused: nothing is read until
        # this loop yields, so the tiny receive buffer overflows.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            for seq in range(sent):
                udp.sendto(rfc5424(seq), ("127.0.0.1", ready["udp"]))
            await asyncio.sleep(0.3)  # resume: the reader drains and sees the drop count
            udp.sendto(rfc5424(sent), ("127.0.0.1", ready["udp"]))  # carries SO_RXQ_OVFL
            await asyncio.sleep(0.3)
        stop.set()
        await serving

    asyncio.run(scenario())
    total = sent + 1
    with open_spool(settings) as spool, SqliteEventStore(settings.event_db_path) as store:
        SpoolConsumer(spool=spool, store=store, batch_size=1000).drain()
        stored = store.count(EventQuery())
        (counter,) = [c for c in spool.counters() if c.source == "syslog-udp"]
    assert counter.dropped > sent // 2, "the 4 KiB buffer must have overflowed"
    assert stored + counter.dropped == total
    assert counter.received == total
    assert counter.parsed == stored
