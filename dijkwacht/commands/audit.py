"""`dijkwacht audit ...`: check and read the hash-chained audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from core.clock import utc_iso
from dijkwacht.commands.common import console, settings_or_exit

app = typer.Typer(help="Verify and read the audit log.", no_args_is_help=True)


@app.command("verify")
def verify_command() -> None:
    """Walk the hash chain; exit 1 and name the first tampered entry if it is broken."""
    from core.audit import verify
    from core.store.relational import create_db_engine, create_session_factory, migrate

    settings = settings_or_exit()
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            result = verify(db=db)
    finally:
        engine.dispose()
    if result.ok:
        typer.echo(f"audit log intact: {result.entries} entries (head {result.head_hash})")
        return
    at = utc_iso(result.bad_at) if result.bad_at is not None else "?"
    console.print(
        f"[red]audit log TAMPERED[/red] at seq {result.bad_seq} ({at}, {result.bad_action}): "
        f"{result.reason}; {result.entries} entries before it verify",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(code=1)


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N entries.")] = 20,
) -> None:
    """Show the newest entries, oldest of them first."""
    from rich.console import Console
    from rich.table import Table

    from core.audit import entries
    from core.store.relational import create_db_engine, create_session_factory, migrate

    settings = settings_or_exit()
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            rows = list(reversed(entries(db=db, limit=limit, newest_first=True)))
    finally:
        engine.dispose()
    table = Table("seq", "at (UTC)", "actor", "action", "object", "purpose")
    for entry in rows:
        target = entry.object_type + (f":{entry.object_id}" if entry.object_id else "")
        table.add_row(
            str(entry.seq),
            utc_iso(entry.at),
            entry.actor,
            entry.action,
            target,
            entry.purpose or "",
        )
    Console(highlight=False).print(table)
