"""Run the configured collectors and the spool consumer in one process until a signal.

`dijkwacht collect` (and the `collector` child of `dijkwacht up`) call `run_collect`: the
syslog server, the HTTP ingest listener (`collectors.http_server`) and the RELP server
(`collectors.relp`) on the event loop, the file tailers (when `tail_files` is set) and one live
capture per `capture_interfaces` entry in supervised threads (`collectors.sources`: a crash is
logged, counted and the source restarted with back-off), all enriched by one process-wide
hook (`collectors.hooks`). Shutdown on SIGINT/SIGTERM is clean: listeners close, buffered UDP
input and in-flight TCP chunks are spooled, the threaded sources commit their last batch and
stop, the writer commits, and the consumer moves one last batch before the process exits.

Faults that pass by themselves (full disk, read-only or locked database) pause instead of
ending the process: one `collectors.health.IngestHealth` is shared by the writer, the consumer
and the sources, and its state is published to `run/collector.json` (see `collectors.health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable

from collectors.consumer import MAX_BACKLOG_BATCH, BatchHandler, run_consumer_thread
from collectors.health import (
    IngestHealth,
    Pauser,
    StatusPublisher,
    data_dir_setting,
    store_setting,
)
from collectors.hooks import EnrichFn, build_enrich_hook
from collectors.http_server import HttpIngestServer
from collectors.parsers import get_parser, zone_options
from collectors.relp import RelpServer
from collectors.sources import SupervisedSource, start_sources
from collectors.spool import open_spool
from collectors.spool_writer import SpoolWriter
from collectors.syslog_server import SyslogListen, SyslogServer, tls_context
from core.config import Settings
from core.gc_tuning import COLLECTOR_YOUNG_THRESHOLD, prepare_gc
from core.store.factory import open_event_store

log = logging.getLogger(__name__)


def syslog_listen(settings: Settings) -> SyslogListen:
    """Listener addresses from the settings; TLS only when a certificate and key are set."""
    context = None
    if settings.syslog_tls_cert is not None and settings.syslog_tls_key is not None:
        context = tls_context(cert=str(settings.syslog_tls_cert), key=str(settings.syslog_tls_key))
    return SyslogListen(
        host=settings.syslog_host,
        udp_port=settings.syslog_port,
        tcp_port=settings.syslog_port,
        tls_port=settings.syslog_tls_port if context is not None else None,
        tls=context,
        udp_rcvbuf=settings.syslog_udp_receive_buffer_bytes,
    )


async def serve_collectors(
    *,
    settings: Settings,
    on_batch: BatchHandler | None,
    stop: asyncio.Event,
    on_ready: Callable[[dict[str, int]], None] | None = None,
    enrich: EnrichFn | None = None,
    health: IngestHealth | None = None,
) -> None:
    """Serve until `stop` is set; raise if the consumer fails on a bug (the batch stays spooled).

    `enrich` is applied by every source between parse and spool (None: events as parsed).
    `health` is the pause state inputs read for back-pressure (default: a new one).
    """
    loop = asyncio.get_running_loop()
    # -- pause and resume (collectors.health) --
    health = health or IngestHealth()
    status = StatusPublisher(settings, health)
    consumer_pauser = Pauser(
        health=health, component="consumer", setting=store_setting(settings), blocks_input=False
    )
    # --
    writer = SpoolWriter(
        lambda: open_spool(settings), health=health, setting=data_dir_setting(settings)
    )
    writer.start(loop)
    consumer_stop = threading.Event()
    failures: list[BaseException] = []
    consumer = run_consumer_thread(
        open_spool=lambda: open_spool(settings),
        open_store=lambda: open_event_store(settings),
        batch_size=settings.ingest_batch_size,
        max_batch_size=MAX_BACKLOG_BATCH,
        on_batch=on_batch,
        stop=consumer_stop,
        failures=failures,
        pauser=consumer_pauser,
    )
    server: SyslogServer | None = None
    http: HttpIngestServer | None = None
    relp: RelpServer | None = None
    ports: dict[str, int] = {}
    sources_stop = threading.Event()
    sources: list[SupervisedSource] = []
    try:
        listen = syslog_listen(settings)  # also holds the TLS context RELP shares
        if settings.syslog_enabled:
            server = SyslogServer(
                writer=writer,
                parser=get_parser("syslog", **zone_options(settings)),
                listen=listen,
                max_message_bytes=settings.syslog_max_message_bytes,
                enrich=enrich,
            )
            await server.start()
            ports.update(server.ports)
        if settings.relp_enabled:
            relp = RelpServer(
                open_spool=lambda: open_spool(settings),
                parser=get_parser("syslog", **zone_options(settings)),
                host=settings.relp_host,
                port=settings.relp_port,
                max_message_bytes=settings.syslog_max_message_bytes,
                enrich=enrich,
                paused=lambda: health.paused,
                tls=listen.tls,
                tls_port=settings.relp_tls_port,
            )
            await relp.start()
            ports["relp"] = relp.port
            if relp.tls_port is not None:
                ports["relp-tls"] = relp.tls_port
        if settings.ingest_http_enabled:
            http = HttpIngestServer(settings=settings, enrich=enrich, paused=lambda: health.paused)
            await http.start()
            ports["http"] = http.port
        sources = start_sources(settings=settings, stop=sources_stop, enrich=enrich, health=health)
        status.publish()
        if on_ready is not None:
            on_ready(ports)
        while not stop.is_set() and not consumer_stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.2)
            status.publish()
    finally:
        if http is not None:
            await http.stop()
        if relp is not None:
            await relp.stop()
        if server is not None:
            await server.stop()
        sources_stop.set()
        for source in sources:
            await loop.run_in_executor(None, source.join)
        await loop.run_in_executor(None, writer.stop)
        consumer_stop.set()
        await loop.run_in_executor(None, consumer.join)
        status.publish("stopped")
    if failures:
        raise failures[0]


def run_collect(
    *,
    settings: Settings,
    on_batch: BatchHandler | None,
    on_ready: Callable[[dict[str, int]], None] | None = None,
) -> None:
    """Blocking entry point: serve until SIGINT or SIGTERM, every source enriched."""
    enrich = build_enrich_hook(settings=settings)
    prepare_gc(young_threshold=COLLECTOR_YOUNG_THRESHOLD)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve_collectors(
            settings=settings, on_batch=on_batch, stop=stop, on_ready=on_ready, enrich=enrich
        )

    asyncio.run(main())
