"""`dijkwacht compliance check|status|report|package|verify|catalogue` end to end (CliRunner)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dijkwacht.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(path))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_check_status_report_package_verify(data_dir: Path, tmp_path: Path) -> None:
    checked = _run("compliance", "check")
    assert checked.exit_code == 0, checked.output
    assert "5.30.01\tnot_met (alert raised)\tno continuity exercise" in checked.output
    again = _run("compliance", "check")
    assert "5.30.01\tnot_met\t" in again.output  # red still, no second alert

    assert _run("audit", "verify", "--as", "auditor-jan").exit_code == 0
    _run("compliance", "check")
    status = _run("compliance", "status").output
    assert "8.15.06\tmet\t" in status and "auditor-jan" in status

    csv_file = tmp_path / "bio2.csv"
    made = _run("compliance", "report", "--year", "2026", "--format", "csv", "-o", str(csv_file))
    assert made.exit_code == 0, made.output
    assert csv_file.read_text(encoding="utf-8").startswith("framework,edition,measure")
    refused = _run("compliance", "report", "--year", "2026", "--format", "docx")
    assert refused.exit_code == 2 and "format: must be one of html, pdf, csv" in refused.output

    package = tmp_path / "package.zip"
    exported = _run("compliance", "package", "--year", "2026", "-o", str(package))
    assert exported.exit_code == 0, exported.output
    assert _run("compliance", "verify", str(package)).exit_code == 0

    members = {}
    with zipfile.ZipFile(package) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    csv_name = next(name for name in members if name.endswith(".csv"))
    members[csv_name] = members[csv_name].replace(b"not_met", b"met")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    changed = tmp_path / "changed.zip"
    changed.write_bytes(buffer.getvalue())
    failed = _run("compliance", "verify", str(changed))
    assert failed.exit_code == 1
    assert f"{csv_name}: changed since the export" in failed.output


def test_catalogue_check_names_file_line_and_field(data_dir: Path, tmp_path: Path) -> None:
    assert "bio2 1.3: 10 measures" in _run("compliance", "catalogue").output
    bad = tmp_path / "bio2-2.0.yml"
    bad.write_text("framework: bio2\nedition: '2.0'\ntitle: x\n", encoding="utf-8")
    result = _run("compliance", "catalogue", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3: title: String should have at least 3 characters" in result.output
    assert f"{bad}:1: measures: required field is missing" in result.output
