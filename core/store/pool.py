"""A small pool of open stores, so a web request borrows a store instead of opening one.

Opening a SQLite store per request costs a WAL set-up and, when the last connection closes, a
checkpoint: about 0.5 ms and several file-system calls that every page paid before any query.
Borrowed stores are used by one request at a time (the SQLite stores are opened with
`check_same_thread=False` for exactly this). A store that is not `reusable` when it comes back
or is lent out again (a transaction left open, its file deleted or replaced) is closed instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=Closable)

DEFAULT_MAX_IDLE = 8


class StorePool(Generic[S]):
    """Keeps up to `max_idle` open stores; `acquire` reuses one or opens a new one."""

    def __init__(
        self,
        open_store: Callable[[], S],
        *,
        reusable: Callable[[S], bool] = lambda _store: True,
        max_idle: int = DEFAULT_MAX_IDLE,
    ) -> None:
        if max_idle < 0:
            raise ValueError(f"max_idle must not be negative, got {max_idle}")
        self._open = open_store
        self._reusable = reusable
        self._max_idle = max_idle
        self._idle: list[S] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    def acquire(self) -> S:
        """An idle store that is still usable, else a newly opened one."""
        while True:
            with self._lock:
                store = self._idle.pop() if self._idle else None
            if store is None:
                return self._open()
            if self._reusable(store):
                return store
            store.close()

    def release(self, store: S) -> None:
        """Give a store back; it is closed instead when unfit for reuse or the pool is full."""
        if self._reusable(store):
            with self._lock:
                if not self._closed and len(self._idle) < self._max_idle:
                    self._idle.append(store)
                    return
        store.close()

    def close(self) -> None:
        """Close every idle store; stores still borrowed are closed when they come back."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for store in idle:
            store.close()
