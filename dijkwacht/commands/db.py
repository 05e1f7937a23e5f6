"""`dijkwacht db ...`: relational database schema."""

from __future__ import annotations

import typer

from dijkwacht.commands.common import settings_or_exit

app = typer.Typer(help="Relational database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration (also done by `dijkwacht up`)."""
    from core.store.relational import current_revision, migrate

    settings = settings_or_exit()
    before = current_revision(settings)
    migrate(settings)
    after = current_revision(settings)
    if before == after:
        typer.echo(f"database already at {after}")
    else:
        typer.echo(f"database upgraded from {before or 'empty'} to {after}")
