"""RELP's spool writes, and why a message resent after a crash is stored once.

A RELP sender resends, after a reconnect, every message it has no `rsp 200 OK` for. When the
collector dies after committing a group but before the sender read its `rsp` (the `rsp` not
yet written, or discarded: a killed process's socket with unread input is reset, dropping what
it had still to send), the sender resends messages we already hold. RELP has no message id, so
we remember a digest of every committed message that may be unconfirmed, per sender host, in
the spool (`relp_unconfirmed`, written in the same transaction as the events): a new session's
*first* frames that match those digests, in order, are acknowledged without being stored again.
The first frame that does not match ends matching for the session, since a resend always comes
before new messages. A session that ends with `close` (or our clean stop, after every `rsp` was
sent) forgets its digests, so a normal reconnect matches nothing. The table keeps the newest
`UNCONFIRMED_KEPT` digests: enough for omrelp's window (128 by default) from many senders.

Limit: a new session whose first message is byte-identical to an unconfirmed one of an earlier
session from the same host, which the sender did see acknowledged, is taken for a resend. With
rsyslog's timestamps (microseconds in RSYSLOG_ForwardFormat) that needs the same message twice
in one microsecond around a crash.

One thread owns the spool connection (SQLite connections stay in their thread) and serves every
RELP session in arrival order; each read of a session is one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from collectors.spool import Spool
from collectors.syslog_server import Batcher

UNCONFIRMED_KEPT = 65_536
_MATCH = (
    "SELECT id FROM relp_unconfirmed WHERE peer = ? AND digest = ? AND session <> ? AND id > ? "
    "ORDER BY id LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class Commit:
    """The result of one session read: whether matching goes on, and what was skipped."""

    matching: bool
    resent: int


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:16]


class RelpStore:
    """Writes RELP messages to the spool on its own thread; see the module docstring."""

    def __init__(self, *, open_spool: Callable[[], Spool], batcher: Batcher, source: str) -> None:
        self._open_spool = open_spool
        self._batcher = batcher
        self._source = source
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relp-spool")
        self._spool: Spool | None = None
        # Read on the loop without a lock: a stale value delays back-pressure by one poll.
        self.full = False

    async def persist(
        self,
        *,
        peer_host: str,
        peer: str,
        session: str,
        matching: bool,
        messages: Sequence[tuple[bytes, str | None]],
        problems: Sequence[tuple[bytes, str]] = (),
    ) -> Commit:
        """Store `messages` (minus leading resends while `matching`) and `problems` as dead
        letters, durably; returns once committed (raises if the commit failed)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor,
            lambda: self._commit(peer_host, peer, session, matching, messages, problems),
        )

    async def forget(self, session: str) -> None:
        """The sender saw every `rsp` of `session`: none of its messages can come back."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, lambda: self._forget(session))

    async def refresh(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._refresh)

    def close(self) -> None:
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)

    def _spooled(self) -> Spool:
        if self._spool is None:
            self._spool = self._open_spool()
        return self._spool

    def _commit(
        self,
        peer_host: str,
        peer: str,
        session: str,
        matching: bool,
        messages: Sequence[tuple[bytes, str | None]],
        problems: Sequence[tuple[bytes, str]],
    ) -> Commit:
        spool = self._spooled()
        matched: list[int] = []
        if matching:
            last = 0
            for data, _error in messages:
                rows = spool.lookup(_MATCH, (peer_host, digest(data), session, last))
                if not rows:
                    matching = False
                    break
                last = int(rows[0][0])
                matched.append(last)
        fresh = messages[len(matched) :]
        events, dead = self._batcher.convert([*fresh, *problems], peer=peer, offset=None)
        rows = [(peer_host, session, digest(data)) for data, _error in fresh]

        def bookkeeping(conn: sqlite3.Connection) -> None:
            if matched:
                conn.executemany(
                    "DELETE FROM relp_unconfirmed WHERE id = ?", [(i,) for i in matched]
                )
            if rows:
                conn.executemany(
                    "INSERT INTO relp_unconfirmed (peer, session, digest) VALUES (?, ?, ?)", rows
                )
                top = conn.execute("SELECT max(id) FROM relp_unconfirmed").fetchone()[0]
                conn.execute(
                    "DELETE FROM relp_unconfirmed WHERE id <= ?", (top - UNCONFIRMED_KEPT,)
                )

        spool.append(events, source=self._source, dead=dead, also=bookkeeping)
        self._refresh()
        return Commit(matching=matching, resent=len(matched))

    def _forget(self, session: str) -> None:
        def drop(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM relp_unconfirmed WHERE session = ?", (session,))

        self._spooled().append([], source=self._source, also=drop)

    def _refresh(self) -> None:
        self.full = self._spooled().is_full()

    def _close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
