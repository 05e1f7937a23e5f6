"""TCP syslog events/s through server, spool and event store vs a bare asyncio line counter.

Run: `.venv/bin/python bench/ingest.py [--events N]`. Both legs receive the same byte stream
over a real 127.0.0.1 socket in the same run. The collector leg is timed until the last event is
in the event store (counted there: zero loss is verified, not assumed). UDP legs offer 10k and
50k events/s for a few seconds and report the loss rate. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.runtime import serve_collectors
from collectors.spool import Spool
from core.config import Settings, load_settings


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


def bare_reader(data: bytes, expected: int) -> float:
    """Seconds for an asyncio protocol that only counts LF to see every line."""

    class Counter(asyncio.Protocol):
        def __init__(self) -> None:
            self.lines = 0

        def data_received(self, chunk: bytes) -> None:
            self.lines += chunk.count(b"\n")
            if self.lines >= expected:
                done.set()

    async def main() -> float:
        nonlocal done
        done = asyncio.Event()
        server = await asyncio.get_running_loop().create_server(Counter, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        started = time.perf_counter()
        thread = threading.Thread(target=send_tcp, args=(port, data))
        thread.start()
        await done.wait()
        elapsed = time.perf_counter() - started
        thread.join()
        server.close()
        return elapsed

    done: asyncio.Event
    return asyncio.run(main())


@contextmanager
def collector(settings: Settings) -> Iterator[dict[str, int]]:
    ports: dict[str, int] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def on_ready(bound: dict[str, int]) -> None:
        ports.update(bound)
        ready.set()

    thread = threading.Thread(
        target=lambda: loop.run_until_complete(
            serve_collectors(settings=settings, on_batch=None, stop=stop, on_ready=on_ready)
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
    conn = sqlite3.connect(settings.event_db_path, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def wait_stored(settings: Settings, target: int, *, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = stored(settings)
    while count < target and time.monotonic() < deadline:
        time.sleep(0.05)
        count = stored(settings)
    return count


def udp_leg(
    settings: Settings, port: int, rate: int, seconds: float, start: int
) -> dict[str, float]:
    before = stored(settings)
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
    achieved = len(lines) / (time.perf_counter() - began)
    # Wait until the store stops growing, then count.
    last, count = -1, stored(settings)
    while count != last:
        time.sleep(0.5)
        last, count = count, stored(settings)
    got = count - before
    with Spool(settings.resolved_data_dir / "spool.sqlite") as spool:
        dropped = next((c.dropped for c in spool.counters() if c.source == "syslog-udp"), 0)
    return {
        "offered_per_s": rate,
        "achieved_send_per_s": round(achieved),
        "sent": len(lines),
        "stored": got,
        "loss_rate": round(1 - got / len(lines), 4),
        "counted_dropped_total": dropped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--udp-seconds", type=float, default=3.0)
    args = parser.parse_args()
    data = payload(args.events)
    baseline_s = bare_reader(data, args.events)
    baseline = args.events / baseline_s
    print(f"bare asyncio reader: {baseline:,.0f} lines/s ({len(data) / baseline_s / 1e6:.0f} MB/s)")

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environment="test", data_dir=Path(tmp), syslog_port=free_port(), ingest_batch_size=2000
        )
        with collector(settings) as ports:
            started = time.perf_counter()
            sender = threading.Thread(target=send_tcp, args=(ports["tcp"], data))
            sender.start()
            count = wait_stored(settings, args.events, timeout=600)
            elapsed = time.perf_counter() - started
            sender.join()
            value = count / elapsed
            print(f"collector -> spool -> store: {value:,.0f} events/s, stored {count}")
            udp = [
                udp_leg(settings, ports["udp"], rate, args.udp_seconds, args.events + i * 10**7)
                for i, rate in enumerate((10_000, 50_000))
            ]
            for leg in udp:
                print(f"UDP {leg}")
    ratio = value / baseline
    print(
        orjson.dumps(
            {
                "metric": "tcp_syslog_ingest_events_per_s",
                "value": round(value),
                "baseline": round(baseline),
                "ratio": round(ratio, 3),
                "target": 0.3,
                "events": args.events,
                "stored": count,
                "lost": args.events - count,
                "udp": udp,
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
