"""LDV records through OTLP/HTTP vs the same records through HTTP NDJSON ingest, end to end.

Run: `.venv/bin/python bench/ldv.py [--records 20000] [--batch 500] [--clients 2]`.

Each leg starts `dijkwacht collect --no-detection` on a fresh data directory (as `dijkwacht up`
runs it), sends `records` LDV records in batches from `clients` closed-loop senders, and stops
the clock when the event store holds all of them (receiver, spool commit, consumer, store).

- OTLP leg: protobuf `ExportTraceServiceRequest`s to `/v1/traces`, one span per record with
  a BSN subject (validated, pseudonymised) and a processing activity, as an SDK sends them.
- NDJSON leg (the baseline): the same records as JSON lines (the LDV record plus a `timestamp`)
  to `/api/ingest/{source}`, where the generic JSON parser wraps them.

The legs alternate for `rounds` rounds (default 5) and each kind's median round counts: the
machine is shared, and a single lucky or starved round says more about the neighbours than
about the code. Every round is printed.

Two measures per leg, both over the same span (first send to the last record stored):
records per second of wall time (`value`, `baseline`, `ratio`: the issue's measure), and records
per CPU second of the collector process (`cpu_value`, `cpu_baseline`, `cpu_ratio`, from
`/proc/<pid>/stat`). On the shared 2-core machine the wall time of a round depends on what the
neighbours run (an NDJSON leg took 1.4 s or 6.4 s with the same code); the collector's CPU
time counts the receiver, spool and store work of that leg only, so its ratio moves much less.
Target: OTLP at least 0.8 times the NDJSON rate. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.crash_harness import (
    Collector,
    Ports,
    create_ingest_token,
    free_port,
)

ACTIVITY = "https://register.groningen.nl/verwerkingen/brp-raadplegen-voor-zaak/v2"


def _bsns(count: int) -> tuple[str, ...]:
    """`count` distinct numbers that pass the 11-test (residents; each recurs a few times)."""
    from core.privacy.pseudonyms import is_valid_bsn

    found: list[str] = []
    number = 100_000_000
    while len(found) < count:
        number += 7
        if is_valid_bsn(str(number)):
            found.append(str(number))
    return tuple(found)


BSNS = _bsns(5000)
SOURCE = "crash"  # the harness's token source


def _attr(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_body(seqs: range, now_ns: int) -> bytes:
    spans = [
        Span(
            trace_id=(seq + 1).to_bytes(16, "big"),
            span_id=(seq + 1).to_bytes(8, "big"),
            name="persoonslijst opvragen",
            status=Status(code=Status.STATUS_CODE_OK),  # status_code 1, as in the NDJSON leg
            start_time_unix_nano=now_ns,
            end_time_unix_nano=now_ns + 2_000_000,
            attributes=[
                _attr("dpl.core.processing_activity_id", ACTIVITY),
                _attr("dpl.core.data_subject_id", BSNS[seq % len(BSNS)]),
                _attr("dpl.core.data_subject_id_type", "BSN"),
            ],
        )
        for seq in seqs
    ]
    resource = ResourceSpans()
    resource.resource.attributes.append(_attr("service.name", "brp-bevraging"))
    resource.scope_spans.append(ScopeSpans(spans=spans))
    return ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


def ndjson_body(seqs: range, now_ns: int) -> bytes:
    start = now_ns // 1_000_000
    lines = [
        orjson.dumps(
            {
                "timestamp": start,
                "trace_id": f"{seq + 1:032x}",
                "span_id": f"{seq + 1:016x}",
                "name": "persoonslijst opvragen",
                "start_time": start,
                "end_time": start + 2,
                "status_code": 1,
                "resource": {"attributes": {"service.name": "brp-bevraging"}},
                "attributes": {
                    "dpl.core.processing_activity_id": ACTIVITY,
                    "dpl.core.data_subject_id": BSNS[seq % len(BSNS)],
                    "dpl.core.data_subject_id_type": "BSN",
                },
            }
        )
        for seq in seqs
    ]
    return b"\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux `/proc/<pid>/stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def leg(kind: str, *, records: int, batch: int, clients: int) -> tuple[float, float]:
    """Records per second, first send to the last record in the store; and records per CPU
    second of the collector process over the same span."""
    with tempfile.TemporaryDirectory(prefix=f"ldv-bench-{kind}-") as tmp:
        data_dir = Path(tmp)
        token = create_ingest_token(data_dir)
        ports = Ports(free_port(), free_port(), free_port())
        collector = Collector(data_dir, ports)
        collector.start()
        try:
            if kind == "otlp":
                url = f"http://127.0.0.1:{ports.http}/v1/traces"
                content_type, build = "application/x-protobuf", otlp_body
            else:
                url = f"http://127.0.0.1:{ports.http}/api/ingest/{SOURCE}"
                content_type, build = "application/x-ndjson", ndjson_body
            now_ns = time.time_ns()
            bodies = [
                build(range(start, min(start + batch, records)), now_ns)
                for start in range(0, records, batch)
            ]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
            errors: list[str] = []

            def send(mine: list[bytes]) -> None:
                with httpx.Client(timeout=60.0) as client:
                    for body in mine:
                        reply = client.post(url, content=body, headers=headers)
                        if reply.status_code != 200:
                            errors.append(f"{reply.status_code} {reply.text[:200]}")

            assert collector.process is not None
            pid = collector.process.pid
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            threads = [
                threading.Thread(target=send, args=(bodies[i::clients],)) for i in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            acknowledged = time.perf_counter() - started
            if errors:
                raise SystemExit(f"{kind}: {errors[0]}")
            with SqliteEventStore(data_dir / "events.sqlite") as store:
                while store.count(EventQuery()) < records:
                    time.sleep(0.02)
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
        finally:
            collector.terminate()
    rate, cpu_rate = records / elapsed, records / cpu
    print(
        f"{kind}: {records} records acknowledged in {acknowledged:.2f} s, stored in "
        f"{elapsed:.2f} s = {rate:,.0f} records/s; collector CPU {cpu:.2f} s = "
        f"{cpu_rate:,.0f} records/CPU-s",
        flush=True,
    )
    return rate, cpu_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    options = {"records": args.records, "batch": args.batch, "clients": args.clients}
    rates: dict[str, list[float]] = {"ndjson": [], "otlp": []}
    cpu_rates: dict[str, list[float]] = {"ndjson": [], "otlp": []}
    for _ in range(args.rounds):
        for kind in ("ndjson", "otlp"):
            rate, cpu_rate = leg(kind, **options)
            rates[kind].append(rate)
            cpu_rates[kind].append(cpu_rate)
    baseline, value = statistics.median(rates["ndjson"]), statistics.median(rates["otlp"])
    cpu_baseline = statistics.median(cpu_rates["ndjson"])
    cpu_value = statistics.median(cpu_rates["otlp"])
    result = {
        "metric": "ldv_otlp_records_per_s",
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3),
        "target": 0.8,
        "rounds": args.rounds,
        "cpu_value": round(cpu_value, 1),
        "cpu_baseline": round(cpu_baseline, 1),
        "cpu_ratio": round(cpu_value / cpu_baseline, 3),
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
