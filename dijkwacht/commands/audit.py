"""`dijkwacht audit ...`: check and read the keyed audit chain, export and check checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.clock import utc_iso
from dijkwacht.commands.common import console, settings_or_exit

app = typer.Typer(help="Verify and read the audit log.", no_args_is_help=True)
checkpoint_app = typer.Typer(
    help="Signed checkpoints of the audit log, for a party outside the platform to keep.",
    no_args_is_help=True,
)
app.add_typer(checkpoint_app, name="checkpoint")


@app.command("verify")
def verify_command(
    actor: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who runs the check (on the record; BIO2 8.15.06 wants an "
            "official independent of operations).",
        ),
    ] = "cli",
) -> None:
    """Walk the keyed chain and record the run; exit 1 and name the first tampered entry."""
    from core.audit import record_verification, verify
    from core.clock import SystemClock
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import unit_of_work

    settings = settings_or_exit()
    migrate(settings)
    engine = create_db_engine(settings)
    sessions = create_session_factory(engine)
    try:
        # Walk the chain in a read unit (it can take a while); record the run in a short write.
        with unit_of_work(sessions, write=False) as db:
            result = verify(db=db)
        with unit_of_work(sessions) as db:
            record_verification(db=db, clock=SystemClock(), actor=actor, result=result)
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


@checkpoint_app.command("export")
def checkpoint_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Verify the chain, then write a signed checkpoint of its head (JSON) for safe keeping."""
    import json

    from core.audit import record
    from core.audit_checkpoint import create_checkpoint
    from core.clock import SystemClock
    from core.errors import ConflictError
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import unit_of_work

    settings = settings_or_exit()
    migrate(settings)
    engine = create_db_engine(settings)
    clock = SystemClock()
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            document = create_checkpoint(db=db, clock=clock, settings=settings)
            # The export itself is on the record (as the entry after the checkpoint's head).
            record(
                db=db,
                clock=clock,
                actor="cli",
                action="audit.checkpoint_exported",
                object_type="audit_log",
                object_id=str(document["seq"]),
                details={"head_hash": document["head_hash"]},
            )
    except ConflictError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"checkpoint of seq {document['seq']} written to {output}", highlight=False)
    console.print(f"signing public key: {document['public_key']}", highlight=False)


@checkpoint_app.command("verify")
def checkpoint_verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Checkpoint JSON.")],
) -> None:
    """Check a kept checkpoint: signed by this platform, and its head still in the log."""
    from core.audit_checkpoint import parse_checkpoint, verify_checkpoint
    from core.errors import ValidationError
    from core.store.relational import create_db_engine, create_session_factory, migrate

    settings = settings_or_exit()
    try:
        document = parse_checkpoint(file.read_bytes())
    except ValidationError as exc:
        console.print(f"[red]{file}: {exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            result = verify_checkpoint(db=db, settings=settings, document=document)
    finally:
        engine.dispose()
    if result.reason is not None:
        console.print(
            f"[red]checkpoint of seq {result.seq} FAILED[/red]: {result.reason}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1)
    if not result.chain.ok:
        console.print(
            f"checkpoint of seq {result.seq} held, but [red]the chain is TAMPERED[/red] after it "
            f"at seq {result.chain.bad_seq}: {result.chain.reason}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1)
    typer.echo(
        f"checkpoint of seq {result.seq} held: the log has {result.chain.entries} entries "
        "and verifies"
    )
