"""What a check may read, and small helpers the checks share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from compliance.schemas import Measure
from core.clock import Clock, utc_iso
from core.config import Settings
from core.store.base import EventStore

SCHEDULER = "scheduler"


@dataclass(frozen=True)
class CheckContext:
    """What a check may read: the relational session, settings, the moment, and stores."""

    db: Session
    settings: Settings
    clock: Clock
    event_store: EventStore | None = None
    rule_paths: Sequence[Path] = ()

    @property
    def now(self) -> datetime:
        return self.clock.now()


def since(ctx: CheckContext, measure: Measure) -> datetime:
    """Start of the window the measure looks back over (`every_days`)."""
    return ctx.now - timedelta(days=measure.every_days)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)


def hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)
