"""TCP syslog events/s through server, spool and event store vs a bare asyncio line reader.

Run: `.venv/bin/python bench/ingest.py [--events N] [--no-detection-leg]`.

What is compared (issue 3: "printed next to a bare asyncio reader that only counts lines on the
same stream in the same run"): both legs receive the same bytes from the same sender thread over
a real 127.0.0.1 TCP socket, in the same run.

- **Baseline** (`baseline`): an `asyncio.Protocol` that does the least any line-based collector
  must do: keep the partial line across chunks, split each chunk into lines and count every
  non-empty line in a Python loop. That is the floor of per-line work on asyncio. The older
  figure, `bytes.count(b"\n")` per chunk without ever touching a line, is kept as
  `baseline_chunk_count`: it measures socket throughput, not a reader of lines.
- **Collector** (`value`): `serve_collectors` as `dijkwacht collect` runs it (garbage
  collector prepared by `prepare_gc` as in `run_collect`), detection off:
  framing, parsing to ECS, spooling (WAL, fsync before the connection reads on), the consumer
  moving batches into the SQLite event store with its FTS index. Timed from the first byte sent
  until the last event is counted in the store, so zero loss is verified, not assumed.
- **With detection** (`with_detection`): the same leg in a fresh data directory with the
  detection hook of `dijkwacht collect` on the consumer (rule pack that ships).
- **UDP**: 10k and 50k datagrams/s offered for a few seconds; `loss_rate` = (sent - stored) /
  sent, and `counted_dropped` is what the collector counted (spool full, or dropped by the
  kernel on a full socket buffer), so `unaccounted` must be 0.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.consumer import BatchHandler
from collectors.parsers import SyslogFramer, get_parser
from collectors.runtime import serve_collectors
from collectors.spool import Spool
from core.config import Settings, load_settings
from core.gc_tuning import COLLECTOR_YOUNG_THRESHOLD, prepare_gc
from core.store.sqlite_events import SqliteEventStore


def payload(count: int, start: int = 0) -> bytes:
    return b"".join(
        f"<34>1 2025-01-31T09:15:00.123Z web-01 sshd 4242 ID47 - Failed password for jan "
        f"from 10.0.0.{n % 250} port 22 ssh2 seq={n}\n".encode()
        for n in range(start, start + count)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_tcp(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        view = memoryview(data)
        for start in range(0, len(data), 1 << 16):
            conn.sendall(view[start : start + (1 << 16)])


class _LineCounter(asyncio.Protocol):
    """The baseline: split the stream into lines (partial line kept) and count each one."""

    def __init__(self, expected: int, done: asyncio.Event) -> None:
        self.expected = expected
        self.done = done
        self.partial = b""
        self.lines = 0

    def data_received(self, chunk: bytes) -> None:
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        count = self.lines
        for line in lines:
            if line:
                count += 1
        self.lines = count
        if count >= self.expected:
            self.done.set()


class _ChunkCounter(_LineCounter):
    """Counts LF bytes per chunk without looking at lines (socket throughput, not a reader)."""

    def data_received(self, chunk: bytes) -> None:
        self.lines += chunk.count(b"\n")
        if self.lines >= self.expected:
            self.done.set()


def bare_reader(data: bytes, expected: int, protocol: type[_LineCounter]) -> float:
    """Seconds until `protocol` has seen every line of `data` sent by `send_tcp`."""

    async def main() -> float:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: protocol(expected, done), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        started = time.perf_counter()
        thread = threading.Thread(target=send_tcp, args=(port, data))
        thread.start()
        await done.wait()
        elapsed = time.perf_counter() - started
        thread.join()
        server.close()
        return elapsed

    return asyncio.run(main())


@contextmanager
def collector(settings: Settings, on_batch: BatchHandler | None = None) -> Iterator[dict[str, int]]:
    ports: dict[str, int] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def on_ready(bound: dict[str, int]) -> None:
        ports.update(bound)
        ready.set()

    thread = threading.Thread(
        target=lambda: loop.run_until_complete(
            serve_collectors(settings=settings, on_batch=on_batch, stop=stop, on_ready=on_ready)
        )
    )
    thread.start()
    if not ready.wait(15):
        raise RuntimeError("collector did not start")
    try:
        yield ports
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()


def stored(settings: Settings) -> int:
    """Exact number of events in the store (a full count: used once per leg, not polled)."""
    conn = sqlite3.connect(settings.event_db_path, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def wait_stored(settings: Settings, target: int, *, timeout: float) -> int:
    """Wait until the store holds `target` events; return the exact count.

    Polls `max(rowid)` (one index look-up) on one connection instead of `count(*)`, which
    scans the growing table every 50 ms and competed with the pipeline for the CPU and the
    disk. The bench never deletes events, so rowids are 1..n and max(rowid) reaches `target`
    exactly when the last event is committed (its FTS entry in the same transaction); the
    exact count is then verified once.
    """
    deadline = time.monotonic() + timeout
    conn: sqlite3.Connection | None = None
    try:
        while time.monotonic() < deadline:
            if conn is None and settings.event_db_path.exists():
                conn = sqlite3.connect(settings.event_db_path, timeout=30)
            if conn is not None:
                try:
                    high = conn.execute("SELECT max(rowid) FROM events").fetchone()[0] or 0
                except sqlite3.OperationalError:  # the store has not created its schema yet
                    high = 0
                if high >= target:
                    break
            time.sleep(0.05)
    finally:
        if conn is not None:
            conn.close()
    return stored(settings)


def dropped_udp(settings: Settings) -> int:
    """The collector's `dropped` counter for syslog-udp (spool full or kernel buffer overflow)."""
    with Spool(settings.resolved_data_dir / "spool.sqlite") as spool:
        return next((c.dropped for c in spool.counters() if c.source == "syslog-udp"), 0)


