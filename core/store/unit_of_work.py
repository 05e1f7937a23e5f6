"""One door for relational writes: a unit of work opened at the boundary (view, task, command).

Services take a `Session`, read and write through it and `flush()` when they need ids; they
never commit, roll back or take locks. The boundary opens `unit_of_work(factory)`, calls one or
more services, and the unit commits when the block ends (or rolls back when it raises).

On SQLite a write unit begins with `BEGIN IMMEDIATE`: the write lock is taken up front, so the
busy timeout applies while another writer holds it. A transaction that began as a read and then
writes can fail at once with "database is locked" (SQLite cannot wait for a lock upgrade without
risking deadlock), which is why a unit that may write must say so at the start. Read units
(`write=False`) begin deferred and never commit: readers never block writers in WAL mode.

`lazy=True` begins that same IMMEDIATE transaction at the unit's first statement instead of at
once. A web request opens its write unit as a dependency, before the caller check runs; taking
the lock then made the caller check's own short write (a session or token touch) wait on its
own request's lock for the whole busy timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.store.relational import SQLITE_WRITE_LOCK, acquire_write_lock

# `Session.info` key naming the unit a session belongs to ("write" or "read"), so a helper that
# must write (the audit of a read) knows whether to join the caller's unit or open its own.
UNIT_KIND = "dijkwacht_unit_of_work"


def is_write_unit(session: Session) -> bool:
    """True when `session` is a write unit opened by `unit_of_work` (it holds the write lock)."""
    return session.info.get(UNIT_KIND) == "write"


@contextmanager
def unit_of_work(
    factory: sessionmaker[Session],
    *,
    write: bool = True,
    commit_on: tuple[type[BaseException], ...] = (),
    lazy: bool = False,
) -> Iterator[Session]:
    """A session whose work is committed as one transaction when the block ends without error.

    `write=False` gives a read unit: it is rolled back at the end, so an accidental write in a
    read path is lost loudly in tests rather than committed without the write lock.
    `commit_on` names errors that still commit before they propagate: a refused login raises,
    yet its audit entry and failure count must be kept.
    """
    immediate = _immediate_engine(factory) if write and lazy else None
    session = factory() if immediate is None else factory(bind=immediate)
    session.info[UNIT_KIND] = "write" if write else "read"
    try:
        if write and immediate is None:
            acquire_write_lock(session)
        try:
            yield session
        except commit_on:
            if write:
                session.commit()
            raise
        if write:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_IMMEDIATE: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


def _immediate_engine(factory: sessionmaker[Session]) -> Engine | None:
    """The factory's SQLite engine with every transaction begun IMMEDIATE (same pool), or None
    where that does not apply (other databases, or a factory not bound to one engine)."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return None
    engine = _IMMEDIATE.get(bind)
    if engine is None:
        engine = _IMMEDIATE[bind] = bind.execution_options(**{SQLITE_WRITE_LOCK: True})
    return engine


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


__all__ = ["UNIT_KIND", "is_locked_error", "is_write_unit", "unit_of_work"]
