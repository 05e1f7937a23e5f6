"""Open the configured event and alert stores; the one place that maps settings to a backend."""

from __future__ import annotations

from core.clock import Clock
from core.config import Settings
from core.errors import ConfigError
from core.store.base import AlertStore, EventStore


def _embedded_only(settings: Settings) -> None:
    if settings.event_store == "elasticsearch":
        raise ConfigError(
            "event_store (DIJKWACHT_EVENT_STORE): 'elasticsearch' is not available yet in this "
            "version; use 'sqlite' (the embedded default)"
        )


def open_event_store(settings: Settings, *, clock: Clock | None = None) -> EventStore:
    """The event store for these settings; the caller closes it."""
    _embedded_only(settings)
    from core.store.sqlite_events import SqliteEventStore

    return SqliteEventStore(settings.event_db_path, clock=clock)


def open_alert_store(settings: Settings, *, clock: Clock | None = None) -> AlertStore:
    """The alert store for these settings; the caller closes it."""
    _embedded_only(settings)
    from core.store.sqlite_alerts import SqliteAlertStore

    return SqliteAlertStore(settings.alert_db_path, clock=clock)
