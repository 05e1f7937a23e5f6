"""`dijkwacht exceptions list|add|expire` and `dijkwacht exceptions window`: alert exceptions
and maintenance windows from the command line (the same audited service as the pages)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from core.clock import utc_iso
from dijkwacht.commands.common import console
from dijkwacht.commands.units import command_unit

app = typer.Typer(help="Alert exceptions and maintenance windows.", no_args_is_help=True)


@contextmanager
def _unit(*, write: bool) -> Iterator[Session]:
    from core.errors import NotFoundError, ValidationError

    try:
        with command_unit(write=write) as (_settings, db):
            yield db
    except NotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from None
    except ValidationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None


def _when(value: str, field: str) -> datetime:
    from core.errors import ValidationError

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"not an ISO date and time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValidationError(field, "give a time zone, e.g. 2026-12-31T09:00+01:00")
    return parsed


@app.command("list")
def list_command(
    all_: Annotated[bool, typer.Option("--all", help="Also expired exceptions.")] = False,
) -> None:
    """Exceptions with owner, expiry and how many alerts each suppressed; then the windows."""
    from core.clock import SystemClock
    from detection import service

    with _unit(write=False) as db:
        for row in service.list_exceptions(db=db, clock=SystemClock(), include_expired=all_):
            condition = ", ".join(f"{k}={'|'.join(v)}" for k, v in row.conditions.items())
            typer.echo(
                f"#{row.id} {row.rule_id} when {condition} · until {utc_iso(row.expires_at)}"
                f" · {row.created_by} · suppressed {row.suppressed} · {row.reason}"
            )
        for window in service.list_maintenance_windows(db=db):
            typer.echo(
                f"window #{window.id} {window.host_name or 'all hosts'} "
                f"{utc_iso(window.starts_at)} → {utc_iso(window.ends_at)} · {window.created_by}"
                f" · suppressed {window.suppressed} · {window.reason}"
            )


@app.command("add")
def add_command(
    rule_id: Annotated[str, typer.Argument(help="The rule id ('*' for every rule).")],
    condition: Annotated[str, typer.Option("--when", help="FIELD=VALUE, e.g. host.name=pc-7.")],
    reason: Annotated[str, typer.Option("--reason", help="Why these alerts are not needed.")],
    expires: Annotated[str, typer.Option("--expires", help="ISO time with zone.")],
) -> None:
    """Don't alert again for RULE_ID when FIELD equals VALUE, until --expires."""
    from core.clock import SystemClock
    from core.errors import ValidationError
    from detection import service

    name, _, value = condition.partition("=")
    with _unit(write=True) as db:
        if not name.strip() or not value.strip():
            raise ValidationError("when", "give FIELD=VALUE")
        row = service.add_exception(
            db=db,
            clock=SystemClock(),
            actor=f"cli:{getpass.getuser()}",
            rule_id=rule_id,
            conditions={name.strip(): [value.strip()]},
            reason=reason,
            expires_at=_when(expires, "expires"),
        )
        typer.echo(f"exception #{row.id} added")


@app.command("expire")
def expire_command(
    exception_id: Annotated[int, typer.Argument(help="Exception id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it ends now.")],
) -> None:
    """End an exception now (it is kept, with its count)."""
    from core.clock import SystemClock
    from detection import service

    with _unit(write=True) as db:
        row = service.expire_exception(
            db=db,
            clock=SystemClock(),
            actor=f"cli:{getpass.getuser()}",
            exception_id=exception_id,
            reason=reason,
        )
        typer.echo(f"exception #{row.id} expired after suppressing {row.suppressed} alerts")


@app.command("window")
def window_command(
    starts: Annotated[str, typer.Option("--from", help="ISO time with zone.")],
    ends: Annotated[str, typer.Option("--until", help="ISO time with zone.")],
    reason: Annotated[str, typer.Option("--reason", help="The planned work.")],
    host: Annotated[str | None, typer.Option("--host", help="Only this host.")] = None,
) -> None:
    """Add a maintenance window: alerts in it are suppressed and counted."""
    from core.clock import SystemClock
    from detection import service

    with _unit(write=True) as db:
        row = service.add_maintenance_window(
            db=db,
            clock=SystemClock(),
            actor=f"cli:{getpass.getuser()}",
            starts_at=_when(starts, "from"),
            ends_at=_when(ends, "until"),
            reason=reason,
            host_name=host,
        )
        typer.echo(f"maintenance window #{row.id} added")


@app.command("edit")
def edit_command(
    exception_id: Annotated[int, typer.Argument(help="Exception id.")],
    reason: Annotated[str, typer.Option("--reason", help="The new reason.")],
    expires: Annotated[str, typer.Option("--expires", help="New expiry, ISO time with zone.")],
) -> None:
    """Change an exception's reason and expiry (audited with before and after)."""
    from core.clock import SystemClock
    from detection import service

    with _unit(write=True) as db:
        row = service.edit_exception(
            db=db,
            clock=SystemClock(),
            actor=f"cli:{getpass.getuser()}",
            exception_id=exception_id,
            reason=reason,
            expires_at=_when(expires, "expires"),
        )
        typer.echo(f"exception #{row.id} now expires {utc_iso(row.expires_at)}")


@app.command("end-window")
def end_window_command(
    window_id: Annotated[int, typer.Argument(help="Maintenance window id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it ends now.")],
) -> None:
    """End a maintenance window now (audited)."""
    from core.clock import SystemClock
    from detection import service

    with _unit(write=True) as db:
        row = service.end_maintenance_window(
            db=db,
            clock=SystemClock(),
            actor=f"cli:{getpass.getuser()}",
            window_id=window_id,
            reason=reason,
        )
        typer.echo(f"maintenance window #{row.id} ended")
