"""Dependencies views declare with `Annotated` aliases; the one place that reads app state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from collectors.pseudonym import Pseudonymiser
from core.clock import Clock
from core.config import Settings
from core.store.base import AlertStore, EventStore
from core.store.factory import open_alert_store, open_event_store
from core.store.pool import StorePool


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class _Pooled(Protocol):
    def reusable(self) -> bool: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=_Pooled)


def _pooled(
    name: str, open_store: Callable[[Settings], S]
) -> Callable[[Request], AsyncIterator[S]]:
    """A store borrowed from the app's pool for one request and given back after it.

    Async, so borrowing costs no thread hop; the pool opens a store only when none is idle
    (the first requests after start). The pool closes a store that is unfit for reuse.
    """

    async def dependency(request: Request) -> AsyncIterator[S]:
        state = request.app.state
        pools: dict[str, StorePool[Any]] = state.store_pools
        pool = pools.get(name)
        if pool is None:
            settings = state.settings
            pool = pools[name] = StorePool(
                lambda: open_store(settings), reusable=lambda store: store.reusable()
            )
        store: S = pool.acquire()
        try:
            yield store
        finally:
            pool.release(store)

    return dependency


_event_store = _pooled("events", open_event_store)
_alert_store = _pooled("alerts", open_alert_store)


def close_store_pools(state: Any) -> None:
    """Close every pooled store (app shutdown)."""
    for pool in state.store_pools.values():
        pool.close()


async def _db_session(request: Request) -> AsyncIterator[Session]:
    """A relational session per request; the engine is built once per app, on first use.

    Async (no thread hop): opening a session touches no database, its first query does."""
    state = request.app.state
    factory: sessionmaker[Session] | None = getattr(state, "session_factory", None)
    if factory is None:
        from core.store.relational import create_db_engine, create_session_factory

        factory = state.session_factory = create_session_factory(create_db_engine(state.settings))
    with factory() as session:
        yield session


def _pseudonymiser(request: Request) -> Pseudonymiser:
    """The resident pseudonymiser with the platform's `pseudonym_key` (same as the collectors)."""
    from collectors.pseudonym import Pseudonymiser

    settings: Settings = request.app.state.settings
    return Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


AppSettings = Annotated[Settings, Depends(_settings)]
EventStoreDep = Annotated[EventStore, Depends(_event_store)]
DbSession = Annotated[Session, Depends(_db_session)]
ClockDep = Annotated[Clock, Depends(_clock)]
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
    "Templates",
]
