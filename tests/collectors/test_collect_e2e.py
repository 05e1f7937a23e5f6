"""`dijkwacht collect` as its own process: a tailed file and syslog into the store, enriched from
a context directory, then SIGINT stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import orjson

from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.collectors.net import rfc5424, wait_for
from tests.collectors.test_enrichment import RESIDENT, audit_record, write_context
from tests.processes import free_port


def stored(data_dir: Path, dataset: str) -> list[dict[str, object]]:
    path = data_dir / "events.sqlite"
    if not path.exists():
        return []
    with SqliteEventStore(path) as store:
        return [s.event for s in store.search(EventQuery(filters={"event.dataset": dataset}))]


def test_collect_tails_listens_enriches_and_stops_on_sigint(tmp_path: Path) -> None:
    data_dir, audit_log = tmp_path / "data", tmp_path / "logs" / "brp-audit.jsonl"
    audit_log.parent.mkdir()
    audit_log.write_bytes(b"")
    context = write_context(tmp_path / "export")
    port = free_port()
    config = tmp_path / "dijkwacht.toml"
    config.write_text(
        f'data_dir = "{data_dir}"\n'
        'environment = "test"\n'
        f"syslog_port = {port}\n"
        f'context_dir = "{context}"\n'
        "tail_poll_interval = 0.05\n"
        "ingest_batch_size = 10\n"
        "[[tail_files]]\n"
        f'path = "{audit_log}"\n'
        'format = "app-audit-json"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIJKWACHT_")}
    env["DIJKWACHT_CONFIG"] = str(config)
    process = subprocess.Popen(
        [sys.executable, "-m", "dijkwacht", "collect", "--no-detection"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        assert line.startswith(b"collect: ready"), line + process.stderr.read()
        with audit_log.open("ab") as log:  # appended after start: the tailer follows
            log.write(audit_record(at="2025-02-01T23:30:00+01:00") + b"\n")
            log.write(audit_record(actor="E2") + b"\n")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(rfc5424(7), ("127.0.0.1", port))

        wait_for(lambda: len(stored(data_dir, "app_audit.brp")) == 2, timeout=30, what="tail")
        wait_for(lambda: stored(data_dir, "syslog"), timeout=30, what="syslog event")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err.decode()
    assert out.endswith(b"collect: stopped\n"), out + err

    audit = {str(e["user"]["id"]): e for e in stored(data_dir, "app_audit.brp")}  # type: ignore[index]
    night, counter = audit["E1"]["dijkwacht"], audit["E2"]["dijkwacht"]
    assert night["time"] == {"outside_office_hours": True}  # type: ignore[index]
    assert night["case"]["open_for_subject"] is True  # type: ignore[index]
    assert counter["time"] == {"outside_office_hours": False}  # type: ignore[index]
    assert counter["actor"]["account_state"] == "deactivated"  # type: ignore[index]
    (syslog,) = stored(data_dir, "syslog")
    assert "enrichment_failed" not in syslog.get("tags", [])  # type: ignore[operator]
    assert (data_dir / "context" / "VERSION").is_file()  # the export was published at start
    everything = orjson.dumps(stored(data_dir, "app_audit.brp"))
    assert RESIDENT.encode() not in everything  # pseudonymised before anything was stored
