"""Helpers every command shares: settings with friendly errors, the console."""

from __future__ import annotations

import typer
from rich.console import Console

from core.config import Settings, get_settings
from core.errors import ConfigError

console = Console(stderr=True)


def settings_or_exit() -> Settings:
    """Settings for this command; a bad setting ends the command with its message, not a trace."""
    try:
        return get_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
