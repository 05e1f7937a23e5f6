"""`dijkwacht breach processing-register load | show`: the Art. 30 processing register."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dijkwacht.commands.breach.common import escape_markup, unit
from dijkwacht.commands.common import console

app = typer.Typer(
    help="The Art. 30 processing register (systems, activities, data, people).",
    no_args_is_help=True,
)


@app.command("load")
def load_command(
    file: Annotated[Path, typer.Argument(help="YAML or CSV (.csv) processing register.")],
) -> None:
    """Replace the stored processing register with FILE; errors print file:line: field."""
    from core.clock import SystemClock
    from playbooks.breach.service import RegisterFileError, load_processing_register

    with unit(write=True) as (_settings, db):
        try:
            count = load_processing_register(db=db, clock=SystemClock(), actor="cli", path=file)
        except RegisterFileError as exc:
            console.print(f"[red]{escape_markup(exc.location)}[/red]", highlight=False)
            raise typer.Exit(code=1) from None
        typer.echo(f"loaded {count} processing activities from {file}")


@app.command("show")
def show_command() -> None:
    """Every system with its sources and activities, data categories and typical volumes."""
    from playbooks.breach.service import processing_register

    with unit() as (_settings, db):
        found = processing_register(db=db)
        if not found:
            typer.echo("the processing register is empty")
        for system, activities in found:
            typer.echo(f"{system.name}  (sources: {', '.join(system.sources) or '-'})")
            for act in activities:
                special = f"; special: {', '.join(act.special_categories)}" * bool(
                    act.special_categories
                )
                typer.echo(
                    f"  - {act.name}: {', '.join(act.data_categories) or '-'}{special}; "
                    f"people: {', '.join(act.subject_categories) or '-'} "
                    f"(~{act.typical_subjects} people, ~{act.typical_records} records)"
                )
