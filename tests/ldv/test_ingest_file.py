"""The `ldv` JSON-lines format through `dijkwacht ingest`: told apart by content, BSNs never
stored, a bad record dead-lettered with its field and without the BSN."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from dijkwacht.cli import app
from tests.dijkwacht.test_events_cli import data_dir, run
from tests.ldv.support import BSN_A, BSN_B

__all__ = ["data_dir"]  # the fixture, shared


def test_demo_ldv_file_is_recognised_and_pseudonymised(data_dir: Path, tmp_path: Path) -> None:
    world = tmp_path / "world"
    result = CliRunner().invoke(app, ["demo", "generate", "--output", str(world), "--days", "1"])
    assert result.exit_code == 0, result.stderr
    path = world / "ldv.jsonl"
    lines = path.read_bytes().splitlines()
    bad = orjson.loads(lines[0])
    bad["attributes"]["dpl.core.data_subject_id"] = BSN_B
    bad["status_code"] = 9
    path.write_bytes(b"\n".join([*lines, orjson.dumps(bad)]) + b"\n")
    code, _, err = run("ingest", str(path))
    assert code == 0, err
    assert "ldv.jsonl: read as ldv" in err
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        assert store.count(EventQuery()) == len(lines)
        events = store.search(EventQuery(limit=5))
        letters = store.list_dead_letters(limit=10)
    assert all(e.event["event"]["dataset"].startswith("ldv.") for e in events)
    assert len(letters) == 1 and "status_code" in letters[0].reason
    assert BSN_B.encode() not in letters[0].raw  # the dead letter is scrubbed too
    stored = orjson.dumps([e.event for e in events]).decode()
    assert BSN_A not in stored and "rp_" in stored
