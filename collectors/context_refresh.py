"""Publishing refreshed context tables, and noticing them in the collector processes.

The case system, HR and BRP drop exports into the configured ``context_dir``. Celery beat runs
``collectors.refresh_context`` on a schedule: it validates the export (a broken export never
replaces a good one) and publishes a copy into ``data_dir/context`` with a ``VERSION`` file,
atomically. Collector processes hold a ``ContextWatcher`` that reloads when ``VERSION``
changes; the task never needs to reach into another process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from collectors.context import ContextTables, load_context

CONTEXT_FILES = (
    "employees.csv",
    "cases.csv",
    "roles.csv",
    "protected.csv",
    "residents.csv",
    "networks.csv",
    "geo.csv",
    "office.json",
    "ldv_activities.csv",
    "ldv_partners.csv",
)
VERSION_FILE = "VERSION"


def publish_context(*, source: Path, target: Path, key: bytes) -> str:
    """Validate the export in ``source`` and publish it to ``target``; return its version.

    Idempotent: publishing the same export again leaves ``target`` as it is.
    """
    tables = load_context(directory=source, key=key)  # raises ContextError on a bad export
    current = target / VERSION_FILE
    if current.is_file() and current.read_text(encoding="utf-8").strip() == tables.version:
        return tables.version
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".context-"))
    for name in CONTEXT_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, staging / name)
    (staging / VERSION_FILE).write_text(tables.version + "\n", encoding="utf-8")
    old = target.parent / f".context-old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return tables.version


@dataclass
class ContextWatcher:
    """Holds the published tables and reloads them when their VERSION file changes."""

    directory: Path
    key: bytes
    tables: ContextTables = field(default_factory=ContextTables)
    _seen: str | None = None

    def poll(self) -> bool:
        """Reload if a new version was published; True when the tables changed."""
        marker = self.directory / VERSION_FILE
        try:
            version = marker.read_text(encoding="utf-8").strip()
        except OSError:
            return False
        if version == self._seen:
            return False
        self.tables = load_context(directory=self.directory, key=self.key)
        self._seen = version
        return True
