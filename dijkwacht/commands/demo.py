"""`dijkwacht demo generate|evaluate`: the simulated municipality and how the rules fare on it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from dijkwacht.commands.common import console, output_dir, settings_or_exit

app = typer.Typer(
    help="Simulated municipality for demos, tests, drills and benchmarks.", no_args_is_help=True
)


@app.command("generate")
def generate(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder to write into (default: DATA_DIR/output/demo-world)."
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of activity.")] = 7,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 42,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2026-05-04",
    residents: Annotated[int, typer.Option(min=50, help="Residents in the municipality.")] = 2000,
    employees: Annotated[int, typer.Option(min=10, help="Employees.")] = 30,
) -> None:
    """Write raw logs, context tables and a manifest of the seeded misuse scenarios."""
    from demo_world.service import generate_world

    try:
        first = date.fromisoformat(start)
    except ValueError:
        console.print(f"[red]--start: not a date (YYYY-MM-DD): {start!r}[/red]")
        raise typer.Exit(code=2) from None
    if output is None:
        output = output_dir(settings_or_exit(), "demo-world")
    summary = generate_world(
        output=output, days=days, seed=seed, start=first, residents=residents, employees=employees
    )
    for name, count in summary.lines.items():
        console.print(f"{name}: {count} lines")
    console.print(f"{summary.scenarios} scenarios seeded; manifest: {output / 'manifest.json'}")


@app.command("evaluate")
def evaluate(
    world: Annotated[Path, typer.Argument(help="A folder written by `demo generate`.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the Markdown table here.")
    ] = None,
) -> None:
    """Run the shipped rule pack over a generated world; print rule → scenario → result."""
    from demo_world.service import evaluate_world, evaluation_table

    if not (world / "manifest.json").is_file():
        console.print(f"[red]no manifest.json in {world}: run `dijkwacht demo generate`[/red]")
        raise typer.Exit(code=2)
    result = evaluate_world(directory=world)
    text = evaluation_table(result)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
    missed = [s.scenario for s in result.scenarios if not s.detected]
    if missed:
        console.print(f"[red]not detected: {', '.join(missed)}[/red]")
        raise typer.Exit(code=1)
