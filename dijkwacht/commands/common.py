"""Helpers every command shares: settings with friendly errors, the console, JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console

from core.config import Settings, get_settings
from core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.store.base import EventStore

console = Console(stderr=True)
OUTPUT_FOLDER = "output"  # data_dir/output/<command>: where generated files go by default


def output_dir(settings: Settings, name: str) -> Path:
    """`data_dir/output/NAME`, where a command writes generated files unless `--output` says
    otherwise (never the current directory: a user's working tree is not ours to fill).

    The data directory is prepared first (created 0700, checked for writes), so generated
    files are as private as the rest of it; a problem ends the command with one line.
    """
    from rich.markup import escape

    from core.runtime import DataDirError, prepare_data_dir

    try:
        prepare_data_dir(settings)
    except DataDirError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(code=2) from None
    folder = settings.resolved_data_dir / OUTPUT_FOLDER / name
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def settings_or_exit() -> Settings:
    """Settings for this command; a bad setting ends the command with its message, not a trace."""
    try:
        return get_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None


def event_store_or_exit(settings: Settings) -> EventStore:
    """The configured event store; a store that cannot be configured ends the command (code 2)."""
    from core.store.factory import open_event_store

    try:
        return open_event_store(settings)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None


@contextmanager
def write_unit(settings: Settings, *, migrate_first: bool = True) -> Iterator[Session]:
    """A command's one write unit of work on its own engine (migrated first unless told not).

    The command is the boundary: the services it calls never commit; the unit commits when
    the block ends (BEGIN IMMEDIATE on SQLite, so it waits its turn behind running writers).
    """
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import unit_of_work

    if migrate_first:
        migrate(settings)
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            yield db
    finally:
        engine.dispose()


def detection_modes_or_exit(settings: Settings) -> None:
    """Refuse "scheduled" detection without Elasticsearch before any process starts."""
    from rich.markup import escape

    from detection.service import check_modes

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
