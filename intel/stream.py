"""Indicator matching on ingest, called by the detection hook after each stored batch.

One `IntelStream` per collector process holds the compiled matcher and rebuilds it only when
the intel version counter moved (checked at most every `intel_matcher_check_seconds`), or when
the earliest `active_until` of a loaded indicator passed (expiry or decay); never per event.
A batch without hits costs the field probes and nothing else: no database work at all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.config import Settings
from core.store.base import AlertStore
from core.store.unit_of_work import unit_of_work
from intel.alerting import alert_hits, deliver
from intel.indicators import build_matcher, current_version
from intel.matcher import Matcher


class IntelStream:
    """The streaming side of intel: `process(pairs, alert_store)` -> ids of alerts raised."""

    def __init__(
        self, *, settings: Settings, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._clock = clock
        self._version = -1
        self._next_check = 0.0
        self._stale_at: datetime | None = None
        self.matcher = Matcher(())

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the matcher if the indicators changed; True when it was rebuilt."""
        now = time.monotonic()
        due = self._stale_at is not None and self._clock.now() >= self._stale_at
        if not force and now < self._next_check and not due:
            return False
        self._next_check = now + self._settings.intel_matcher_check_seconds
        with unit_of_work(self._sessions, write=False) as db:
            version = current_version(db=db)
            stale = self._stale_at is not None and self._clock.now() >= self._stale_at
            if version == self._version and not stale and not force:
                return False
            self.matcher = build_matcher(db=db, clock=self._clock, settings=self._settings)
        self._stale_at = self.matcher.earliest_end
        self._version = version
        return True

    def process(
        self, events_with_ids: Sequence[tuple[str, Mapping[str, Any]]], alert_store: AlertStore
    ) -> list[str]:
        """Match one stored batch; alerts for new sightings are queued and delivered."""
        self.refresh()
        hits = self.matcher.match([event for _, event in events_with_ids])
        if not hits:
            return []
        with unit_of_work(self._sessions) as db:
            queued = alert_hits(
                db=db, clock=self._clock, hits=hits, events_with_ids=events_with_ids, how="stream"
            )
        if not queued:
            return []
        with unit_of_work(self._sessions) as db:
            return deliver(db=db, alert_store=alert_store, clock=self._clock)
