"""The enrichment hook every collector applies between parse and spool.

One interface, ``EnrichFn`` (event in, event out), so the syslog server, the HTTP ingest, the
file tailer and live capture need not know what enrichment does. ``EnrichHook`` is the one a
collector process holds: a stateful ``Enricher`` fed by a ``ContextWatcher`` (re-read every few
seconds, when the ``collectors.refresh_context`` task has published new tables), behind a lock
because the syslog loop, the tailer thread and the capture threads share it.

A failure inside enrichment must never lose the event nor stop the collector: the event is
spooled without the enrichment answers (a half-enriched event could carry a ``false`` a rule
reads as a definite "no"), tagged ``enrichment_failed``, counted and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.context import ContextError
from collectors.context_refresh import ContextWatcher, publish_context
from collectors.enrichment import Enricher
from core.events import Event

if TYPE_CHECKING:
    from core.config import Settings

log = logging.getLogger(__name__)

EnrichFn = Callable[[Event], Event]
FAILED_TAG = "enrichment_failed"
CONTEXT_POLL_SECONDS = 5.0
# Log the first failure and then one in this many, so a broken table cannot flood the log.
LOG_EVERY = 1000
# Fields only enrichment writes (docs/ecs-extension.md); removed again when it fails half-way.
ENRICHMENT_ONLY_FIELDS: tuple[tuple[str, str], ...] = (
    ("actor", "account_state"),
    ("actor", "role_permits_record_type"),
    ("case", "open_for_subject"),
    ("subject", "protected"),
    ("subject", "is_colleague"),
    ("subject", "same_address_as_actor"),
    ("subject", "same_surname_as_actor"),
    ("time", "outside_office_hours"),
    ("source", "anonymising_network"),
    ("auth", "travel_speed_kmh"),
    ("auth", "impossible_travel"),
    ("session", "client_changed"),
    ("mail", "forward_external"),
    ("ldv", "activity"),
    ("ldv", "subject_missing"),
    ("ldv", "partner"),
)


class SafeEnrich:
    """Wraps an ``EnrichFn`` so an exception marks the event instead of losing it."""

    def __init__(self, enrich: EnrichFn) -> None:
        self._enrich = enrich
        self._lock = threading.Lock()
        self.failures = 0

    def __call__(self, event: Event) -> Event:
        try:
            return self._enrich(event)
        except Exception as exc:  # boundary: any bug in enrichment or a table; counted below
            self._failed(event, exc)
            return event

    def _failed(self, event: Event, exc: Exception) -> None:
        with self._lock:
            self.failures += 1
            count = self.failures
        _strip_enrichment(event)
        tags = event.get("tags")
        if not isinstance(tags, list):
            tags = event["tags"] = []
        if FAILED_TAG not in tags:
            tags.append(FAILED_TAG)
        if count == 1 or count % LOG_EVERY == 0:
            # The exception type and message only: an event may hold personal data.
            log.error(
                "enrichment failed (%d so far); event stored un-enriched with tag %r: %s: %s",
                count,
                FAILED_TAG,
                type(exc).__name__,
                exc,
                exc_info=count == 1,
            )


def _strip_enrichment(event: Event) -> None:
    extension = event.get("dijkwacht")
    if not isinstance(extension, dict):
        return
    for group, name in ENRICHMENT_ONLY_FIELDS:
        inner = extension.get(group)
        if isinstance(inner, dict):
            inner.pop(name, None)
            if not inner:
                del extension[group]


class EnrichHook:
    """The process's enrichment: one ``Enricher`` whose tables follow a ``ContextWatcher``.

    Call it as an ``EnrichFn``. It is thread-safe: the enricher's per-account state is shared
    by every source in the process, which is what impossible travel across sources needs.
    """

    def __init__(
        self,
        *,
        watcher: ContextWatcher,
        poll_seconds: float = CONTEXT_POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watcher = watcher
        self.enricher = Enricher(context=watcher.tables)
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._next_poll = 0.0
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> bool:
        """Reload published tables if their version changed; a bad set keeps the old one."""
        self._next_poll = self._clock() + self._poll_seconds
        try:
            changed = self.watcher.poll()
        except (ContextError, OSError) as exc:
            log.error("context tables in %s not reloaded: %s", self.watcher.directory, exc)
            return False
        if changed:
            self.enricher.replace_context(self.watcher.tables)
            log.info("enrichment context version %s loaded", self.watcher.tables.version)
        return changed

    def __call__(self, event: Event) -> Event:
        with self._lock:
            if self._clock() >= self._next_poll:
                self.refresh()
            return self.enricher.enrich(event)


def build_enrich_hook(*, settings: Settings, publish: bool = True) -> SafeEnrich:
    """The enrichment a collector process applies to every source, from its settings.

    With ``publish``, a configured ``context_dir`` is validated and published once at start
    (what the beat task does every few minutes), so a fresh collector need not wait for beat;
    a broken export is logged and the last published tables stay in use.
    """
    target = settings.resolved_data_dir / "context"
    key = settings.secret("pseudonym_key").encode()
    if publish and settings.context_dir is not None:
        source = Path(settings.context_dir).expanduser()
        try:
            version = publish_context(source=source, target=target, key=key)
        except (ContextError, OSError) as exc:
            log.error("context export %s not published: %s", source, exc)
        else:
            log.info("context export %s published as version %s", source, version)
    return SafeEnrich(EnrichHook(watcher=ContextWatcher(directory=target, key=key)))
