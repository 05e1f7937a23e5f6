"""`dijkwacht breach list | show | clocks | export`: the DPO's view of the breach register."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from dijkwacht.commands.breach.common import unit
from dijkwacht.commands.common import console


def list_command(
    exercises: Annotated[bool, typer.Option(help="Include exercise breaches.")] = True,
) -> None:
    """Every breach in the register, newest first; exercises are marked."""
    from rich.console import Console
    from rich.table import Table

    from playbooks.breach import service as breach_service

    with unit() as (settings, db):
        rows = breach_service.list_breaches(db=db, include_exercises=exercises)
        table = Table("id", "reference", "state", "aware since", "title")
        for breach in rows:
            mark = " [bold red]OEFENING[/bold red]" if breach.is_exercise else ""
            table.add_row(
                str(breach.id),
                breach.reference + mark,
                breach.state,
                breach_service.show_time(breach.aware_at, settings),
                breach.title,
            )
        Console(highlight=False).print(table)


def show_command(breach_id: Annotated[int, typer.Argument(help="Breach id.")]) -> None:
    """One breach: facts, decision, deadlines and its change history."""
    from core.clock import SystemClock
    from core.errors import NotFoundError
    from playbooks.breach import service as breach_service

    with unit() as (settings, db):
        try:
            breach = breach_service.get_breach(db=db, breach_id=breach_id)
        except NotFoundError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(code=1) from None
        if breach.is_exercise:
            typer.echo(f"*** OEFENING / EXERCISE ({breach.exercise_id}) ***")
        typer.echo(f"{breach.reference}: {breach.title}")
        aware = breach_service.show_time(breach.aware_at, settings)
        typer.echo(f"state: {breach.state}   aware since: {aware}")
        typer.echo(f"facts: {breach.facts}")
        typer.echo(f"data: {', '.join(breach.data_categories) or '-'}")
        typer.echo(f"people: {breach.subjects_min}-{breach.subjects_max}")
        if breach.decision:
            typer.echo(
                f"decision: {breach.decision} by {breach.decided_by}: {breach.decision_reason}"
            )
        typer.echo("deadlines:")
        now = SystemClock()
        for item in breach_service.deadlines(
            db=db, clock=now, settings=settings, breach_id=breach.id
        ):
            flag = "  <-- " + item.status.upper() if item.loud else ""
            due = breach_service.show_time(item.due_at, settings)
            typer.echo(f"  {item.label}: {due} [{item.status}]{flag}")
        typer.echo("history:")
        for change in breach_service.history(db=db, breach_id=breach.id):
            what = change.field or ""
            at = breach_service.show_time(change.at, settings)
            typer.echo(
                f"  {at} {change.actor} {change.action} {what}"
                f" {change.before!r} -> {change.after!r}"
            )


def clocks_command(
    all_: Annotated[bool, typer.Option("--all", help="Also met and not-required ones.")] = False,
) -> None:
    """Open legal deadlines of all breaches, soonest first; overdue ones in red."""
    from core.clock import SystemClock
    from playbooks.breach import service as breach_service

    with unit() as (settings, db):
        items = breach_service.all_deadlines(
            db=db, clock=SystemClock(), settings=settings, include_met=all_
        )
        if not items:
            typer.echo("no open deadlines")
        for item in items:
            line = (
                f"{breach_service.show_time(item.due_at, settings)}  {item.reference}"
                f"{' (OEFENING)' if item.exercise else ''}  {item.label}  [{item.status}]"
            )
            from rich.markup import escape

            console.print(
                f"[bold red]{escape(line)}[/bold red]" if item.loud else escape(line),
                highlight=False,
                soft_wrap=True,
            )


def export_command(
    format_: Annotated[Literal["csv", "pdf"], typer.Option("--format", help="csv or pdf.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File; default stdout (csv).")
    ] = None,
    exercises: Annotated[bool, typer.Option(help="Include (marked) exercise breaches.")] = False,
) -> None:
    """Export the Art. 33(5) register."""
    from core.clock import SystemClock
    from playbooks.breach import service as breach_service

    with unit() as (settings, db):
        if format_ == "csv":
            text = breach_service.register_csv(
                db=db, settings=settings, include_exercises=exercises
            )
            if output is None:
                typer.echo(text, nl=False)
            else:
                output.write_text(text, encoding="utf-8")
            return
        if output is None:
            console.print("[red]--output: a PDF needs a file name[/red]")
            raise typer.Exit(code=2)
        output.write_bytes(
            breach_service.register_pdf(
                db=db, clock=SystemClock(), settings=settings, include_exercises=exercises
            )
        )
        typer.echo(f"written {output}")
