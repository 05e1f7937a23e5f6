"""`dijkwacht incidents list/show` and `dijkwacht playbooks check DIR`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from core.clock import utc_iso
from dijkwacht.commands.common import console
from dijkwacht.commands.units import command_unit

incidents_app = typer.Typer(help="Read incidents.", no_args_is_help=True)
playbooks_app = typer.Typer(help="Check playbook files.", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Session]:
    """A read unit of work: these commands only read."""
    with command_unit(write=False) as (_settings, db):
        yield db


@incidents_app.command("list")
def list_command(
    status: Annotated[
        list[str] | None, typer.Option("--status", "-s", help="Only these statuses.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 50,
) -> None:
    """Incidents, newest first."""
    from rich.console import Console
    from rich.table import Table

    from core.errors import ValidationError
    from playbooks.service import list_incidents

    table = Table("id", "created (UTC)", "severity", "status", "assignee", "playbook", "title")
    with _session() as db:  # rows are read inside: a read unit expires them when it ends
        try:
            rows = list_incidents(db=db, statuses=status or (), limit=limit)
        except ValidationError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(code=2) from None
        for incident in rows:
            table.add_row(
                str(incident.id),
                utc_iso(incident.created_at),
                incident.severity,
                incident.status,
                incident.assignee or "",
                incident.playbook_id or "",
                incident.title
                + (f" [exercise {incident.exercise_id}]" if incident.exercise_id else ""),
            )
    Console(highlight=False).print(table)


@incidents_app.command("show")
def show_command(incident_id: Annotated[int, typer.Argument(help="Incident id.")]) -> None:
    """One incident: facts, observables, steps and timeline."""
    from core.errors import NotFoundError
    from playbooks import service

    with _session() as db:
        try:
            incident = service.get_incident(db=db, incident_id=incident_id)
        except NotFoundError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(code=1) from None
        echo = typer.echo
        echo(f"Incident #{incident.id}: {incident.title}")
        assignee, playbook = incident.assignee or "-", incident.playbook_id or "-"
        echo(f"  severity {incident.severity} · status {incident.status} · assignee {assignee}")
        echo(f"  playbook {playbook}")
        if incident.exercise_id:
            echo(f"  exercise {incident.exercise_id}")
        echo(f"  alerts: {', '.join(service.alert_ids(db=db, incident_id=incident.id)) or '-'}")
        echo("Observables:")
        for link in service.observables_of(db=db, incident_id=incident.id):
            seen = (
                f" (seen in {link.seen_elsewhere} other incidents)" if link.seen_elsewhere else ""
            )
            echo(f"  {link.kind}: {link.value}{seen}")
        for run in service.runs_of(db=db, incident_id=incident.id):
            echo(f"Run {run.id} ({run.playbook_id}, {run.status}):")
            for step in service.steps_of(db=db, run_id=run.id):
                due = f" due {utc_iso(step.due_at)}" if step.due_at else ""
                error = f" — {step.error}" if step.error and step.status == "manual" else ""
                echo(f"  [{step.status}] {step.step_id}: {step.title}{due}{error}")
        echo("Timeline:")
        for entry in service.timeline(db=db, incident_id=incident.id):
            echo(f"  {utc_iso(entry.at)} {entry.actor} {entry.action}")


@playbooks_app.command("check")
def check_command(
    directory: Annotated[Path, typer.Argument(help="Folder of playbook YAML files.")],
) -> None:
    """Validate every playbook file; print `file:line: field: problem` per issue, exit 1 if any."""
    from playbooks.library import check_directory

    if not directory.is_dir():
        console.print(f"[red]{directory}: not a directory[/red]")
        raise typer.Exit(code=2)
    issues = check_directory(directory)
    for issue in issues:
        typer.echo(str(issue))
    if issues:
        raise typer.Exit(code=1)
    typer.echo(f"{directory}: all playbooks valid")
