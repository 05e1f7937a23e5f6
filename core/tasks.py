"""Core Celery tasks: a ping for round-trip checks and a tick with a visible side effect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import shared_task

from core.clock import SystemClock, utc_iso
from core.config import Settings


def beat_entries(settings: Settings) -> dict[str, dict[str, Any]]:
    """None: core's tasks run on demand (operators schedule `core.tick` via `scheduled_tasks`)."""
    return {}


@shared_task(name="core.ping")
def ping() -> str:
    """Answer "pong": proves a worker takes tasks from the broker and stores results."""
    return "pong"


@shared_task(name="core.tick", bind=True)
def tick(self: Any, path: str) -> str:
    """Append the current time as a line to `path`; beat tests watch the file grow.

    The file must lie inside the data directory: anyone who can enqueue tasks must not be
    able to append to arbitrary files of the worker's user.
    """
    data_dir = Path(self.app.conf.dijkwacht_data_dir).resolve()
    target = Path(path).resolve()
    if not target.is_relative_to(data_dir):
        raise ValueError(f"path: {path!r} is outside the data directory {data_dir}")
    target.parent.mkdir(parents=True, exist_ok=True)
    line = utc_iso(SystemClock().now())
    with target.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    return line
