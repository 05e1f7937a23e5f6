"""Dependencies views declare with `Annotated` aliases; the one place that reads app state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.config import Settings
from core.privacy.service import Pseudonymiser
from core.store.base import AlertStore, EventStore
from core.store.factory import open_alert_store, open_event_store
from core.store.pool import DEFAULT_MAX_IDLE, StorePool
from core.store.unit_of_work import unit_of_work
from dashboard.state import app_clock, session_factory


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class _Pooled(Protocol):
    def reusable(self) -> bool: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=_Pooled)


def _pooled(name: str, open_store: Callable[[Any], S]) -> Callable[[Request], AsyncIterator[S]]:
    """A store borrowed from the app's pool for one request and given back after it.

    Async, so borrowing an idle store costs no thread hop (a stat of its file). Opening a store
    (file and WAL set-up, on the first requests or when every store is lent) and closing one
    the pool has no room for (a checkpoint) are file and database work: those run in the
    thread pool, never on the event loop.
    """

    async def dependency(request: Request) -> AsyncIterator[S]:
        state = request.app.state
        pools: dict[str, StorePool[Any]] = state.store_pools
        pool = pools.get(name)
        if pool is None:
            pool = pools[name] = StorePool(
                lambda: open_store(state), reusable=lambda store: store.reusable()
            )
        store: S = pool.acquire() if pool.idle else await run_in_threadpool(pool.acquire)
        try:
            yield store
        finally:
            if pool.idle < DEFAULT_MAX_IDLE:
                pool.release(store)
            else:
                await run_in_threadpool(pool.release, store)

    return dependency


# One histogram cache per process, shared by its pooled event stores (see SliceCounts).
_event_store = _pooled(
    "events",
    lambda state: open_event_store(state.settings, slice_cache=state.event_slice_counts),
)
_alert_store = _pooled("alerts", lambda state: open_alert_store(state.settings))


def close_store_pools(state: Any) -> None:
    """Close every pooled store (app shutdown)."""
    for pool in state.store_pools.values():
        pool.close()


def _db_session(request: Request) -> Iterator[Session]:
    """A read unit per request: begins deferred, never commits, rolled back after the response.

    Sync, so FastAPI runs it (and its rollback) in the thread pool, never on the event loop.
    A view that changes state takes `WriteDb` instead; a write through this session is lost.
    """
    with unit_of_work(session_factory(request), write=False) as session:
        yield session


def _write_db(request: Request) -> Iterator[Session]:
    """A write unit (BEGIN IMMEDIATE on SQLite) committed when the view returns without error.

    Declared with `scope="function"` (below): FastAPI then runs this exit, and so the commit,
    before the response is sent; with the default request scope it ran after the client had
    its answer (checked on FastAPI 0.165), so a failed commit would follow a reported success.
    An error from the view rolls the whole unit back.
    """
    # lazy: the IMMEDIATE transaction begins at the view's first statement, after the caller
    # check (whose own short writes would otherwise wait on this request's lock).
    with unit_of_work(session_factory(request), lazy=True) as session:
        yield session


def _pseudonymiser(request: Request) -> Pseudonymiser:
    """The resident pseudonymiser with the platform's `pseudonym_key` (same as the collectors)."""

    settings: Settings = request.app.state.settings
    return Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))


async def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


AppSettings = Annotated[Settings, Depends(_settings)]
EventStoreDep = Annotated[EventStore, Depends(_event_store)]
# Read unit for GET views; WriteDb for views that change state (committed before the response).
DbSession = Annotated[Session, Depends(_db_session)]
WriteDb = Annotated[Session, Depends(_write_db, scope="function")]
SessionFactory = Annotated[sessionmaker[Session], Depends(session_factory)]
ClockDep = Annotated[Clock, Depends(app_clock)]
Templates = Annotated[Jinja2Templates, Depends(_templates)]
AlertStoreDep = Annotated[AlertStore, Depends(_alert_store)]
PseudonymiserDep = Annotated[Pseudonymiser, Depends(_pseudonymiser)]

# Access control lives in dashboard.security (it needs DbSession and ClockDep from above);
# re-exported here so views take every dependency from this one module.
from dashboard.security import (  # noqa: E402
    PUBLIC,
    OptionalUser,
    Principal,
    RequireRole,
)

__all__ = [
    "PUBLIC",
    "AlertStoreDep",
    "AppSettings",
    "ClockDep",
    "DbSession",
    "EventStoreDep",
    "OptionalUser",
    "Principal",
    "PseudonymiserDep",
    "RequireRole",
    "SessionFactory",
    "Templates",
    "WriteDb",
]
