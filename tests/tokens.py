"""Ingest tokens for tests and benches, made as `dijkwacht tokens create --scope ingest
--source SOURCE` makes them (migrating first: creation writes an audit entry)."""

from __future__ import annotations

from collections.abc import Sequence

from core.accounts.tokens import create_token
from core.clock import SystemClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work


def make_ingest_token(
    settings: Settings,
    source: str | None,
    *,
    scopes: Sequence[str] = ("ingest",),
    username: str | None = None,
) -> str:
    """A new token's secret: by default a collector's (no user, `ingest`, bound to `source`)."""
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as db:
            return create_token(
                db=db,
                username=username,
                name=f"collector {source or 'any'}",
                scopes=scopes,
                source=source,
                clock=SystemClock(),
                actor="test",
            ).token
    finally:
        engine.dispose()
