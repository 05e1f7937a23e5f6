"""The unit of work of a command (`dijkwacht breach|drills|incidents ...`): the command is the
boundary, so it commits what the services did when it succeeds and rolls back when it fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from dijkwacht.commands.common import console, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings

# sysexits.h EX_TEMPFAIL: a temporary failure, the same command may succeed when run again.
EXIT_BUSY = 75


@contextmanager
def command_unit(*, write: bool) -> Iterator[tuple[Settings, Session]]:
    """Settings and a session in one unit of work on the migrated database.

    A write unit begins with BEGIN IMMEDIATE on SQLite, so it waits for another writer up to the
    busy timeout; a database still locked after that ends the command with a message and exit
    code 75, not a traceback. Nothing was changed then.
    """
    from sqlalchemy.exc import OperationalError

    from core.store.relational import create_db_engine, create_session_factory, migrate
    from core.store.unit_of_work import is_locked_error, unit_of_work

    settings = settings_or_exit()
    engine = create_db_engine(settings)
    try:
        migrate(settings)  # also takes the lock when it checks the schema version
        with unit_of_work(create_session_factory(engine), write=write) as db:
            yield settings, db
    except OperationalError as exc:
        if not is_locked_error(exc):
            raise
        console.print(
            "[red]database busy: another process kept it locked; nothing was changed, "
            "try again[/red]"
        )
        raise typer.Exit(code=EXIT_BUSY) from None
    finally:
        engine.dispose()


__all__ = ["EXIT_BUSY", "command_unit"]
