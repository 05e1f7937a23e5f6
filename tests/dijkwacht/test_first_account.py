"""What `dijkwacht up` says, and offers on a terminal, when no admin can log in yet."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from core.config import Settings, load_settings
from core.store.relational import migrate
from dijkwacht.cli import app as cli_app
from dijkwacht.commands.admin import first_account

PASSWORD = "eerste-beheerder-2026"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DIJKWACHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIJKWACHT_ENVIRONMENT", "test")
    from core.config import get_settings

    get_settings.cache_clear()
    settings = load_settings(environment="test", data_dir=tmp_path / "data")
    migrate(settings)
    return settings


def _run(settings: Settings, *, interactive: bool, stdin: str = "") -> tuple[bool, str]:
    """first_account inside a tiny Typer app, so prompts read `stdin` as on a terminal."""
    found: list[bool] = []
    app = typer.Typer()

    @app.command()
    def main() -> None:
        found.append(first_account(settings, interactive=interactive))

    result = CliRunner().invoke(app, [], input=stdin)
    assert result.exit_code == 0, result.output
    return found[0], result.output


def test_without_accounts_it_says_how_to_create_the_first(settings: Settings) -> None:
    ok, output = _run(settings, interactive=False)
    assert not ok
    assert "dijkwacht admin create-user NAME --role admin" in output
    assert "Nog geen actieve beheerder" in output


def test_on_a_terminal_it_offers_to_create_the_admin(settings: Settings) -> None:
    stdin = f"y\nBeheer\nkort\nkort\nbeheer\n{PASSWORD}\n{PASSWORD}\n"
    ok, output = _run(settings, interactive=True, stdin=stdin)
    assert ok
    assert "password: must be at least 12 characters" in output  # asked again, not crashed
    assert "created admin beheer" in output
    listed = CliRunner().invoke(cli_app, ["admin", "list"])
    assert "beheer\tadmin\tactive" in listed.output
    # Once there is an admin, up says nothing about accounts.
    ok, output = _run(settings, interactive=True)
    assert ok and "create-user" not in output


def test_declining_leaves_the_hint(settings: Settings) -> None:
    ok, output = _run(settings, interactive=True, stdin="n\n")
    assert not ok and "create-user" in output
