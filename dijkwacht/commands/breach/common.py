"""What the `dijkwacht breach` commands share: units of work, the `--as` account, ids, input.

Every journey command acts as a named account (`--as`), so the register's history says who did
it; a refused input ends with the field and the problem and exit code 2; nothing is changed then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dijkwacht.commands.common import console
from dijkwacht.commands.units import command_unit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.accounts.models import User
    from core.config import Settings

As = Annotated[str, typer.Option("--as", help="Your account (username); it goes in the history.")]
# The ids every command takes, declared once.
BreachId = Annotated[int, typer.Argument(help="Breach id.")]
ReportId = Annotated[int, typer.Argument(help="Report id.")]
BatchId = Annotated[int, typer.Argument(help="Letter batch id.")]
RequestId = Annotated[int, typer.Argument(help="Request id.")]


@contextmanager
def unit(*, write: bool = False) -> Iterator[tuple[Settings, Session]]:
    """The command's unit of work; only `processing-register load` writes."""
    with command_unit(write=write) as (settings, db):
        yield settings, db


@contextmanager
def _write() -> Iterator[tuple[Settings, Session]]:
    """One write unit; a refused input rolls it back and exits with code 2."""
    from core.errors import DijkwachtError

    try:
        with command_unit(write=True) as (settings, db):
            yield settings, db
    except DijkwachtError as problem:
        console.print(f"[red]{escape(str(problem))}[/red]")
        raise typer.Exit(code=2) from None


@contextmanager
def acting(username: str) -> Iterator[tuple[Settings, Session, User]]:
    """One write unit as the account `--as` names (active, or the command is refused)."""
    with _write() as (settings, db):
        yield settings, db, _user(db, username)


def json_file(path: Path, option: str) -> Any:
    """A JSON file given on the command line; unreadable or bad JSON names the option."""
    from core.errors import ValidationError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(option, f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(option, f"{path} line {exc.lineno}: {exc.msg}") from None


def escape(text: str) -> str:
    """Rich markup off for user text."""
    return text.replace("[", "\\[")


def _user(db: Session, username: str) -> User:
    from sqlalchemy import select

    from core.accounts.models import User
    from core.errors import ValidationError

    account = db.scalar(select(User).where(User.username == username))
    if account is None or not account.active:
        raise ValidationError("--as", f"no active account {username!r}")
    return account


def pairs(items: list[str], option: str) -> dict[str, str]:
    """Repeated `name=value` options as a dict; a malformed one names the option."""
    from core.errors import ValidationError

    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(option, f"{item!r}: write name=value")
        found[key.strip()] = value
    return found


def clock() -> Any:
    """The wall clock, imported when a command runs (not at `dijkwacht --help`)."""
    from core.clock import SystemClock

    return SystemClock()


def escape_markup(text: str) -> str:
    """Rich markup escaped (field names like `systems[0]` look like markup tags)."""
    from rich.markup import escape

    return escape(text)
