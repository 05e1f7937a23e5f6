"""HTTP ingest offered at 1,000 events/s while 30 clients load the dashboard.

Run: `.venv/bin/python bench/http_load.py [--seconds 15] [--clients 30] [--rate 1000]`.

The issue: ingest shared the dashboard's uvicorn process, and with 30 dashboard clients only
8-37 % of 1,000 events/s was acknowledged (p99 30 s). Now ingest is served by the collector
process (`collectors.http_server`). Both run as child processes the way `dijkwacht up` runs
them: the dashboard (uvicorn, app factory) and `dijkwacht collect --no-detection`. The sender
is open-loop: every 50 ms it starts a request of `rate / 20` events with its own
`Idempotency-Key` (a pool of threads, so a slow reply does not lower the offered load), 30 s
timeout. Two legs: without dashboard load, then with `clients` threads asking the dashboard's
public pages (`/`, `/login`, `/health`, `/awareness/index.html`) over keep-alive connections
as fast as they are answered. Printed per leg: events offered and acknowledged, the
acknowledged share, reply latency p50/p99 and the dashboard's pages/s.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.collectors.crash_harness import Collector, Ports, free_port

PAGES = ("/", "/login", "/health", "/awareness/index.html")
TICK = 0.05


def dashboard(data_dir: Path) -> AbstractContextManager[int]:
    """The API as `dijkwacht up` starts it, in a child process; yields its port."""
    from bench.dashboard import serve

    return serve(data_dir)


def load_dashboard(port: int, stop: threading.Event, served: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = 0
    while not stop.is_set():
        try:
            conn.request("GET", PAGES[n % len(PAGES)])
            conn.getresponse().read()
            served[0] += 1
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n += 1


def offer(url: str, token: str, *, rate: int, seconds: float, leg: str) -> dict[str, Any]:
    """Open-loop sender: a batch every TICK; returns offered/acknowledged and latencies."""
    per_batch = max(1, int(rate * TICK))
    latencies: list[float] = []
    acked = [0]
    lock = threading.Lock()
    client = httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=64))

    def one(batch: int) -> None:
        stamp = datetime.now(UTC).isoformat()
        line = {"@timestamp": stamp, "event": {"kind": "event", "dataset": "load"}}
        body = b"\n".join(
            orjson.dumps({**line, "message": f"{leg}-{batch}-{i}"}) for i in range(per_batch)
        )
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{leg}-{batch}"}
        started = time.monotonic()
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            with lock:
                latencies.append(time.monotonic() - started)
                acked[0] += response.json()["accepted"]

    batches = int(seconds / TICK)
    with ThreadPoolExecutor(max_workers=64) as pool:
        start = time.monotonic()
        for batch in range(batches):
            delay = start + batch * TICK - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, batch)
    client.close()
    latencies.sort()
    offered = batches * per_batch

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)

    return {
        "offered": offered,
        "acknowledged": acked[0],
        "acknowledged_share": round(acked[0] / offered, 3),
        "p50_ms": pct(0.50) if latencies else None,
        "p99_ms": pct(0.99) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--rate", type=int, default=1000, help="events/s offered")
    args = parser.parse_args()

    from core.config import load_settings
    from tests.tokens import make_ingest_token

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dijkwacht-httpload-") as tmp:
        data_dir = Path(tmp)
        settings = load_settings(environment="test", data_dir=data_dir)
        token = make_ingest_token(settings, "load")
        ports = Ports(free_port(), free_port(), free_port())
        collector = Collector(data_dir, ports)
        collector.start()
        url = f"http://127.0.0.1:{ports.http}/api/ingest/load"
        try:
            with dashboard(data_dir) as port:
                results["idle"] = offer(
                    url, token, rate=args.rate, seconds=args.seconds, leg="idle"
                )
                print("idle", results["idle"], flush=True)
                stop = threading.Event()
                served = [0]
                threads = [
                    threading.Thread(target=load_dashboard, args=(port, stop, served), daemon=True)
                    for _ in range(args.clients)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(1)
                before = served[0]
                leg = offer(url, token, rate=args.rate, seconds=args.seconds, leg="loaded")
                leg["dashboard_pages_per_s"] = round((served[0] - before) / args.seconds, 1)
                stop.set()
                for thread in threads:
                    thread.join(70)
                results["dashboard_load"] = leg | {"clients": args.clients}
                print("dashboard_load", results["dashboard_load"], flush=True)
        finally:
            collector.terminate()
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    main()
