"""`dijkwacht advisories import|list|accept-risk`: CSAF 2.0 advisories against the inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from core.clock import utc_iso
from dijkwacht.commands.inventory import actor, print_issues, unit

app = typer.Typer(help="CSAF 2.0 advisories matched against the inventory.", no_args_is_help=True)


@app.command("import")
def import_command(
    sources: Annotated[
        list[str],
        typer.Argument(help="Files, folders, document URLs or a provider-metadata.json URL."),
    ],
) -> None:
    """Validate and import advisories; prints counts, incidents opened and located problems.

    Exits 1 when any document was refused (the valid ones are stored).
    """
    from advisories import service
    from core.clock import SystemClock

    documents, issues = service.read_documents(sources)  # before the unit: no lock waits on I/O
    with unit(write=True) as (_settings, db):
        report = service.import_documents(
            db=db, clock=SystemClock(), documents=documents, actor=actor()
        )
    issues += report.issues
    print_issues(list(issues))
    for result in report.results:
        incident = f" · incident #{result.incident_id}" if result.incident_id else ""
        opened = " (opened)" if result.incident_opened else ""
        typer.echo(f"{result.tracking_id}: {result.affected} affected item(s){incident}{opened}")
    typer.echo(
        f"advisories: {report.imported} imported, {len(issues)} problem(s), "
        f"{len(report.incidents_opened)} incident(s) opened"
    )
    if issues:
        raise typer.Exit(code=1)


@app.command("list")
def list_command(
    all_: Annotated[bool, typer.Option("--all", help="Also fixed and accepted matches.")] = False,
) -> None:
    """Open advisories per inventory item, with due dates and accepted risks."""
    from advisories import service
    from core.clock import SystemClock

    with unit(write=False) as (_settings, db):
        for row in service.overview(db=db, clock=SystemClock(), include_closed=all_):
            state = row.status
            if row.accepted and row.accepted_until is not None:
                state = f"accepted by {row.accepted_by} until {utc_iso(row.accepted_until)}"
            elif row.overdue:
                state = "OVERDUE"
            typer.echo(
                f"item #{row.item.id} {row.item.vendor} {row.item.product} {row.item.version}"
                f" ({row.item.owner}) · advisory #{row.advisory.id} {row.advisory.tracking_id}"
                f" [{row.advisory.severity}] · due {utc_iso(row.due_at)} · {state}"
            )


@app.command("accept-risk")
def accept_risk_command(
    advisory_id: Annotated[int, typer.Argument(help="Advisory id (from `advisories list`).")],
    item_id: Annotated[int, typer.Argument(help="Inventory item id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the risk is acceptable.")],
    until: Annotated[str, typer.Option("--until", help="ISO time with zone.")],
) -> None:
    """Accept the risk of one advisory on one item until a moment (audited)."""
    from advisories import service
    from core.clock import SystemClock
    from core.errors import ValidationError

    with unit(write=True) as (_settings, db):
        try:
            moment = datetime.fromisoformat(until)
        except ValueError:
            raise ValidationError("until", f"not an ISO date and time: {until!r}") from None
        service.accept_risk(
            db=db, clock=SystemClock(), advisory_id=advisory_id, item_id=item_id,
            reason=reason, until=moment, actor=actor(),
        )  # fmt: skip
        typer.echo(f"risk of advisory #{advisory_id} on item #{item_id} accepted until {until}")
