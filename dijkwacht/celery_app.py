"""The platform's Celery app, assembled from every domain's task module.

Each domain keeps its Celery tasks and its beat entries (`beat_entries(settings)`) in its own
`tasks.py`; this list is the one place that knows them all. `core.queue` does the generic
work: the broker, the app's configuration, the schedule from the modules' entries plus the
operator's `scheduled_tasks`, the worker heartbeat. A domain with a new task module adds it
here; a new task or schedule in an existing module needs no change here.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from core.config import Settings
from core.queue import CORE_TASKS, create_celery
from core.queue import beat_schedule as assemble_schedule

# Every module with Celery tasks, by name: the worker imports them at start and beat reads
# their `beat_entries`.
TASK_MODULES: tuple[str, ...] = (
    *CORE_TASKS,
    "playbooks.breach.tasks",
    "playbooks.tasks",
    "drills.tasks",
    "collectors.tasks",
    "detection.tasks",
    "advisories.tasks",
    "intel.tasks",
    "compliance.tasks",
    "ldv.tasks",
)


def create_app(settings: Settings) -> Celery:
    """The Celery app of worker and beat: every domain's tasks and beat entries."""
    return create_celery(settings, include=TASK_MODULES)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The platform's beat schedule for `settings` (what `create_app` configures)."""
    return assemble_schedule(settings, TASK_MODULES)
