"""Group commit from asyncio to the spool: one writer thread, one fsync for many senders.

The event loop must never block on an fsync, and SQLite connections belong to one thread, so
every network collector hands its batches to a `SpoolWriter`. The writer thread takes whatever
is queued, writes it in one transaction per source and then resolves each caller's future: a
TCP connection resumes reading only after its data is durable.

A recoverable fault (`core.store.faults.describe_fault`: disk full, read-only, locked) pauses
the writer instead of failing the senders: the batch is kept, retried with capped back-off, and
`full` stays true meanwhile, so TCP connections stop reading (their senders block once the
kernel buffers fill) and UDP input is dropped and counted. Only a bug, or a fault still present
when the writer is stopped, fails the waiting futures (those senders were never acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from collectors.health import IngestHealth, Pauser
from collectors.spool import Spool
from core.events import Event
from core.store.base import DeadLetter
from core.store.faults import describe_fault

# Writes queued but not yet committed, beyond which UDP input is dropped (bounded memory).
MAX_QUEUED_WRITES = 1024
_IDLE_SECONDS = 0.1


@dataclass(slots=True)
class _Write:
    source: str
    events: Sequence[Event]
    dead: Sequence[DeadLetter]
    future: asyncio.Future[None] | None


@dataclass(slots=True)
class _Group:
    events: list[Event] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


class SpoolWriter:
    """Owns the spool connection in its own thread; `write` is awaited from the event loop."""

    def __init__(
        self,
        open_spool: Callable[[], Spool],
        *,
        health: IngestHealth | None = None,
        setting: str = "spool",
    ) -> None:
        self._open_spool = open_spool
        self.health = health or IngestHealth()
        self._pauser = Pauser(
            health=self.health, component="spool-writer", setting=setting, blocks_input=True
        )
        self._stopping = threading.Event()
        self._queue: queue.Queue[_Write | None] = queue.Queue()
        self._dropped: dict[str, int] = {}
        self._dropped_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # Read by the loop without a lock: a stale value only delays back-pressure by one tick.
        # `full`: input must wait, because the spool holds `max_pending` rows or ingest is
        # paused. A plain attribute, not a property: UDP reads it for every datagram.
        self.full = False
        self._spool_full = False
        self.pending = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open the spool in the writer thread; raise here if it cannot be opened."""
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="spool-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def write(
        self, source: str, events: Sequence[Event], dead: Sequence[DeadLetter] = ()
    ) -> asyncio.Future[None]:
        """Queue a batch; the future completes when it is committed (or fails with the error)."""
        assert self._loop is not None, "SpoolWriter.start() first"
        future: asyncio.Future[None] = self._loop.create_future()
        if self._error is not None:
            future.set_exception(self._error)
            return future
        self._queue.put(_Write(source, events, dead, future))
        return future

    def count_dropped(self, source: str, count: int = 1) -> None:
        """Count input thrown away before the spool (UDP under back-pressure); never silent."""
        with self._dropped_lock:
            self._dropped[source] = self._dropped.get(source, 0) + count

    def stop(self) -> None:
        """Commit everything queued, record drop counts and close the spool."""
        if self._thread is not None:
            self._stopping.set()  # ends a pause: a fault still present then fails the senders
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            spool = self._open_spool()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop_writes(spool)
        finally:
            spool.close()

    def _loop_writes(self, spool: Spool) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                self._flush_dropped(spool)
                with contextlib.suppress(sqlite3.OperationalError):  # a busy read: next tick
                    self._refresh(spool)
                continue
            batch: list[_Write] = []
            for item in self._drain(first):
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            self._commit(spool, batch)
        self._flush_dropped(spool)

    def _drain(self, first: _Write | None) -> list[_Write | None]:
        items = [first]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _commit(self, spool: Spool, batch: list[_Write]) -> None:
        groups: dict[str, _Group] = {}
        for item in batch:
            group = groups.setdefault(item.source, _Group())
            group.events.extend(item.events)
            group.dead.extend(item.dead)
        error: BaseException | None = None
        while groups:
            try:
                for source in list(groups):
                    group = groups[source]
                    spool.append(group.events, source=source, dead=group.dead)
                    del groups[source]  # committed: a retry must not write it again
                self._refresh(spool)
            except Exception as exc:
                delay = None if self._stopping.is_set() else self._pauser.fault(exc)
                if delay is not None:
                    self.full = True
                    self._stopping.wait(delay)
                    continue
                error = exc  # handed to every waiting sender; none is acknowledged
                break
        if error is None:
            self._pauser.ok()
            self.full = self._spool_full or self.health.paused
        assert self._loop is not None
        for item in batch:
            if item.future is not None:
                self._loop.call_soon_threadsafe(_resolve, item.future, error)

    def _refresh(self, spool: Spool) -> None:
        self.pending = spool.pending()
        self._spool_full = self.pending >= spool.max_pending
        self.full = self._spool_full or self.health.paused

    def _flush_dropped(self, spool: Spool) -> None:
        """Record drop counts; on a recoverable fault they are kept for the next try."""
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, {}
        for source, count in list(dropped.items()):
            try:
                spool.count_dropped(source, count)
            except Exception as exc:
                if describe_fault(exc) is None:
                    raise
                for left, n in dropped.items():
                    self.count_dropped(left, n)
                return
            del dropped[source]


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
