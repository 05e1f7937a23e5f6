"""`dijkwacht attack build` and `dijkwacht attack show` through the real CLI app.

The catalog is process-wide (pyattck): `show` reuses it when another test loaded the same build.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dijkwacht.cli import app

runner = CliRunner()


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "200")
    directory = tmp_path / "attack"
    result = runner.invoke(app, ["attack", "build", "--attack-dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert "ATT&CK 18.1" in result.output
    return directory


def test_build_prints_counts_and_is_idempotent(built: Path) -> None:
    before = (built / "enterprise-attack.json").stat().st_mtime_ns
    result = runner.invoke(app, ["attack", "build", "--attack-dir", str(built)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1] for line in result.output.splitlines()[1:]}
    assert int(lines["techniques"]) > 800
    assert int(lines["tactics"]) == 14
    assert int(lines["mitigations"]) > 250
    assert (built / "enterprise-attack.json").stat().st_mtime_ns == before


def test_show_technique(built: Path) -> None:
    result = runner.invoke(app, ["attack", "show", "T1059.001", "--attack-dir", str(built)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "T1059.001  PowerShell"
    assert "Tactics: Execution (execution)" in result.output
    assert "M1038  Execution Prevention" in result.output


def test_show_unknown_technique(built: Path) -> None:
    result = runner.invoke(app, ["attack", "show", "T9999", "--attack-dir", str(built)])
    assert result.exit_code == 1
    assert "T9999" in result.output
