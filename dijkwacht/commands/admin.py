"""`dijkwacht admin ...`: account administration from the command line."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from core.accounts.models import Role
from core.clock import SystemClock
from core.errors import ConflictError, ValidationError
from dijkwacht.commands.common import console, settings_or_exit, write_unit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings

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


# -- the first account: what `dijkwacht up` says (and offers) when nobody can log in yet ------

FIRST_ADMIN_HINT = (
    "No active admin account yet, so nobody can log in. Create one (in another terminal; no "
    "restart needed):\n  dijkwacht admin create-user NAME --role admin\n"
    "Nog geen actieve beheerder: maak er een aan met het commando hierboven."
)


def first_account(settings: Settings, *, interactive: bool) -> bool:
    """Say how to create the first admin when there is none; on a terminal, offer to create it
    here. Returns True when an active admin exists afterwards."""
    from core.accounts.administration import active_admins
    from core.accounts.service import create_user
    from core.store.relational import create_db_engine, create_session_factory
    from core.store.unit_of_work import unit_of_work

    engine = create_db_engine(settings)
    try:
        factory = create_session_factory(engine)
        with unit_of_work(factory, write=False) as db:
            if active_admins(db=db):
                return True
        console.print(f"[yellow]{FIRST_ADMIN_HINT}[/yellow]", highlight=False, soft_wrap=True)
        if not interactive or not typer.confirm("Create an admin account now?", default=True):
            return False
        while True:
            username = typer.prompt("Username")
            password = _read_password(False)
            try:
                with unit_of_work(factory) as db:
                    user = create_user(
                        db=db, username=username, password=password, role=Role.ADMIN,
                        clock=SystemClock(), actor=f"cli:{getpass.getuser()}",
                    )  # fmt: skip
            except (ConflictError, ValidationError) as exc:
                console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
                continue
            console.print(f"created admin {user.username}; log in with it in the dashboard")
            return True
    finally:
        engine.dispose()


# -- existing accounts: list, role, password, disable/enable (one unit of work per command) ---


@contextmanager
def _unit() -> Iterator[Session]:
    """A migrated database and one unit of work; account errors end the command (exit 1)."""
    from core.errors import NotFoundError
    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import unit_of_work

    settings = settings_or_exit()
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            yield db
    except (ConflictError, NotFoundError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@app.command("list")
def list_command() -> None:
    """Every account: name, role, active, failed logins, locked until (UTC)."""
    from core.accounts.service import list_users

    with _unit() as db:
        for user in list_users(db=db):
            locked = user.locked_until.isoformat(timespec="seconds") if user.locked_until else "-"
            state = "active" if user.active else "disabled"
            typer.echo(
                f"{user.username}\t{user.role.value}\t{state}\t{user.failed_logins}\t{locked}"
            )


@app.command("set-role")
def set_role_command(
    username: Annotated[str, typer.Argument(help="The account.")],
    role: Annotated[str, typer.Argument(help=ROLE_HELP)],
) -> None:
    """Give USERNAME another role (audited); the last active admin cannot be demoted."""
    from core.accounts.administration import set_role

    with _unit() as db:
        user = set_role(db=db, username=username, role=role, clock=SystemClock(), actor=_actor())
    typer.echo(f"{user.username} is now {user.role.value}")


@app.command("reset-password")
def reset_password_command(
    username: Annotated[str, typer.Argument(help="The account.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Set a new password for USERNAME (asked twice, hidden); ends its sessions, lifts a
    lock-out; audited."""
    from core.accounts.administration import reset_password

    password = _read_password(password_stdin)
    with _unit() as db:
        user = reset_password(
            db=db, username=username, password=password, clock=SystemClock(), actor=_actor()
        )
    typer.echo(f"password of {user.username} reset; its sessions were ended")


@app.command("disable")
def disable_command(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Disable USERNAME and end its sessions (audited); the last active admin cannot be."""
    from core.accounts.administration import set_active

    with _unit() as db:
        user = set_active(
            db=db, username=username, active=False, clock=SystemClock(), actor=_actor()
        )
    typer.echo(f"{user.username} disabled")


@app.command("enable")
def enable_command(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Enable USERNAME again (audited)."""
    from core.accounts.administration import set_active

    with _unit() as db:
        user = set_active(
            db=db, username=username, active=True, clock=SystemClock(), actor=_actor()
        )
    typer.echo(f"{user.username} enabled")
