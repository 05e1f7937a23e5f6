"""Detection wired behind the collectors' spool consumer (the composition root's job).

Collectors may not import detection, so `dijkwacht collect` builds this hook and passes it in as
the consumer's `on_batch`. One hook per process: the compiled rules, the correlation windows
and the relational session factory are built once; rule files are re-read when they change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core.clock import Clock, SystemClock
from core.config import Settings
from core.events import Event
from core.store.base import AlertStore
from core.store.factory import open_alert_store
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from detection.service import (
    CompileCache,
    LastGood,
    RuleWatcher,
    check_modes,
    configured_rule_paths,
    ids_of,
    load_detector,
    load_engine,
    mode_of,
    process_batch,
)
from intel.service import IntelStream  # threat-intel indicators, matched after the rules

log = logging.getLogger(__name__)

# Rule files are checked for changes at most this often, not on every batch (hot path).
RELOAD_CHECK_SECONDS = 2.0


def rule_paths(settings: Settings) -> list[Path]:
    """The configured rule folders, or the rule pack that ships with Dijkwacht."""

    return configured_rule_paths(settings)


class DetectionHook:
    """Callable `on_batch`: runs each stored batch through rules, correlations and alerts."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock | None = None,
        reload_check_seconds: float = RELOAD_CHECK_SECONDS,
    ) -> None:

        self._last_good = LastGood()  # a file that turns bad keeps its last good version
        # A reload compiles only the files that changed; a restart loads unchanged ones from disk.
        self._cache = CompileCache(settings.rule_cache_dir)
        check_modes(settings)  # "scheduled" needs Elasticsearch: refuse to start otherwise
        self._settings = settings
        self._clock = clock or SystemClock()
        self._reload_check_seconds = reload_check_seconds
        self._next_reload_check = 0.0
        migrate(settings)
        self._engine = create_db_engine(settings)
        self._sessions = create_session_factory(self._engine)
        self._paths = [path for path in rule_paths(settings) if path.exists()]
        self._watcher = RuleWatcher(paths=self._paths, load=self._load)
        self._detector = self._watcher.start()
        with unit_of_work(self._sessions, write=False) as db:
            self._state = self._load_state(db, self._detector)
        self._windows_stale = False
        self._local = threading.local()  # SQLite connections belong to the thread that opened them

        self._intel = IntelStream(settings=settings, sessions=self._sessions, clock=self._clock)
        self._report(self._detector)
        count = len(self._detector.ruleset.rules)
        log.info("detection: %d rules loaded from %s", count, self._paths)
        if self._detector.scheduled:
            log.info(
                "detection: %d rules/correlations in scheduled mode skipped by the streaming "
                "matcher (they run as scheduled searches): %s",
                len(self._detector.scheduled),
                ", ".join(sorted(self._detector.scheduled)),
            )

    def _load(self) -> Any:

        return load_detector(
            paths=self._paths,
            stacks=self._settings.detection_stacks,
            last_good=self._last_good,
            mode_of=lambda rule_id: mode_of(self._settings, rule_id),
            windows=self._settings.detection_windows_mapping,
            cache=self._cache,
        )

    @staticmethod
    def _report(detector: Any) -> None:
        """Log every rule that did not load: the good rules run, the bad ones are shown."""
        for problem in [*detector.ruleset.problems, *detector.problems]:
            log.warning("detection: %s", problem)

    @staticmethod
    def _load_state(db: Any, detector: Any) -> Any:
        """Streaming correlation windows; the scheduled path's windows are not ours to drop."""

        return load_engine(
            db=db, specs=detector.correlations, owned=lambda cid: cid not in detector.scheduled
        )

    def _alert_store(self) -> AlertStore:
        store: AlertStore | None = getattr(self._local, "alerts", None)
        if store is None:
            store = self._local.alerts = open_alert_store(self._settings, clock=self._clock)
        return store

    def __call__(self, events: Sequence[Event]) -> None:
        """The consumer's `on_batch`."""
        self.process(events)

    def process(self, events: Sequence[Event]) -> list[str]:
        """Run one stored batch; return the ids of the alerts it raised.

        A database error (SQLite "database is locked" past the busy timeout: `is_locked_error`
        is true) propagates with the batch's write unit rolled back; the correlation windows,
        whose in-memory state had taken the batch in, are reloaded from the database before
        the next batch. The consumer keeps the batch spooled and offers it again.
        """

        if self._windows_stale:
            self._reload_windows()
        reloaded = self._poll_rules()
        if reloaded is not None:
            with unit_of_work(self._sessions, write=False) as db:
                self._state = self._load_state(db, reloaded)
            self._detector = reloaded
            self._report(reloaded)
        pairs = ids_of(events)
        try:
            ids = process_batch(
                events_with_ids=pairs,
                detector=self._detector,
                alert_store=self._alert_store(),
                correlation_state=self._state,
                sessions=self._sessions,
                clock=self._clock,
            )
        except SQLAlchemyError:
            # The windows took the batch in memory; its write was rolled back. Reload them
            # before the next batch (which may be this one again), never count it twice.
            self._windows_stale = True
            raise
        return ids + self._intel.process(pairs, self._alert_store())

    def _reload_windows(self) -> None:
        """The correlation windows as last committed; raises (batch stays spooled) on error."""
        with unit_of_work(self._sessions, write=False) as db:
            self._state = self._load_state(db, self._detector)
        self._windows_stale = False

    def _poll_rules(self) -> Any | None:
        """Reloaded rules when files changed; stats the rule files at most once per interval."""
        now = time.monotonic()
        if now < self._next_reload_check:
            return None
        self._next_reload_check = now + self._reload_check_seconds
        return self._watcher.poll()

    def close(self) -> None:
        store = getattr(self._local, "alerts", None)
        if store is not None:
            store.close()
        self._engine.dispose()
