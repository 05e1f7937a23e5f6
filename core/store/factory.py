"""Open the configured event and alert stores; the one place that maps settings to a backend."""

from __future__ import annotations

from core.clock import Clock
from core.config import Settings
from core.store.base import AlertStore, EventStore
from core.store.elasticsearch import ElasticsearchEventStore
from core.store.elasticsearch_alerts import ElasticsearchAlertStore
from core.store.sqlite_alerts import SqliteAlertStore
from core.store.sqlite_event_text import SliceCounts
from core.store.sqlite_events import SqliteEventStore


def open_event_store(
    settings: Settings, *, clock: Clock | None = None, slice_cache: SliceCounts | None = None
) -> EventStore:
    """The event store for these settings; the caller closes it.

    `slice_cache` keeps histograms the embedded store counted (the dashboard passes one per
    process); Elasticsearch has its own request cache and ignores it.
    """
    if settings.event_store == "elasticsearch":
        return ElasticsearchEventStore.open(
            settings.elasticsearch_url, prefix=settings.elasticsearch_prefix, clock=clock
        )

    return SqliteEventStore(settings.event_db_path, clock=clock, slice_cache=slice_cache)


def open_alert_store(settings: Settings, *, clock: Clock | None = None) -> AlertStore:
    """The alert store for these settings; the caller closes it."""
    if settings.event_store == "elasticsearch":
        return ElasticsearchAlertStore.open(
            settings.elasticsearch_url, prefix=settings.elasticsearch_prefix, clock=clock
        )

    return SqliteAlertStore(settings.alert_db_path, clock=clock)
