"""Faults that pass by themselves: a full disk, a read-only file system, a locked database.

Every process that writes (the collector's components, every command) must tell such a fault
from a bug: the first pauses and retries (the collector) or ends with one line naming the cause
(a command), the second crashes with its traceback. The faults come from the stores' files and
drivers, so the one place that recognises them sits beside the stores.
"""

from __future__ import annotations

import errno

from core.store.unit_of_work import is_locked_error

_OS_FAULTS = {
    errno.ENOSPC: "disk full (ENOSPC)",
    errno.EDQUOT: "disk quota exceeded (EDQUOT)",
    errno.EROFS: "read-only file system (EROFS)",
    errno.EACCES: "permission denied (EACCES)",
    errno.EPERM: "operation not permitted (EPERM)",
    errno.EIO: "disk I/O error (EIO)",
}
# SQLite reports file-system faults as OperationalError text, not errno; PostgreSQL reports
# write conflicts that a retry resolves (SQLSTATE 40001, 40P01, 55P03) the same way.
_DB_FAULTS = (
    ("database or disk is full", "disk full (SQLITE_FULL)"),
    ("disk i/o error", "disk I/O error (SQLITE_IOERR)"),
    ("attempt to write a readonly database", "read-only database (SQLITE_READONLY)"),
    ("unable to open database file", "cannot open the database file (SQLITE_CANTOPEN)"),
    ("could not serialize access", "write conflict with another transaction (40001)"),
    ("deadlock detected", "write conflict: deadlock with another transaction (40P01)"),
    ("lock timeout", "database lock held by another transaction (55P03)"),
)


def describe_fault(exc: BaseException) -> str | None:
    """A short cause for a fault that passes by itself, or None for a bug (which must crash).

    Looks through SQLAlchemy's wrapper (`orig`) and the exception chain, so a fault raised
    inside a store or a detection hook is recognised as well as one from the spool.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if is_locked_error(current):
            return "database is locked by another process (busy timeout ran out)"
        if isinstance(current, OSError) and current.errno in _OS_FAULTS:
            return _OS_FAULTS[current.errno]
        driver = type(current).__module__.startswith(("sqlite3", "psycopg"))
        if driver or hasattr(current, "orig"):
            text = str(getattr(current, "orig", None) or current).lower()
            for needle, cause in _DB_FAULTS:
                if needle in text:
                    return cause
        orig = getattr(current, "orig", None)
        nxt = orig if isinstance(orig, BaseException) else None
        current = nxt or current.__cause__ or current.__context__
    return None
