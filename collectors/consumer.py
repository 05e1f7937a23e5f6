"""Drain the spool into the event store and hand every stored batch to detection.

Order per batch: take (oldest first) -> `store.add_batch` (one commit) -> `on_batch(events)` ->
`spool.ack`. A crash before the ack redelivers the batch; the store ignores events whose
`event.id` it already holds (the spool assigned it), so each event is stored exactly once.
Detection sees a redelivered batch again: it is at-least-once for the one batch in flight at a
crash, never lost.

Collectors must not import detection (see tests/test_import_contract.py); the composition root
passes detection in as `on_batch`. A fault that passes by itself (a locked database, a full or
read-only disk: `core.store.faults.describe_fault`) pauses the consumer: the batch stays in the
spool, one message names the cause, and the batch is retried with capped back-off until it goes
through. Any other exception (a bug) propagates: the batch stays spooled, the process exits and
the supervisor restarts it loudly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from collectors.health import Pauser
from collectors.spool import Spool
from core.events import Event
from core.store.base import DeadLetter, EventStore, InvalidEventError

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Event]], None]
# A spooled event the store refuses (it failed validation) is dead-lettered under this source.
REFUSED_SOURCE = "spool"
# The largest batch a consumer grows to while a backlog lasts (see `SpoolConsumer`): a store
# commit, its fsync and the FTS segment it writes cost less per event in bigger batches
# (bench/ingest.py's store stage: about 15% less per event at 5000 than at 1000).
MAX_BACKLOG_BATCH = 10_000


@dataclass(slots=True)
class ConsumerStats:
    """What this consumer moved since it started (for status output and the benchmark)."""

    stored: int = 0
    refused: int = 0
    dead_letters: int = 0
    batches: int = 0


class SpoolConsumer:
    """Moves spooled events and dead letters into the event store, batch by batch.

    Batches are `batch_size` events while the consumer keeps up. When `batch_size` events or
    more are still pending after a batch was moved (a backlog), the next batch may be twice as
    large, up to `max_batch_size` (default: `batch_size`, no growth); it drops back to
    `batch_size` once the backlog is gone, so detection gets events without extra delay when
    ingest is light.
    """

    def __init__(
        self,
        *,
        spool: Spool,
        store: EventStore,
        batch_size: int,
        on_batch: BatchHandler | None = None,
        max_batch_size: int | None = None,
    ) -> None:
        self._spool = spool
        self._store = store
        self._batch_size = batch_size
        self._max_batch_size = max(batch_size, max_batch_size or batch_size)
        self._limit = batch_size
        self._on_batch = on_batch
        self.stats = ConsumerStats()

    def drain_once(self) -> int:
        """Move one batch of events and one of dead letters; return how many rows moved."""
        moved = self._move_dead_letters()
        taken = self._spool.take(self._limit)
        if not taken:
            self._limit = self._batch_size
            return moved
        events = [event for _, event in taken]
        stored = self._store_batch(events)
        if self._on_batch is not None and stored:
            self._on_batch(stored)
        self._spool.ack(taken[-1][0])
        self.stats.batches += 1
        self.stats.stored += len(stored)
        if self._max_batch_size > self._batch_size:
            backlog = self._spool.pending() >= self._batch_size
            self._limit = (
                min(self._limit * 2, self._max_batch_size) if backlog else self._batch_size
            )
        return moved + len(taken)

    def drain(self) -> int:
        """Move everything that is spooled now; return the number of rows moved."""
        total = 0
        while moved := self.drain_once():
            total += moved
        return total

    def run(
        self, stop: threading.Event, *, idle_seconds: float = 0.05, pauser: Pauser | None = None
    ) -> None:
        """Drain until `stop` is set; sleeps only when the spool is empty.

        With a `pauser`, a recoverable fault pauses (the batch stays spooled) and the batch is
        retried after the pauser's back-off; without one, every exception propagates.
        """
        while not stop.is_set():
            try:
                moved = self.drain_once()
            except Exception as exc:
                delay = pauser.fault(exc) if pauser is not None else None
                if delay is None:
                    raise
                stop.wait(delay)
                continue
            if pauser is not None:
                pauser.ok()
            if not moved:
                stop.wait(idle_seconds)

    def _store_batch(self, events: list[Event]) -> list[Event]:
        """Store the batch; an event the store refuses is dead-lettered and the rest retried."""
        while events:
            try:
                self._store.add_batch(events)
            except InvalidEventError as exc:
                bad = events[exc.index]
                self._store.add_dead_letters(
                    [
                        DeadLetter(
                            source=REFUSED_SOURCE,
                            reason=f"event store refused the event: {exc}",
                            raw=orjson.dumps(bad),
                        )
                    ]
                )
                self.stats.refused += 1
                events = events[: exc.index] + events[exc.index + 1 :]
                continue
            return events
        return events

    def _move_dead_letters(self) -> int:
        letters = self._spool.take_dead(self._batch_size)
        if not letters:
            return 0
        # Not idempotent: a crash between these two lines repeats these dead letters once.
        self._store.add_dead_letters([letter for _, letter in letters])
        self._spool.ack_dead(letters[-1][0])
        self.stats.dead_letters += len(letters)
        return len(letters)


def run_consumer_thread(
    *,
    open_spool: Callable[[], Spool],
    open_store: Callable[[], EventStore],
    batch_size: int,
    on_batch: BatchHandler | None,
    stop: threading.Event,
    failures: list[BaseException],
    max_batch_size: int | None = None,
    pauser: Pauser | None = None,
) -> threading.Thread:
    """Start a consumer in its own thread (SQLite connections belong to the thread that opens
    them); a bug is appended to `failures` and sets `stop`, so the owner can exit. Recoverable
    faults, also while opening the spool or the store, pause and retry (see `pauser`)."""

    def target() -> None:
        try:
            opened = _open_retrying(open_spool, open_store, stop=stop, pauser=pauser)
            if opened is None:
                return
            spool, store = opened
            try:
                consumer = SpoolConsumer(
                    spool=spool,
                    store=store,
                    batch_size=batch_size,
                    on_batch=on_batch,
                    max_batch_size=max_batch_size,
                )
                consumer.run(stop, pauser=pauser)
                try:
                    consumer.drain_once()  # what was spooled while stopping, one last batch
                except Exception as exc:
                    if pauser is None or pauser.fault(exc) is None:
                        raise
                    log.warning("stopping while paused; unmoved events stay in the spool")
            finally:
                store.close()
                spool.close()
        except BaseException as exc:
            log.exception("spool consumer failed; the unacknowledged batch stays spooled")
            failures.append(exc)
            stop.set()

    thread = threading.Thread(target=target, name="spool-consumer", daemon=True)
    thread.start()
    return thread


def _open_retrying(
    open_spool: Callable[[], Spool],
    open_store: Callable[[], EventStore],
    *,
    stop: threading.Event,
    pauser: Pauser | None,
) -> tuple[Spool, EventStore] | None:
    """Open the spool and the store, waiting out recoverable faults; None if stopped first."""
    while not stop.is_set():
        spool: Spool | None = None
        try:
            spool = open_spool()
            store = open_store()
        except Exception as exc:
            if spool is not None:
                spool.close()
            delay = pauser.fault(exc) if pauser is not None else None
            if delay is None:
                raise
            stop.wait(delay)
            continue
        return spool, store
    return None
