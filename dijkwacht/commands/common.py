"""Helpers every command shares: settings with friendly errors, the console, JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
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


def detection_modes_or_exit(settings: Settings) -> None:
    """Refuse "scheduled" detection without Elasticsearch before any process starts."""
    from rich.markup import escape

    from detection.scheduled import check_modes

    try:
        check_modes(settings)
    except ConfigError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(code=2) from None


def json_objects(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """(1-based line number, object) for each JSON object line; blank lines are passed over,
    and a line that is not JSON or not an object is named on stderr and skipped."""
    with path.open("rb") as source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                typer.echo(f"line {number}: not valid JSON ({exc}); skipped", err=True)
                continue
            if not isinstance(event, dict):
                typer.echo(f"line {number}: not a JSON object; skipped", err=True)
                continue
            yield number, event
