"""What a request reads from the app's state: the relational session factory and the clock.

A module of its own so `dashboard.deps` and `dashboard.security` share these dependencies
(FastAPI caches a dependency per request by its callable) without importing each other.
"""

from __future__ import annotations

import threading

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.store.relational import create_db_engine, create_session_factory

# Sync dependencies run in the thread pool: two first requests must not build two engines.
_BUILD_LOCK = threading.Lock()


def session_factory(request: Request) -> sessionmaker[Session]:
    """The app's relational session factory; the engine is built once per app, on first use.

    Building it touches no database (SQLAlchemy connects on the first query).
    """
    state = request.app.state
    factory: sessionmaker[Session] | None = getattr(state, "session_factory", None)
    if factory is not None:
        return factory
    with _BUILD_LOCK:
        factory = getattr(state, "session_factory", None)
        if factory is None:
            engine = create_db_engine(state.settings)
            factory = state.session_factory = create_session_factory(engine)
    return factory


async def app_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock
