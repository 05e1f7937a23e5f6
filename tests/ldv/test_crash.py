"""Kill -9 of `dijkwacht collect` during OTLP ingest: no acknowledged LDV record is lost, none is
stored twice. The sender is a well-behaved OTLP/HTTP client that retries a batch without a 200
under the same `Idempotency-Key` (the harness of tests/collectors/crash_harness.py)."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collectors.spool import Spool
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.crash_harness import Collector, Ports, Sender, _wait, create_ingest_token
from tests.ldv.support import ACTIVITY
from tests.processes import free_port

BATCH = 50


def export_request(seqs: range, *, system: str = "crash") -> bytes:
    """One protobuf export request with a span per sequence number (name `otlp-<seq>`)."""
    now = time.time_ns()
    spans = [
        Span(
            trace_id=(seq + 1).to_bytes(16, "big"),
            span_id=(seq + 1).to_bytes(8, "big"),
            name=f"otlp-{seq}",
            start_time_unix_nano=now,
            end_time_unix_nano=now + 1_000_000,
            attributes=[
                KeyValue(
                    key="dpl.core.processing_activity_id", value=AnyValue(string_value=ACTIVITY)
                )
            ],
        )
        for seq in seqs
    ]
    resource = ResourceSpans()
    resource.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value=system))
    )
    resource.scope_spans.append(ScopeSpans(spans=spans))
    return ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


class OtlpSender(Sender):
    kind = "otlp"

    def __init__(self, ports: Ports, token: str) -> None:
        super().__init__(ports)
        self.url = f"http://127.0.0.1:{ports.http}/v1/traces"
        self.token = token

    def send(self) -> None:
        batch = 0
        with httpx.Client(timeout=5.0) as client:
            while not self.finish.is_set():
                seqs = range(batch * BATCH, (batch + 1) * BATCH)
                headers = {
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/x-protobuf",
                    "Idempotency-Key": f"otlp-{batch}",
                }
                body = export_request(seqs)
                while True:
                    try:
                        response = client.post(self.url, content=body, headers=headers)
                    except httpx.HTTPError:
                        response = None
                    if response is not None and response.status_code == 200:
                        break
                    self.retries += 1
                    time.sleep(0.05)
                self.acked.update(seqs)
                self.sent_events += BATCH
                batch += 1


def _stored(data_dir: Path) -> Counter[int]:
    seen: Counter[int] = Counter()
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        total = store.count(EventQuery())
        offset = 0
        while offset < total:
            page = store.search(EventQuery(limit=10_000, offset=offset, order="asc"))
            for item in page:
                name = item.event.get("dijkwacht", {}).get("ldv", {}).get("name", "")
                if name.startswith("otlp-"):
                    seen[int(name.removeprefix("otlp-"))] += 1
            offset += len(page)
    return seen


@pytest.mark.slow
def test_sigkill_during_otlp_ingest_loses_no_acknowledged_record(tmp_path: Path) -> None:
    data_dir = tmp_path / "otlp"
    data_dir.mkdir()
    rng = random.Random(23)
    ports = Ports(free_port(), free_port(), free_port())
    sender = OtlpSender(ports, create_ingest_token(data_dir))
    collector = Collector(data_dir, ports)
    collector.start()
    sender.start()
    kills = 2
    for _ in range(kills):
        before = sender.progress()
        _wait(lambda: sender.progress() > before + BATCH, 60, "otlp progress")  # noqa: B023
        time.sleep(rng.uniform(0.05, 0.5))
        collector.kill()
        collector.start()
    sender.finish.set()
    sender.join(120)
    assert not sender.is_alive() and sender.error is None

    def drained() -> bool:
        with Spool(data_dir / "spool.sqlite") as spool:
            return spool.pending() == 0

    _wait(drained, 120, "spool drained")
    assert collector.terminate() == 0
    stored = _stored(data_dir)
    lost = [seq for seq in sender.acked if seq not in stored]
    print({"acknowledged": len(sender.acked), "retried": sender.retries, "lost": len(lost)})
    assert len(sender.acked) >= 2 * BATCH
    assert lost == []
    assert max(stored.values()) == 1  # nothing twice
