"""`dijkwacht deadletters list/replay` and `dijkwacht collectors status` through the CLI app."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectors.consumer import SpoolConsumer
from collectors.spool import Spool
from core.config import get_settings
from core.runtime import write_collector_status
from core.store.base import DeadLetter, EventQuery
from core.store.sqlite_events import SqliteEventStore
from dijkwacht.cli import app
from tests.collectors.net import rfc5424


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(directory))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    return directory


def test_list_and_replay(data_dir: Path) -> None:
    received = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        store.add_dead_letters(
            [
                # Parseable now (say the parser was fixed since): replayed.
                DeadLetter(
                    source="syslog-tcp",
                    reason="old bug",
                    raw=rfc5424(7),
                    offset=0,
                    received_at=received,
                ),
                DeadLetter(source="syslog-udp", reason="junk", raw=b"junk", received_at=received),
                DeadLetter(source="file/x", reason="?", raw=b"?", received_at=received),
                DeadLetter(source="syslog-tcp", reason="cut", raw=b"<34>", raw_length=10**7),
            ]
        )
    runner = CliRunner()
    listed = runner.invoke(app, ["deadletters", "list", "--source", "syslog-tcp"])
    assert listed.exit_code == 0, listed.output
    assert "old bug" in listed.stdout and "junk" not in listed.stdout

    replayed = runner.invoke(app, ["deadletters", "replay"])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1, still failing 1, skipped 2" in replayed.stdout
    with Spool(data_dir / "spool.sqlite") as spool:
        ((_, event),) = spool.take(10)
        first_id = event["event"]["id"]
        with SqliteEventStore(data_dir / "events.sqlite") as store:
            SpoolConsumer(spool=spool, store=store, batch_size=10).drain()
            assert store.get(first_id).event["message"] == "seq=7"
            assert [d.reason for d in store.list_dead_letters()] == ["junk", "?", "cut"]
            # A replay that crashed before deleting its dead letter gives the same id: no copy.
            store.add_batch([event])
            assert store.count(EventQuery()) == 1

    status = runner.invoke(app, ["collectors", "status"])
    assert status.exit_code == 0, status.output
    assert "syslog-tcp" in status.stdout and "spool pending: 0" in status.stdout
    assert "collector: no status" in status.stdout
    paused = {"spool-writer": {"reason": "data_dir=/d: disk full (ENOSPC)"}}
    write_collector_status(get_settings(), {"state": "paused", "pid": 7, "paused": paused})
    status = runner.invoke(app, ["collectors", "status"])
    assert "collector: paused (pid 7); spool-writer paused: data_dir=/d: disk full (ENOSPC)" in (
        status.stdout
    )


def test_status_shows_dead_letters_of_every_path(data_dir: Path, tmp_path: Path) -> None:
    """`ingest` writes dead letters straight to the store (no spool counters): status shows
    them next to the live collectors' ones."""
    runner = CliRunner()
    status = runner.invoke(app, ["collectors", "status"])
    assert status.exit_code == 0, status.output
    assert "dead letters: 0" in status.stdout
    bad = tmp_path / "broken.log"
    bad.write_bytes(b"<34>1 2025-01-31T09:15:00Z web1 sshd 1 - - ok\njunk without header\n")
    assert runner.invoke(app, ["ingest", "--format", "syslog", str(bad)]).exit_code == 0
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        store.add_dead_letters([DeadLetter(source="syslog-udp", reason="x", raw=b"x")] * 2)
    status = runner.invoke(app, ["collectors", "status"])
    assert status.exit_code == 0, status.output
    assert "dead letters: 3 (see `dijkwacht deadletters list`)" in status.stdout
    rows = {line.split("│")[1].strip(): line for line in status.stdout.splitlines() if "│" in line}
    assert "syslog-udp" in rows and " 2 " in rows["syslog-udp"]
    assert str(bad) in rows and " 1 " in rows[str(bad)]
