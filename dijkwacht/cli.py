"""The `dijkwacht` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from core.config import get_settings
from core.errors import ConfigError
from core.runtime import private_umask
from core.store.faults import describe_fault
from dijkwacht import __version__
from dijkwacht.commands import register_commands

app = typer.Typer(
    name="dijkwacht",
    help="Dijkwacht: security operations and resilience platform for a municipality.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,  # locals may hold secrets or personal data
)


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML settings file (default: ./dijkwacht.toml if present).",
            envvar="DIJKWACHT_CONFIG",
        ),
    ] = None,
) -> None:
    """Settings come from DIJKWACHT_* variables and an optional TOML file."""
    if config is not None:
        os.environ["DIJKWACHT_CONFIG"] = str(config)


@app.command()
def version() -> None:
    """Print the Dijkwacht version."""
    typer.echo(f"dijkwacht {__version__}")


register_commands(app)


def main() -> None:
    # Every file the platform creates is private (databases hold password hashes and personal
    # data); children that `up` starts inherit this.
    private_umask()
    try:
        app()
    except Exception as exc:
        _exit_on_fault(exc)
        raise


def _exit_on_fault(exc: Exception) -> None:
    """A full disk, read-only or locked database ends any command with one line, no traceback.

    Names `data_dir` (where the embedded databases live) so the operator knows where to look.
    Bugs are left to propagate with their traceback.
    """

    cause = describe_fault(exc)
    if cause is None:
        return
    try:
        where = f"data_dir={get_settings().resolved_data_dir}"
    except ConfigError:
        where = "data_dir"
    typer.echo(f"dijkwacht: {where}: {cause}", err=True)
    raise SystemExit(1) from None
