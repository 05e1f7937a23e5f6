"""Events/s into Elasticsearch through our store, next to the client's own `parallel_bulk`.

Both sides index the same generated ECS events into fresh indices of the same server in the
same run, with the same mappings (our index template) and no refresh until the end. The ratio
ours / parallel_bulk is the metric; the target is 0.8. Our store validates every event, builds
ids and dead-letters refused documents, which `parallel_bulk` does not: that is what we pay.

Needs the server: DIJKWACHT_TEST_ES_URL or .cache/test-services.env (scripts/test-services.sh).
The last line printed is the standard JSON {"metric","value","baseline","ratio","target"}.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = REPO_ROOT / ".cache" / "test-services.env"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def es_url() -> str | None:
    """The test server's URL from the environment or the services file."""
    if os.environ.get("DIJKWACHT_TEST_ES_URL"):
        return os.environ["DIJKWACHT_TEST_ES_URL"]
    if ENV_FILE.is_file():
        for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "DIJKWACHT_TEST_ES_URL" and value.strip():
                return value.strip()
    return None


def events(count: int) -> list[dict[str, Any]]:
    """Realistic authentication events (~600 bytes each as JSON)."""
    from core.events import new_event

    out = []
    for i in range(count):
        user, host = f"user{i % 500}", f"web-{i % 20:02d}"
        ip = f"10.{i % 7}.{i % 250}.{i % 199 + 1}"
        out.append(
            new_event(
                timestamp=T0 + timedelta(milliseconds=37 * i),
                dataset="system.auth",
                original=(
                    f"<38>Mar  2 08:00:00 {host} sshd[{1000 + i % 900}]: Failed password for "
                    f"{user} from {ip} port {40000 + i % 20000} ssh2"
                ),
                fields={
                    "host.name": host,
                    "user.name": user,
                    "source.ip": ip,
                    "source.port": 40000 + i % 20000,
                    "event.outcome": "failure" if i % 3 else "success",
                    "event.category": ["authentication"],
                    "process.name": "sshd",
                    "process.pid": 1000 + i % 900,
                },
            )
        )
    return out


def ours(url: str, data: list[dict[str, Any]], *, prefix: str, batch: int, threads: int) -> float:
    """Seconds to store `data` with ElasticsearchEventStore.add_batch, `threads` writers."""
    from core.store.elasticsearch import ElasticsearchEventStore

    store = ElasticsearchEventStore.open(url, prefix=prefix)
    batches = [data[i : i + batch] for i in range(0, len(data), batch)]
    store.add_batch(batches[0][:1])  # create the first daily index outside the timing
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(store.add_batch, batches):
            pass
    store.refresh()
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def theirs(url: str, data: list[dict[str, Any]], *, prefix: str, batch: int, threads: int) -> float:
    """Seconds for `helpers.parallel_bulk` into an index with the same template."""
    from elasticsearch import Elasticsearch, helpers

    from core.store.elasticsearch import ElasticsearchEventStore

    ElasticsearchEventStore.open(url, prefix=prefix).close()  # installs the same template
    client = Elasticsearch(url, request_timeout=60)
    index = f"{prefix}-events-2026.03.02"
    client.indices.create(index=index)

    def actions() -> Iterator[dict[str, Any]]:
        for event in data:
            yield {"_index": index, "_source": event}

    start = time.perf_counter()
    for ok, item in helpers.parallel_bulk(
        client, actions(), thread_count=threads, chunk_size=batch, raise_on_error=False
    ):
        if not ok:
            raise SystemExit(f"parallel_bulk refused a document: {item}")
    client.indices.refresh(index=index)
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    url = es_url()
    if url is None:
        print(
            "bench/es_ingest.py needs Elasticsearch: set DIJKWACHT_TEST_ES_URL or run "
            "scripts/test-services.sh (writes .cache/test-services.env)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    from elasticsearch import Elasticsearch

    data = events(args.events)
    run = f"bench-{os.getpid()}"
    admin = Elasticsearch(url)
    try:
        # Alternate and keep the best of two, so neither side pays for a cold JVM alone.
        mine, base = [], []
        for round_ in range(2):
            base.append(
                theirs(
                    url, data, prefix=f"{run}-pb{round_}", batch=args.batch, threads=args.threads
                )
            )
            mine.append(
                ours(url, data, prefix=f"{run}-our{round_}", batch=args.batch, threads=args.threads)
            )
            admin.indices.delete(index=f"{run}-*", ignore_unavailable=True)
    finally:
        admin.indices.delete(index=f"{run}-*", ignore_unavailable=True)
        admin.indices.delete_index_template(name=f"{run}-*")
        admin.close()
    value, baseline = args.events / min(mine), args.events / min(base)
    print(f"ours:          {value:>10,.0f} events/s  (runs: {[round(s, 2) for s in mine]} s)")
    print(f"parallel_bulk: {baseline:>10,.0f} events/s  (runs: {[round(s, 2) for s in base]} s)")
    result = {
        "metric": "es_ingest_events_per_s_vs_parallel_bulk",
        "value": round(value),
        "baseline": round(baseline),
        "ratio": round(value / baseline, 3),
        "target": 0.8,
        "events": args.events,
        "batch": args.batch,
        "threads": args.threads,
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
