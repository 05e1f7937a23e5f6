"""`dijkwacht playbooks check DIR`: validate playbook files before they are loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dijkwacht.commands.common import console

app = typer.Typer(help="Check playbook files.", no_args_is_help=True)


@app.command("check")
def check_command(
    directory: Annotated[Path, typer.Argument(help="Folder of playbook YAML files.")],
) -> None:
    """Validate every playbook file; print `file:line: field: problem` per issue, exit 1 if any."""
    from playbooks.service import check_directory

    if not directory.is_dir():
        console.print(f"[red]{directory}: not a directory[/red]")
        raise typer.Exit(code=2)
    issues = check_directory(directory)
    for issue in issues:
        typer.echo(str(issue))
    if issues:
        raise typer.Exit(code=1)
    typer.echo(f"{directory}: all playbooks valid")
