"""What every SQLite file of Dijkwacht shares: opening in WAL mode, schema versions, transactions.

Used by the event and alert stores and by the collectors' spool. Times are stored as epoch
microseconds (INTEGER): compact, exact, and range scans compare integers.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

from core.errors import ConfigError
from core.store.base import EPOCH as EPOCH
from core.store.base import require_timezone

ONE_MICROSECOND = timedelta(microseconds=1)

# The stores' pragmas: FULL fsyncs every commit (see core.store.sqlite_events on durability).
PRAGMAS = (
    "PRAGMA synchronous=FULL",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
)


class _Connection(sqlite3.Connection):
    """A connection that remembers which file it opened (see `SqliteFile.reusable`)."""

    file_id: tuple[int, int] | None = None


def connect(
    path: Path,
    *,
    timeout_s: float = 10.0,
    pragmas: Sequence[str] = PRAGMAS,
    check_same_thread: bool = False,
) -> sqlite3.Connection:
    """Open a SQLite file in WAL mode and run `pragmas`.

    Autocommit mode (`isolation_level=None`): transactions are explicit `BEGIN IMMEDIATE`, so a
    writer takes the lock up front instead of failing half-way on a busy database.
    `check_same_thread` is off for the stores: FastAPI may close a per-request store from
    another pool thread than the one that opened it; one store still serves one request at a
    time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    create_private(path)
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        timeout=timeout_s,
        check_same_thread=check_same_thread,
        factory=_Connection,
    )
    try:
        opened = os.stat(path)
        conn.file_id = (opened.st_dev, opened.st_ino)
    except OSError:  # ":memory:" and the like: no file, never reusable from a pool
        pass
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise ConfigError(f"{path}: SQLite could not switch to WAL mode (got {mode!r})")
    for pragma in pragmas:
        conn.execute(pragma)
    return conn


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist yet.

    SQLite would create it 0644 (less the umask), and gives its -wal and -shm files the mode of
    the database file: creating the file first keeps all three private, whatever the umask of
    the process that happens to open it first.
    """
    if str(path) == ":memory:":
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def schema_version(conn: sqlite3.Connection, path: Path, *, newest: int, name: str) -> int:
    """The file's `user_version`; a newer one than this code knows closes `conn` and raises."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > newest:
        conn.close()
        raise ConfigError(
            f"{path}: {name} schema {version} is newer than this version "
            f"of Dijkwacht understands ({newest})"
        )
    return version


def apply_schema(conn: sqlite3.Connection, schema: str, *, version: int) -> None:
    """Create missing tables in one transaction (the script holds triggers, hence executescript)."""
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{schema}\nPRAGMA user_version={version};\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # the original error is the one worth raising
                conn.execute("ROLLBACK")
        raise


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: all of it is committed or none of it.

    SQLite may already have rolled back by itself (a full disk, an I/O error, a failed COMMIT);
    a second ROLLBACK would then raise and hide the real error, which callers classify.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # the original error is the one worth raising
                conn.execute("ROLLBACK")
        raise


def to_micros(moment: datetime, *, field: str) -> int:
    """Epoch microseconds of an aware datetime; naive times are ambiguous and refused."""
    return (require_timezone(moment, field=field) - EPOCH) // ONE_MICROSECOND


def from_micros(value: int) -> datetime:
    # Positional: a quarter cheaper than microseconds=..., and it runs for every row read.
    return EPOCH + timedelta(0, 0, value)


class SqliteFile:
    """Closing, also as a context manager, for a class that owns one connection in `_conn`."""

    path: Path
    _conn: sqlite3.Connection

    def close(self) -> None:
        self._conn.close()

    def reusable(self) -> bool:
        """Fit to lend out again (see core.store.pool): no transaction left open, and the path
        still names the file this connection opened (a deleted or restored file does not)."""
        if self._conn.in_transaction:
            return False
        try:
            now = os.stat(self.path)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == getattr(self._conn, "file_id", None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
