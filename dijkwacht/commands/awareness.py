"""`dijkwacht awareness build | lint`: resilience content as files for print and websites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dijkwacht.commands.common import console, output_dir, settings_or_exit

app = typer.Typer(help="Awareness content for libraries, schools, residents and businesses.")


@app.command("build")
def build(
    audience: Annotated[
        list[str],
        typer.Option(help="library, primary, secondary, parents, business, schools or all."),
    ] = ["all"],  # noqa: B006 - typer reads list defaults, it never mutates them
    lang: Annotated[list[str], typer.Option(help="nl or en (repeat for both).")] = ["nl"],  # noqa: B006
    format: Annotated[
        list[str],
        typer.Option(
            "--format",
            help="html, lesson, newsletter, handout, poster, slides; or pdf, web, all.",
        ),
    ] = ["all"],  # noqa: B006
    output: Annotated[
        Path | None,
        typer.Option(help="Folder to write into (default: DATA_DIR/output/awareness)."),
    ] = None,
) -> None:
    """Write pages, PDFs, newsletter texts and lesson plans for the chosen audiences."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from awareness.errors import ContentError, UnknownContentError
    from awareness.service import build_jobs, default_library, write_job

    target = (output or output_dir(settings_or_exit(), "awareness")).resolve()
    try:
        library = default_library()
        jobs = build_jobs(library=library, audiences=audience, langs=lang, formats=format)
    except (ContentError, UnknownContentError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("building", total=len(jobs))
        for job in jobs:
            progress.update(task, description=str(job.path))
            write_job(job, output=target)
            progress.advance(task)
    console.print(f"wrote {len(jobs)} files to {target}")


@app.command("lint")
def lint() -> None:
    """Check the shipped topics: translations, sources, lengths, B1 readability."""
    from awareness.errors import ContentError
    from awareness.service import lint_library, load_library

    try:
        issues = lint_library(load_library())
    except ContentError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from None
    for issue in issues:
        typer.echo(str(issue))
    if issues:
        raise typer.Exit(code=1)
    typer.echo("awareness content: no issues")
