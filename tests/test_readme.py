"""The README's examples work as written: the first-hour block and the table's search line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.config import get_settings
from dijkwacht.cli import app
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
PASSWORD = "readme-wachtwoord-2026"


def _first_hour() -> list[list[str]]:
    """The commands of the ```sh block under "The first hour", comments dropped."""
    section = README.split("### The first hour", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line]


def _table_searches() -> list[list[str]]:
    return [shlex.split(found) for found in re.findall(r"\| `(dijkwacht search [^`]*)`", README)]


@pytest.fixture
def in_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the default data directory (`var/`), as after `./dev up`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIJKWACHT_DATA_DIR", raising=False)
    monkeypatch.delenv("DIJKWACHT_CONFIG", raising=False)
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    return tmp_path


def test_the_first_hour_runs_as_written(in_a_checkout: Path) -> None:
    commands = _first_hour()
    assert [c[:2] for c in commands] == [
        ["dijkwacht", "admin"],
        ["dijkwacht", "demo"],
        ["dijkwacht", "ingest"],
        ["dijkwacht", "search"],
        ["dijkwacht", "collectors"],
    ]
    runner = CliRunner()
    outputs = []
    for command in [*commands, *_table_searches()]:
        result = runner.invoke(app, command[1:], input=f"{PASSWORD}\n{PASSWORD}\n")
        assert result.exit_code == 0, (command, result.output)
        outputs.append(result.output)
    assert (in_a_checkout / "var" / "output" / "demo-world" / "auth.log").is_file()
    ingested = outputs[2]
    assert "dead-lettered 0 line(s) from 3 of 3 file(s)" in ingested
    for searched in (outputs[3], *outputs[5:]):
        found = re.search(r"(\d+) of (\d+) event\(s\)", searched)
        assert found is not None and int(found.group(1)) > 0, searched
        assert "web01" in searched
    assert "dead letters: 0" in outputs[4]
