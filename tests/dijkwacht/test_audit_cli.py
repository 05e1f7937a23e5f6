"""`dijkwacht audit verify` and `audit checkpoint export|verify`: re-chaining, truncation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from core.audit import GENESIS_HASH, entries, entry_hash
from core.config import load_settings
from core.store.relational import create_db_engine, create_session_factory
from dijkwacht.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def _users(*names: str) -> None:
    for name in names:
        result = _run(
            "admin", "create-user", name, "--role", "analyst", "--password-stdin",
            stdin="stormvloed-kering-1953\n",
        )  # fmt: skip
        assert result.exit_code == 0, result.output


def _delete_and_rechain(data_dir: Path, seq: int) -> None:
    """The attack from the issue, with plain SQL and the public entry_hash (no audit key)."""
    engine = create_db_engine(load_settings(environment="test", data_dir=data_dir))
    try:
        with create_session_factory(engine)() as db:
            kept = [e for e in entries(db=db) if e.seq != seq]
    finally:
        engine.dispose()
    with sqlite3.connect(data_dir / "dijkwacht.sqlite") as connection:
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("DROP TRIGGER audit_log_no_delete")
        connection.execute("DELETE FROM audit_log WHERE seq = ?", (seq,))
        prev = GENESIS_HASH
        for position, e in enumerate(kept, start=1):
            digest = entry_hash(
                seq=position, at=e.at, actor=e.actor, action=e.action,
                object_type=e.object_type, object_id=e.object_id, purpose=e.purpose,
                details=e.details, prev_hash=prev,
            )  # fmt: skip
            connection.execute(
                "UPDATE audit_log SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (position, prev, digest, e.seq),
            )
            prev = digest


def test_verify_names_the_first_entry_rechained_without_the_key(data_dir: Path) -> None:
    _users("pieter", "kim", "sanne", "joost")
    assert "audit log intact: 4 entries" in _run("audit", "verify").output
    _delete_and_rechain(data_dir, seq=2)
    result = _run("audit", "verify")
    assert result.exit_code == 1
    assert "TAMPERED at seq 2" in result.output and "user.created" in result.output
    assert "MAC does not match" in result.output
    assert "1 entries before it verify" in result.output


def test_checkpoint_export_then_verify_then_truncation(data_dir: Path) -> None:
    _users("pieter", "kim", "sanne")
    kept = data_dir.parent / "kept-by-the-dpo.json"
    exported = _run("audit", "checkpoint", "export", "--output", str(kept))
    assert exported.exit_code == 0, exported.output
    document = json.loads(kept.read_text(encoding="utf-8"))
    assert document["seq"] == 3 and document["public_key"] in exported.output

    held = _run("audit", "checkpoint", "verify", str(kept))
    assert held.exit_code == 0, held.output
    # The export is itself on the record, as seq 4.
    assert "checkpoint of seq 3 held: the log has 4 entries and verifies" in held.output

    with sqlite3.connect(data_dir / "dijkwacht.sqlite") as connection:
        connection.execute("DROP TRIGGER audit_log_no_delete")
        connection.execute("DELETE FROM audit_log WHERE seq >= 3")
    truncated = _run("audit", "checkpoint", "verify", str(kept))
    assert truncated.exit_code == 1
    assert "FAILED" in truncated.output and "log truncated: it ends at seq 2" in truncated.output
    assert _run("audit", "verify").exit_code == 0  # a shorter chain is valid on its own
    # ... and the verification run is on the record as the new seq 3 (BIO2 8.15.06), which is
    # not the entry the checkpoint saw: the truncation stays visible.
    regrown = _run("audit", "checkpoint", "verify", str(kept))
    assert regrown.exit_code == 1
    assert "entry seq 3 differs from the checkpoint's head hash" in regrown.output


def test_verify_runs_are_on_the_record_with_who_ran_them(data_dir: Path) -> None:
    _users("pieter")
    assert _run("audit", "verify", "--as", "auditor-jan").exit_code == 0
    listed = _run("audit", "list").output
    assert "auditor-jan" in listed and "audit.verified" in listed


def test_a_bad_checkpoint_file_is_named(data_dir: Path) -> None:
    bad = data_dir.parent / "bad.json"
    bad.write_text('{"format": "dijkwacht-audit-checkpoint/1", "seq": "x"}', encoding="utf-8")
    result = _run("audit", "checkpoint", "verify", str(bad))
    assert result.exit_code == 2
    assert "count: missing" in result.output or "seq: must be a int" in result.output
    assert "Traceback" not in result.output
