"""The Celery app factory, the beat schedule assembled from task modules, the worker heartbeat.

Embedded default: kombu's SQLAlchemy transport on a SQLite file for the broker and Celery's
database backend on another SQLite file for results; Redis when the settings' URLs say so.
Celery beat is the one scheduler. Tasks are named `<domain>.<action>` and are defined with
`@shared_task(name=...)` so they bind to whichever app the process builds. Each task module
declares its own periodic tasks in `beat_entries(settings)`; this module is generic machinery
and names no domain: the composition root lists the domains' task modules and passes them in.

Worker health: `celery inspect ping` gets no answer on the SQLAlchemy transport (it has no
broadcast), so each worker touches `data_dir/heartbeat/worker-<hostname>` while it consumes,
and `worker_alive(settings)` reads those files.
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery, bootsteps
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from core.clock import Clock, SystemClock
from core.config import Settings

# The kernel's own task module; the composition root adds the domains' modules.
CORE_TASKS: tuple[str, ...] = ("core.tasks",)

HEARTBEAT_INTERVAL = 2.0
HEARTBEAT_DIR = "heartbeat"


def beat_schedule(
    settings: Settings, modules: Iterable[str] = CORE_TASKS
) -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule`: each task module's `beat_entries(settings)`, then the operator's
    `scheduled_tasks` (which may replace an entry of the same name).

    Every task module declares its periodic tasks itself, so whoever lists the modules gets
    their schedules with them. A module without `beat_entries`, or two modules claiming one
    entry name, is a programming error and raises at start-up rather than dropping an entry.
    """
    schedule: dict[str, dict[str, Any]] = {}
    owner: dict[str, str] = {}
    for name in modules:
        module = importlib.import_module(name)
        entries = getattr(module, "beat_entries", None)
        if not callable(entries):
            raise TypeError(f"{name}: a task module must define beat_entries(settings)")
        for entry_name, entry in entries(settings).items():
            if entry_name in owner:
                raise ValueError(
                    f"{name}: beat entry {entry_name!r} is already declared by {owner[entry_name]}"
                )
            owner[entry_name] = name
            schedule[entry_name] = dict(entry)
    for name, task in settings.scheduled_tasks.items():
        schedule[name] = {
            "task": task.task,
            "schedule": timedelta(seconds=task.every_seconds),
            "args": list(task.args),
        }
    return schedule


# Transport options that configure kombu itself, not the SQLAlchemy engine.
_KOMBU_ONLY_OPTIONS = frozenset(
    {
        "polling_interval",
        "queue_tablename",
        "message_tablename",
        "callback",
        "errback",
        "max_retries",
        "interval_start",
        "interval_step",
        "interval_max",
        "retry_errors",
    }
)


class _SQLAlchemyChannel(kombu_sqlalchemy.Channel):  # type: ignore[misc]
    # Workaround: kombu 5.7's SQLAlchemy channel passes every transport option not on its own
    # short list to create_engine(), so `polling_interval` (read by kombu's virtual transport)
    # makes create_engine() raise TypeError. We filter it out here.
    def _engine_from_config(self) -> Engine:
        client = self.connection.client
        options = {
            key: value
            for key, value in client.transport_options.items()
            if key not in _KOMBU_ONLY_OPTIONS
        }
        return create_engine(client.hostname, **options)


class SQLAlchemyTransport(kombu_sqlalchemy.Transport):  # type: ignore[misc]
    """kombu's SQLAlchemy transport with a working `polling_interval`; used for `sqla+` URLs."""

    Channel = _SQLAlchemyChannel


def _broker(url: str) -> tuple[str, str | None]:
    """Broker URL and transport class for Celery; `sqla+...` selects our patched transport."""
    if url.startswith("sqla+"):
        return url.removeprefix("sqla+"), f"{__name__}:SQLAlchemyTransport"
    return url, None


