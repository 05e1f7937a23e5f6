"""`dijkwacht incidents list|show|assign|status|severity|comment|observable|evidence|close|
merge|link-alert|add-task|complete-task|export`.

The write commands act as `cli:<OS user>` in the timeline and audit log, in one unit of work
each; a refused change prints the field and the problem and exits 2 (not found: 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from core.clock import utc_iso
from dijkwacht.commands.common import console, settings_or_exit
from dijkwacht.commands.units import command_unit

app = typer.Typer(help="Read and work incidents.", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Session]:
    """A read unit of work: these commands only read."""
    with command_unit(write=False) as (_settings, db):
        yield db


@app.command("list")
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


@app.command("show")
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
        tasks = service.tasks_of(db=db, incident_id=incident.id)
        if tasks:
            echo("Tasks:")
        for task in tasks:
            done = f" — done by {task.completed_by}: {task.note}" if task.completed_at else ""
            who = f" ({task.assignee})" if task.assignee else ""
            echo(f"  [{task.id}] {task.title}{who}{done}")
        echo("Timeline:")
        for entry in service.timeline(db=db, incident_id=incident.id):
            echo(f"  {utc_iso(entry.at)} {entry.actor} {entry.action}")


@contextmanager
def _change() -> Iterator[tuple[Session, str]]:
    """A write unit and the actor; service errors become a message and an exit code."""
    import getpass

    from core.errors import ConflictError, NotFoundError, ValidationError

    try:
        with command_unit(write=True) as (_settings, db):
            yield db, f"cli:{getpass.getuser()}"
    except NotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from None
    except (ValidationError, ConflictError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None


IncidentId = Annotated[int, typer.Argument(help="Incident id.")]


@app.command("assign")
def assign_command(
    incident_id: IncidentId,
    username: Annotated[str, typer.Argument(help="An existing, enabled account; '-' clears.")],
) -> None:
    """Assign the incident to an account (refused for unknown or disabled accounts)."""
    from core.clock import SystemClock
    from playbooks.service import assign

    with _change() as (db, actor):
        incident = assign(
            db=db,
            clock=SystemClock(),
            incident_id=incident_id,
            assignee=None if username == "-" else username,
            actor=actor,
        )
        typer.echo(f"incident {incident.id} assigned to {incident.assignee or 'nobody'}")


@app.command("status")
def status_command(
    incident_id: IncidentId,
    status: Annotated[str, typer.Argument(help="in_progress, contained, resolved (or closed).")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept on the timeline).")],
) -> None:
    """Move the incident along new → in_progress → contained → resolved → closed."""
    from core.clock import SystemClock
    from playbooks.service import change_status

    with _change() as (db, actor):
        incident = change_status(
            db=db,
            clock=SystemClock(),
            incident_id=incident_id,
            status=status,
            reason=reason,
            actor=actor,
        )
        typer.echo(f"incident {incident.id} is {incident.status}")


@app.command("severity")
def severity_command(
    incident_id: IncidentId,
    severity: Annotated[str, typer.Argument(help="low, medium, high or critical.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept on the timeline).")],
) -> None:
    """Change the incident's severity with a reason."""
    from core.clock import SystemClock
    from playbooks.service import set_severity

    with _change() as (db, actor):
        incident = set_severity(
            db=db,
            clock=SystemClock(),
            incident_id=incident_id,
            severity=severity,
            reason=reason,
            actor=actor,
        )
        typer.echo(f"incident {incident.id} severity {incident.severity}")


@app.command("observable")
def observable_command(
    incident_id: IncidentId,
    kind: Annotated[str, typer.Argument(help="ip, user, host, hash, domain or pseudonym.")],
    value: Annotated[str, typer.Argument(help="The value (normalised before it is stored).")],
) -> None:
    """Add an observable by hand; prints the other incidents it was seen in."""
    from core.clock import SystemClock
    from playbooks.service import add_observable

    with _change() as (db, actor):
        link = add_observable(
            db=db, clock=SystemClock(), incident_id=incident_id, kind=kind, value=value, actor=actor
        )
        also = ", ".join(f"#{n}" for n in link.other_incidents) or "no other incident"
        typer.echo(f"incident {incident_id}: {link.kind} {link.value} (also in {also})")


@app.command("evidence")
def evidence_command(
    incident_id: IncidentId,
    path: Annotated[Path, typer.Argument(help="The file to keep as evidence.", exists=True)],
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What the file is.")
    ] = None,
) -> None:
    """Keep a file as evidence of the incident; prints its SHA-256."""
    from core.clock import SystemClock
    from playbooks.service import add_evidence

    with _change() as (db, actor):
        settings = settings_or_exit()
        item = add_evidence(
            db=db,
            clock=SystemClock(),
            settings=settings,
            incident_id=incident_id,
            filename=path.name,
            content=path.read_bytes(),
            actor=actor,
            description=description,
        )
        typer.echo(f"evidence {item.id}: {item.filename} sha256={item.sha256}")


