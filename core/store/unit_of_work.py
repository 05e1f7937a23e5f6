"""One door for relational writes: a unit of work opened at the boundary (view, task, command).

Services take a `Session`, read and write through it and `flush()` when they need ids; they
never commit, roll back or take locks. The boundary opens `unit_of_work(factory)`, calls one or
more services, and the unit commits when the block ends (or rolls back when it raises).

On SQLite a write unit begins with `BEGIN IMMEDIATE`: the write lock is taken up front, so the
busy timeout applies while another writer holds it. A transaction that began as a read and then
writes can fail at once with "database is locked" (SQLite cannot wait for a lock upgrade without
risking deadlock), which is why a unit that may write must say so at the start. Read units
(`write=False`) begin deferred and never commit: readers never block writers in WAL mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from core.store.relational import acquire_write_lock


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """A session whose work is committed as one transaction when the block ends without error.

    `write=False` gives a read unit: it is rolled back at the end, so an accidental write in a
    read path is lost loudly in tests rather than committed without the write lock.
    """
    session = factory()
    try:
        if write:
            acquire_write_lock(session)
        yield session
        if write:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_locked_error(exc: BaseException) -> bool:
    """True for SQLite's "database is locked"/"busy" after its busy timeout ran out.

    Boundaries turn this into a pause and retry (collectors, tasks) or a 503 with Retry-After
    (HTTP), never into a crash or a 500.
    """
    text = str(getattr(exc, "orig", None) or exc).lower()
    return (
        "database is locked" in text
        or "database is busy" in text
        or "database table is locked" in text
    )


__all__ = ["is_locked_error", "unit_of_work"]