def send_udp(port: int, rate: int, seconds: float, start: int) -> tuple[int, float]:
    """Send `rate` datagrams/s for `seconds`; return how many were sent and the rate achieved."""
    lines = payload(int(rate * seconds), start).splitlines()
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    began = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for index in range(0, len(lines), per_tick):
            for line in lines[index : index + per_tick]:
                udp.sendto(line, ("127.0.0.1", port))
            pause = began + (index // per_tick + 1) * tick - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
    return len(lines), len(lines) / (time.perf_counter() - began)


def udp_leg(settings: Settings, port: int, rate: int, seconds: float, start: int) -> dict[str, Any]:
    """Offer `rate` datagrams/s; every one must end up stored or counted as dropped.

    The sender runs in its own process, as a real sender would: in a thread of this process it
    competed with the collector for the GIL and reached only a fraction of the offered rate
    (about 14k/s of 50k/s before the collector got cheaper), so `achieved_send_per_s` shows
    what was really offered.
    """
    before, dropped_before = stored(settings), dropped_udp(settings)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as sender:
        sent, achieved = sender.submit(send_udp, port, rate, seconds, start).result()
    # Wait until every datagram is stored or counted (drop counts are flushed when the spool
    # writer is idle, /proc is polled every second), or until nothing changes for 3 s.
    last, still = (-1, -1), 0.0
    while still < 3.0:
        now = (stored(settings) - before, dropped_udp(settings) - dropped_before)
        if sum(now) >= sent:
            break
        still = still + 0.25 if now == last else 0.0
        last = now
        time.sleep(0.25)
    got, dropped = stored(settings) - before, dropped_udp(settings) - dropped_before
    return {
        "offered_per_s": rate,
        "achieved_send_per_s": round(achieved),
        "sent": sent,
        "stored": got,
        "loss_rate": round(1 - got / sent, 4),
        "counted_dropped": dropped,
        "counted_loss_rate": round(dropped / sent, 4),
        "unaccounted": sent - got - dropped,
    }


def tcp_leg(settings: Settings, data: bytes, events: int, on_batch: BatchHandler | None) -> float:
    """Events/s from the first byte sent until the store holds them all (loss raises)."""
    with collector(settings, on_batch) as ports:
        started = time.perf_counter()
        sender = threading.Thread(target=send_tcp, args=(ports["tcp"], data))
        sender.start()
        count = wait_stored(settings, events, timeout=1200)
        elapsed = time.perf_counter() - started
        sender.join()
    if count != events:
        raise SystemExit(f"lost events: stored {count} of {events}")
    return events / elapsed


BATCH_SIZE = 5000
# Events run through `stage_costs` (the stages' cost per event hardly depends on the count).
STAGE_SAMPLE = 50_000
# What one `data_received` call gets: asyncio's selector transport reads at most 256 KiB.
READ_CHUNK = 256 * 1024


STAGES = ("parse", "spool", "store")


def stage_costs(data: bytes, *, batch_size: int, repeats: int = 3) -> dict[str, dict[str, float]]:
    """Microseconds per event of each collector stage, run one after another in this thread.

    The same code the collector runs, without threads, sockets or waiting, so the sum is the
    cost of one event through the whole pipeline and `1e6 / sum` what one core could do:

    - `parse`: LF framing (`SyslogFramer`) and the syslog parser, per 256 KiB read;
    - `spool`: `Spool.append` of each read's events (one fsynced commit), then `take` + `ack`
      in consumer batches;
    - `store`: `SqliteEventStore.add_batch` of those batches (validation, insert, indexes,
      FTS, one fsynced commit), into a store that starts empty.

    Returns `wall` (elapsed, fsync waits included) and `cpu` (this thread's CPU time, which
    other processes on the machine disturb less), each the best of `repeats` runs. Events are
    dropped after each batch as in the collector, so garbage collection costs what it costs
    there.
    """
    lines = data.count(b"\n")
    runs = [_stage_seconds(data, batch_size=batch_size) for _ in range(repeats)]
    return {
        kind: {stage: min(run[kind][stage] for run in runs) * 1e6 / lines for stage in STAGES}
        for kind in ("wall", "cpu")
    }


class _StageClock:
    """Wall-clock and thread-CPU seconds spent per stage."""

    def __init__(self) -> None:
        self.seconds = {"wall": dict.fromkeys(STAGES, 0.0), "cpu": dict.fromkeys(STAGES, 0.0)}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds["wall"][name] += time.perf_counter() - wall
            self.seconds["cpu"][name] += time.thread_time() - cpu


def _stage_seconds(data: bytes, *, batch_size: int) -> dict[str, dict[str, float]]:
    """One sequential run of `stage_costs`: seconds spent per stage."""
    parser = get_parser("syslog")
    framer = SyslogFramer()
    clock = _StageClock()
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool.sqlite", max_pending=10**9)
        store = SqliteEventStore(Path(tmp) / "events.sqlite")

        def move() -> None:
            with clock.stage("spool"):
                taken = spool.take(batch_size)
                if taken:
                    spool.ack(taken[-1][0])
            with clock.stage("store"):
                store.add_batch([event for _, event in taken])

        try:
            for start in range(0, len(data), READ_CHUNK):
                with clock.stage("parse"):
                    now = datetime.now(UTC)
                    events = [
                        parser.parse(frame.data, received_at=now, source="tcp://127.0.0.1:1")
                        for frame in framer.feed(data[start : start + READ_CHUNK])
                    ]
                with clock.stage("spool"):
                    spool.append(events, source="syslog-tcp")
                del events
                while spool.pending() >= batch_size:
                    move()
            while spool.pending():
                move()
        finally:
            store.close()
            spool.close()
    return clock.seconds


def breakdown(costs: dict[str, dict[str, float]], baseline: float) -> dict[str, Any]:
    """Per-event stage costs next to the bare reader's per-line cost, and the ratio they allow.

    `ceiling_ratio` = bare reader's wall time per line / the stages' wall time per event: the
    ratio a collector doing exactly this work could reach if nothing else cost anything. The
    threads overlap the stages on several cores, so the measured ratio can exceed it by at most
    the number of cores.
    """
    bare = 1e6 / baseline
    wall, cpu = costs["wall"], costs["cpu"]
    total = sum(wall.values())
    return {
        "stage_us_per_event": {name: round(us, 2) for name, us in wall.items()},
        "stage_cpu_us_per_event": {name: round(us, 2) for name, us in cpu.items()},
        "pipeline_us_per_event": round(total, 2),
        "bare_us_per_line": round(bare, 3),
        "single_core_events_per_s": round(1e6 / total),
        "ceiling_ratio": round(bare / total, 4),
    }


def bench_settings(data_dir: Path) -> Settings:
    return load_settings(
        environment="test",
        data_dir=data_dir,
        syslog_port=free_port(),
        ingest_batch_size=BATCH_SIZE,
    )


def detection_leg(data: bytes, events: int) -> dict[str, Any]:
    """The TCP leg with `dijkwacht collect`'s detection hook on the consumer."""
    from dijkwacht.detection_runtime import DetectionHook

    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        hook = DetectionHook(settings=settings)
        # The compiled rules live as long as the process, as in `run_collect`.
        prepare_gc(young_threshold=COLLECTOR_YOUNG_THRESHOLD)
        try:
            return {"events_per_s": round(tcp_leg(settings, data, events, hook))}
        finally:
            hook.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--udp-seconds", type=float, default=3.0)
    parser.add_argument("--no-detection-leg", action="store_true")
    parser.add_argument("--stage-sample", type=int, default=STAGE_SAMPLE)
    args = parser.parse_args()
    data = payload(args.events)
    # As `run_collect` does before serving (the bare reader gains nothing from it).
    prepare_gc(young_threshold=COLLECTOR_YOUNG_THRESHOLD)
    baseline = args.events / bare_reader(data, args.events, _LineCounter)
    chunk_count = args.events / bare_reader(data, args.events, _ChunkCounter)
    print(f"bare asyncio line reader: {baseline:,.0f} lines/s")
    print(f"bare asyncio LF count per chunk (extra): {chunk_count:,.0f} lines/s")
    costs = breakdown(
        stage_costs(payload(min(args.events, args.stage_sample)), batch_size=BATCH_SIZE),
        baseline,
    )
    print(
        "stage costs (us/event, one thread, wall [cpu]): "
        + ", ".join(
            f"{name} {us:.2f} [{costs['stage_cpu_us_per_event'][name]:.2f}]"
            for name, us in costs["stage_us_per_event"].items()
        )
        + f"; sum {costs['pipeline_us_per_event']:.2f} "
        + f"= {costs['single_core_events_per_s']:,} events/s on one core"
    )
    print(
        f"bare reader {costs['bare_us_per_line']:.3f} us/line -> implied ceiling ratio "
        f"{costs['ceiling_ratio']:.4f} (bare per-line cost / sum of per-event stage costs)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        value = tcp_leg(settings, data, args.events, None)
        print(f"collector -> spool -> store: {value:,.0f} events/s, stored {args.events}")
        with collector(settings) as ports:
            udp = [
                udp_leg(settings, ports["udp"], rate, args.udp_seconds, args.events + i * 10**7)
                for i, rate in enumerate((10_000, 50_000))
            ]
        for leg in udp:
            print(f"UDP {leg}")
    with_detection: dict[str, Any] | None = None
    if not args.no_detection_leg:
        with_detection = detection_leg(data, args.events)
        print(f"with detection: {with_detection}")
    print(
        orjson.dumps(
            {
                "metric": "tcp_syslog_ingest_events_per_s",
                "value": round(value),
                "baseline": round(baseline),
                "ratio": round(value / baseline, 3),
                "target": 0.3,
                "events": args.events,
                "stored": args.events,
                "lost": 0,
                "baseline_kind": "asyncio.Protocol splitting lines, per-line loop",
                "baseline_chunk_count": round(chunk_count),
                "ratio_to_chunk_count": round(value / chunk_count, 4),
                "with_detection": with_detection,
                "udp": udp,
                **costs,
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