def create_celery(settings: Settings, *, include: Iterable[str] = CORE_TASKS) -> Celery:
    """A Celery app for `settings` with the tasks and beat entries of the modules in `include`.

    Build one per process and pass it to whatever needs it. The platform's app, with every
    domain's tasks, comes from the composition root; an app that only sends tasks by name
    needs no modules beyond the default.
    """
    include = tuple(include)
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    broker_url, broker_transport = _broker(settings.celery_broker_url)
    app = Celery(
        "dijkwacht",
        broker=broker_url,
        backend=settings.celery_result_backend,
        include=list(include),
        set_as_current=False,
    )
    app.conf.update(
        broker_transport=broker_transport,
        broker_transport_options={"polling_interval": settings.broker_polling_interval},
        broker_connection_retry_on_startup=True,
        # JSON only: pickle would let anyone who can write to the broker run code in workers.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        # Acknowledge after the task ran, so a crashed worker's task is delivered again;
        # tasks must therefore be idempotent. One message at a time per worker process.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        beat_schedule_filename=str(settings.beat_schedule_path),
        beat_schedule=beat_schedule(settings, include),
        # Read by our tasks and the heartbeat step; a plain string so `conf` stays serialisable.
        dijkwacht_data_dir=str(settings.resolved_data_dir),
    )
    app.steps["consumer"].add(HeartbeatStep)
    return app


def heartbeat_dir(data_dir: Path) -> Path:
    """Where workers keep their heartbeat files."""
    return data_dir / HEARTBEAT_DIR


def _heartbeat_file(data_dir: Path, hostname: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", hostname)
    return heartbeat_dir(data_dir) / f"worker-{safe}"


def write_heartbeat(data_dir: Path, hostname: str, moment: datetime) -> Path:
    """Record that `hostname` is alive at `moment`; atomic, so readers never see half a file."""
    path = _heartbeat_file(data_dir, hostname)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(moment.astimezone(UTC).isoformat())
    os.replace(tmp, path)
    return path


def worker_heartbeats(settings: Settings) -> dict[str, datetime]:
    """Last heartbeat of each worker that has one, by hostname."""
    beats: dict[str, datetime] = {}
    directory = heartbeat_dir(settings.resolved_data_dir)
    if not directory.is_dir():
        return beats
    for path in directory.glob("worker-*"):
        try:
            moment = datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue  # removed or being replaced right now; the next read sees it
        beats[path.name.removeprefix("worker-")] = moment
    return beats


def worker_alive(
    settings: Settings,
    max_age: timedelta = timedelta(seconds=HEARTBEAT_INTERVAL * 3),
    *,
    clock: Clock | None = None,
) -> bool:
    """True when at least one worker sent a heartbeat within `max_age`."""
    now = (clock or SystemClock()).now()
    return any(now - moment <= max_age for moment in worker_heartbeats(settings).values())


class HeartbeatStep(bootsteps.StartStopStep):  # type: ignore[misc]
    """Consumer step: while the worker consumes, a thread rewrites its heartbeat file.

    A consumer step (not a worker one) starts once the broker connection is up and stops when
    it is lost, so the heartbeat means "taking tasks", not merely "process exists".
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)
    label = "Dijkwacht heartbeat"

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._path: Path | None = None

    def start(self, consumer: Any) -> None:
        data_dir = Path(consumer.app.conf.dijkwacht_data_dir)
        hostname = str(consumer.hostname)
        clock = SystemClock()
        self._path = write_heartbeat(data_dir, hostname, clock.now())
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(HEARTBEAT_INTERVAL):
                write_heartbeat(data_dir, hostname, clock.now())

        self._thread = threading.Thread(target=beat, name="dijkwacht-heartbeat", daemon=True)
        self._thread.start()

    def stop(self, consumer: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT_INTERVAL * 2)
            self._thread = None
        # A worker that stopped cleanly is not alive; a crashed one simply goes stale.
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def shutdown(self, consumer: Any) -> None:
        self.stop(consumer)
