"""`dijkwacht tokens create|list|revoke`: the one kind of API token, for scripts and collectors."""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import Annotated

import typer

from dijkwacht.commands.common import console, settings_or_exit, write_unit

app = typer.Typer(
    help="API tokens for scripts and collectors: scoped, revocable, audited.",
    no_args_is_help=True,
)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@app.command("create")
def create_command(
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope", "-s", help="Repeat for each scope: ingest, read:alerts, read:metrics, ..."
        ),
    ],
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="The account the token acts as; none: only 'ingest'."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="What the token is for (default: the source or 'cli')."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Bind an 'ingest' token to this collector source."),
    ] = None,
    expires: Annotated[
        int | None, typer.Option("--expires", min=1, max=3650, help="Lifetime in days.")
    ] = None,
) -> None:
    """Issue a token (audited); the secret is printed once, on stdout, and stored only as a
    hash."""
    from core.accounts.tokens import create_token
    from core.clock import SystemClock
    from core.errors import NotFoundError, ValidationError

    settings = settings_or_exit()
    try:
        with write_unit(settings) as db:
            issued = create_token(
                db=db,
                username=user,
                name=name or source or "cli",
                scopes=scope,
                source=source,
                clock=SystemClock(),
                actor=_actor(),
                expires_in=timedelta(days=expires) if expires else None,
            )
    except (NotFoundError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    typer.echo(issued.token)
    bound = f", source {issued.source}" if issued.source else ""
    holder = user or "no user"
    typer.echo(
        f"token {issued.id} ({holder}{bound}): {', '.join(issued.scopes)}; shown once, store "
        "it safely",
        err=True,
    )


@app.command("list")
def list_command() -> None:
    """Every token, newest first: id, prefix, name, user, source, scopes, state, last used
    (UTC). Never the secret."""
    from core.accounts.tokens import list_tokens, shown_prefix
    from core.clock import SystemClock

    settings = settings_or_exit()
    now = SystemClock().now()
    with write_unit(settings) as db:
        for token, username in list_tokens(db=db):
            if token.revoked_at is not None:
                state = "revoked"
            elif token.expires_at is not None and token.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "-"
            typer.echo(
                f"{token.id}\t{shown_prefix(token)}\t{token.name}\t{username or '-'}\t"
                f"{token.source or '-'}\t{','.join(token.scopes)}\t{state}\t{used}"
            )


@app.command("revoke")
def revoke_command(token_id: Annotated[int, typer.Argument(help="The id `list` shows.")]) -> None:
    """Revoke a token for good (audited); it is refused with 401 from then on."""
    from core.accounts.tokens import revoke_token
    from core.clock import SystemClock
    from core.errors import NotFoundError

    settings = settings_or_exit()
    try:
        with write_unit(settings) as db:
            row = revoke_token(db=db, token_id=token_id, clock=SystemClock(), actor=_actor())
            name = row.name
    except NotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"token {token_id} ({name}) revoked")
