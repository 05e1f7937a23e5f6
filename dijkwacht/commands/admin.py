"""`dijkwacht admin ...`: account administration from the command line."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from core.accounts.models import Role
from core.errors import ConflictError, ValidationError
from dijkwacht.commands.common import console, settings_or_exit, write_unit

app = typer.Typer(help="Administer local accounts.", no_args_is_help=True)

ROLE_HELP = "One of: " + ", ".join(role.value for role in Role) + "."


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; only the line ending is removed, so spaces inside the password stay.
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt="Repeat password")
    return password


@app.command("create-user")
def create_user_command(
    username: Annotated[str, typer.Argument(help="Login name; stored in lowercase.")],
    role: Annotated[str, typer.Option("--role", "-r", help=ROLE_HELP)],
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Name shown in the dashboard.")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Create a user (migrating the database first); the password is asked twice, hidden."""
    from core.accounts.service import create_user
    from core.clock import SystemClock

    settings = settings_or_exit()
    password = _read_password(password_stdin)
    try:
        with write_unit(settings) as db:
            user = create_user(
                db=db,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                clock=SystemClock(),
                actor=f"cli:{getpass.getuser()}",
            )
    except (ConflictError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"created user {user.username} ({user.role.value})")


@app.command("create-token")
def create_token_command(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", "-s", help="Repeat for each scope: ingest, read:alerts, ..."),
    ],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, max=3650, help="Lifetime in days.")
    ] = None,
) -> None:
    """Issue an API token; it is printed once and stored only as a hash."""
    from datetime import timedelta

    from core.accounts.tokens import create_token
    from core.clock import SystemClock
    from core.errors import NotFoundError

    settings = settings_or_exit()
    try:
        with write_unit(settings) as db:
            issued = create_token(
                db=db,
                username=username,
                name=name,
                scopes=scope,
                clock=SystemClock(),
                actor=f"cli:{getpass.getuser()}",
                expires_in=timedelta(days=expires_days) if expires_days else None,
            )
    except (NotFoundError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    typer.echo(issued.token)
    typer.echo(f"token {issued.id} for {username}: {', '.join(issued.scopes)}", err=True)
