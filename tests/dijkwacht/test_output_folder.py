"""Generated files go to DATA_DIR/output/<command> unless --output says otherwise, never cwd."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.config import get_settings
from dijkwacht.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(directory))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    get_settings.cache_clear()
    return directory


def test_demo_generate_and_awareness_build_default_to_the_data_directory(data_dir: Path) -> None:
    runner = CliRunner()
    demo = runner.invoke(app, ["demo", "generate", "--days", "1"])
    assert demo.exit_code == 0, demo.output
    assert (data_dir / "output" / "demo-world" / "auth.log").is_file()
    built = runner.invoke(
        app, ["awareness", "build", "--audience", "library", "--lang", "nl", "--format", "html"]
    )
    assert built.exit_code == 0, built.output
    target = data_dir / "output" / "awareness"
    assert any(target.rglob("*.html"))
    assert str(target) in built.output.replace("\n", "")
    assert list(Path.cwd().iterdir()) == []  # nothing landed in the working directory
    assert stat.S_IMODE(os.stat(data_dir / "output").st_mode) == 0o700


def test_output_option_still_wins(data_dir: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "site"
    built = CliRunner().invoke(
        app,
        [
            "awareness",
            "build",
            "--audience",
            "library",
            "--format",
            "html",
            "--output",
            str(chosen),
        ],
    )
    assert built.exit_code == 0, built.output
    assert any(chosen.rglob("*.html"))
    assert not (data_dir / "output" / "awareness").exists()
