"""The write boundary of the incident, DPO and drill views, until the shared write dependency.

A POST view that writes calls `begin_write(db)` before its first read and `db.commit()` after
its last write; tasks it asks for are sent after that commit. Issue 16 part 1 adds a write-session
dependency to `dashboard/deps.py`; these views move to it and this module goes away.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.store.relational import acquire_write_lock


def begin_write(db: Session) -> None:
    """Start the view's transaction holding the SQLite write lock (BEGIN IMMEDIATE).

    The access-control dependencies already read through this session, so a deferred read
    transaction may be open; it is ended first, because SQLite cannot wait to upgrade a read
    into a write (it fails at once with "database is locked") but does wait for BEGIN IMMEDIATE.
    """
    if db.in_transaction():
        db.commit()
    acquire_write_lock(db)


__all__ = ["begin_write"]
