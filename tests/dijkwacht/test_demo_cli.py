"""`dijkwacht demo generate` and `dijkwacht demo evaluate` through the real CLI app."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dijkwacht.cli import app

runner = CliRunner()
LOGS = ("portal_auth.jsonl", "app_audit.jsonl", "nginx_access.log", "auth.log", "network.jsonl")


def generate(output: Path, *extra: str) -> None:
    args = ["demo", "generate", "--days", "1", "--seed", "7", "--output", str(output), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "scenarios seeded" in result.output


def digest(folder: Path) -> str:
    """Every file's relative path and bytes: equal digests mean byte-identical worlds."""
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("world") / "day"
    generate(folder)
    return folder


def test_generate_writes_logs_context_and_manifest(world: Path) -> None:
    for name in LOGS:
        assert (world / name).stat().st_size > 0, name
    assert (world / "context" / "employees.csv").is_file()
    assert (world / "context" / "office.json").is_file()
    manifest = json.loads((world / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["seed"], manifest["days"]) == (7, 1)
    assert manifest["scenarios"], "no scenario seeded"
    assert set(manifest["files"]) >= set(LOGS)


def test_same_seed_gives_byte_identical_output(world: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again")
    assert digest(tmp_path / "again") == digest(world)
    generate(tmp_path / "other", "--seed", "8")
    assert digest(tmp_path / "other") != digest(world)


def test_evaluate_prints_the_rule_table(world: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "evaluate", str(world)])
    assert result.exit_code == 0, result.output
    assert "| rule | scenario | detected |" in result.output
    assert "not detected" not in result.output
    table = tmp_path / "table.md"
    result = runner.invoke(app, ["demo", "evaluate", str(world), "--output", str(table)])
    assert result.exit_code == 0, result.output
    assert table.read_text(encoding="utf-8").count("| yes |") >= 1


def test_evaluate_refuses_a_folder_without_manifest(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "manifest.json" in result.output


def test_generate_refuses_a_bad_start_date(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "generate", "--output", str(tmp_path / "x"), "--start", "04-05-2026"]
    )
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output
