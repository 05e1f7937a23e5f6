"""Celery entry points of intel and its beat entry; thin: settings in, service calls, done.

`intel.refresh` re-reads every configured feed (`intel_feeds`), imports each in its own write
unit, then retro-hunts the indicators the refresh added. A feed that cannot be read is recorded
on its source (last problems) and the others still refresh.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task

from core.clock import SystemClock
from core.config import Settings, get_settings
from intel.flows import refresh_feeds


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """The refresh entry, only when feeds are configured."""
    if not settings.intel_feeds:
        return {}
    return {
        "intel-refresh": {
            "task": "intel.refresh",
            "schedule": timedelta(seconds=settings.intel_refresh_every_seconds),
        }
    }


@shared_task(name="intel.refresh")
def refresh() -> dict[str, Any]:

    return refresh_feeds(settings=get_settings(), clock=SystemClock())