@app.command("comment")
def comment_command(
    incident_id: IncidentId,
    body: Annotated[str, typer.Argument(help="The comment (markdown); '-' reads stdin.")],
) -> None:
    """Add a comment to the incident."""
    import sys

    from core.clock import SystemClock
    from playbooks.service import add_comment

    text = sys.stdin.read() if body == "-" else body
    with _change() as (db, actor):
        comment = add_comment(
            db=db, clock=SystemClock(), incident_id=incident_id, body=text, actor=actor
        )
        typer.echo(f"comment {comment.id} added to incident {incident_id}")


@app.command("close")
def close_command(
    incident_id: IncidentId,
    reason: Annotated[
        str,
        typer.Option("--reason", help="resolved, false_positive, duplicate or risk_accepted."),
    ],
    summary: Annotated[str, typer.Option("--summary", help="What was found and done.")],
) -> None:
    """Close the incident with a closing reason and a summary."""
    from core.clock import SystemClock
    from playbooks.service import close

    with _change() as (db, actor):
        incident = close(
            db=db,
            clock=SystemClock(),
            incident_id=incident_id,
            reason=reason,
            summary=summary,
            actor=actor,
        )
        typer.echo(f"incident {incident.id} closed ({incident.close_reason})")


@app.command("merge")
def merge_command(
    incident_id: IncidentId,
    into: Annotated[int, typer.Option("--into", help="The incident that survives.")],
) -> None:
    """Merge the incident into another: alerts, observables, comments, evidence, tasks move."""
    from core.clock import SystemClock
    from playbooks.service import merge

    with _change() as (db, actor):
        survivor = merge(
            db=db, clock=SystemClock(), source_id=incident_id, target_id=into, actor=actor
        )
        typer.echo(f"incident {incident_id} merged into {survivor.id}")


@app.command("link-alert")
def link_alert_command(
    incident_id: IncidentId,
    alert_ids: Annotated[list[str], typer.Argument(help="One or more alert ids.")],
) -> None:
    """Link more alerts to the incident by hand (an alert in another incident: merge instead)."""
    from core.clock import SystemClock
    from core.store.factory import open_alert_store
    from playbooks.service import link_alerts

    with _change() as (db, actor):
        settings = settings_or_exit()
        store = open_alert_store(settings)
        linked = link_alerts(
            db=db,
            clock=SystemClock(),
            store=store,
            incident_id=incident_id,
            alert_ids=alert_ids,
            actor=actor,
        )
    if linked:  # after the commit: the alert store is another store
        store.update_status(linked, status="in_incident")
    skipped = len(set(alert_ids)) - len(linked)
    typer.echo(
        f"incident {incident_id}: linked {len(linked)} alert(s)"
        + (f", {skipped} already in it" if skipped else "")
    )


@app.command("add-task")
def add_task_command(
    incident_id: IncidentId,
    title: Annotated[str, typer.Argument(help="What has to be done.")],
    assignee: Annotated[
        str | None, typer.Option("--assignee", "-a", help="An existing, enabled account.")
    ] = None,
) -> None:
    """Add an ad-hoc task to the incident; prints its number for complete-task."""
    from core.clock import SystemClock
    from playbooks.service import add_task

    with _change() as (db, actor):
        task = add_task(
            db=db,
            clock=SystemClock(),
            incident_id=incident_id,
            title=title,
            assignee=assignee,
            actor=actor,
        )
        typer.echo(f"task {task.id} added to incident {incident_id}")


@app.command("complete-task")
def complete_task_command(
    task_id: Annotated[int, typer.Argument(help="The task number (from add-task or show).")],
    note: Annotated[str, typer.Option("--note", "-n", help="What was done.")],
) -> None:
    """Complete an ad-hoc task with a note."""
    from core.clock import SystemClock
    from playbooks.service import complete_adhoc_task

    with _change() as (db, actor):
        task = complete_adhoc_task(
            db=db, clock=SystemClock(), task_id=task_id, note=note, actor=actor
        )
        typer.echo(f"task {task.id} of incident {task.incident_id} completed")


@app.command("export")
def export_command(
    incident_id: IncidentId,
    police: Annotated[
        bool, typer.Option("--police", help="The signed police report (aangifte) package.")
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the ZIP.")] = Path("."),
) -> None:
    """Export the incident; with --police the aangifte ZIP (PDF, evidence, custody, signature)."""
    from core.clock import SystemClock
    from playbooks.service import export_police_package

    if not police:
        console.print("[red]--police: only the police package is exported here[/red]")
        raise typer.Exit(code=2)
    import getpass

    from core.errors import ConflictError, NotFoundError

    try:
        with command_unit(write=True) as (settings, db):
            package = export_police_package(
                db=db,
                clock=SystemClock(),
                settings=settings,
                incident_id=incident_id,
                actor=f"cli:{getpass.getuser()}",
            )
    except (ConflictError, NotFoundError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2 if isinstance(exc, ConflictError) else 1) from None
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"aangifte-incident-{incident_id}.zip"
    target.write_bytes(package.zip)
    typer.echo(f"{target} ({len(package.manifest)} files; public key {package.public_key})")
