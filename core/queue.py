"""The Celery app factory, the list of task modules and schedules, and the worker heartbeat.

Embedded default: kombu's SQLAlchemy transport on a SQLite file for the broker and Celery's
database backend on another SQLite file for results; Redis when the settings' URLs say so.
Celery beat is the one scheduler. Tasks are named `<domain>.<action>` and are defined with
`@shared_task(name=...)` so they bind to whichever app the process builds.

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
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery, bootsteps
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from core.clock import Clock, SystemClock
from core.config import Settings

# Every module with Celery tasks, by name: the worker imports them at start, so core never
# imports a domain. Domains add their `<domain>.tasks` module here.
TASK_MODULES: tuple[str, ...] = (
    "core.tasks",
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

# Beat entries that depend on the settings, as "module:function" names: each function takes the
# Settings and returns entries in `beat_schedule` format. Imported by name when the schedule is
# built, so core never imports a domain; a domain registers its own entries by adding one here.
SCHEDULE_HOOKS: tuple[str, ...] = (
    "detection.tasks:beat_entries",
    "collectors.tasks:beat_entries",
    "advisories.tasks:beat_entries",
    "intel.tasks:beat_entries",
    "compliance.tasks:beat_entries",
)

# Periodic tasks the domains need, in Celery's `beat_schedule` format, kept in this one place.
# Operators add more through the `scheduled_tasks` setting.
DOMAIN_SCHEDULES: Mapping[str, Mapping[str, Any]] = {
    # Breach deadlines (GDPR 72 h, NIS2/Cbw): due reminders fire once each; see playbooks/breach.
    "breach-reminders": {"task": "breach.fire_reminders", "schedule": timedelta(seconds=60)},
    # Breach: open a breach per playbook hand-off, send released letters, purge old lists.
    "breach-accept-handoffs": {"task": "breach.accept_handoffs", "schedule": timedelta(seconds=30)},
    "breach-send-letters": {"task": "breach.send_letters", "schedule": timedelta(seconds=30)},
    "breach-purge-letter-recipients": {
        "task": "breach.purge_letter_recipients",
        "schedule": timedelta(hours=1),
    },
    # Incidents: route new alerts, and re-send playbook work a dead worker lost.
    "playbooks-route-alerts": {"task": "playbooks.route_alerts", "schedule": timedelta(seconds=15)},
    "playbooks-resume-runs": {"task": "playbooks.resume_runs", "schedule": timedelta(seconds=60)},
    # Drills: start due schedules, release due injects, check technical expectations.
    "drills-tick": {"task": "drills.tick", "schedule": timedelta(seconds=10)},
    # Enrichment context (open cases, roles, protected persons...): re-publish the exports.
    "collectors-refresh-context": {
        "task": "collectors.refresh_context",
        "schedule": timedelta(minutes=5),
    },
    # Logboek Dataverwerkingen: register and partner tables for enrichment; stream gaps.
    "ldv-export-context": {"task": "ldv.export_context", "schedule": timedelta(minutes=5)},
    "ldv-check-streams": {"task": "ldv.check_streams", "schedule": timedelta(hours=1)},
}

HEARTBEAT_INTERVAL = 2.0
HEARTBEAT_DIR = "heartbeat"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule`: the domains' entries plus the ones in `settings`."""
    schedule = {name: dict(entry) for name, entry in DOMAIN_SCHEDULES.items()}
    for hook in SCHEDULE_HOOKS:
        module, _, function = hook.partition(":")
        schedule.update(getattr(importlib.import_module(module), function)(settings))
    for name, entry in settings.scheduled_tasks.items():
        schedule[name] = {
            "task": entry.task,
            "schedule": timedelta(seconds=entry.every_seconds),
            "args": list(entry.args),
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


def create_celery(settings: Settings, *, include: Iterable[str] = TASK_MODULES) -> Celery:
    """A Celery app for `settings`; build one per process, pass it to whatever needs it."""
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
        beat_schedule=beat_schedule(settings),
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
