"""The `dijkwacht up` supervisor: starts the platform's processes and keeps them honest.

Each child runs in its own session so a terminal Ctrl-C reaches only the supervisor, which then
stops the children in order (beat first, API last) with a grace period.

Degrade, never stop: a child that dies on its own is reported loudly and restarted, forever,
after a back-off that doubles from 1 s up to `MAX_BACKOFF_SECONDS` (a child that ran for
`STABLE_SECONDS` before it died starts again from 1 s). The other children keep running
meanwhile. `run/supervisor.json` says `degraded` while any child is not running, with each
child's state, restart count and last exit code; the health page and `/readyz` show it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from core.config import Settings
from core.runtime import MULTIPROC_ENV, http_metrics_dir, write_supervisor_status

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 15.0
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
STABLE_SECONDS = 60.0


@dataclass(frozen=True)
class ChildSpec:
    """One process of the platform: a name for people and the command that runs it."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)  # added to the supervisor's own
    fresh_dir: Path | None = None  # emptied before each start (per-run scratch files)
    nice: int = 0  # added to the supervisor's CPU niceness (Linux: higher is less CPU)


@dataclass
class Child:
    """A child's run state; `state` is starting, running, restarting, stopping or stopped."""

    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    state: str = "starting"
    last_exit: int | None = None
    last_exit_at: str | None = None
    started: float = 0.0
    next_start: float = 0.0
    backoff: float = MIN_BACKOFF_SECONDS


def plan_children(settings: Settings) -> list[ChildSpec]:
    """The processes of the embedded platform, in start order."""
    python = sys.executable
    # Several web workers share their HTTP metrics through files (see core.runtime).
    metrics = http_metrics_dir(settings) if settings.http_workers > 1 else None
    app = "dijkwacht.celery_entry"
    children = [
        ChildSpec(
            "api",
            env={MULTIPROC_ENV: str(metrics)} if metrics else {},
            fresh_dir=metrics,
            argv=[
                python, "-m", "uvicorn", "--factory", "dashboard.app:create_app_from_environment",
                "--host", settings.http_host, "--port", str(settings.http_port),
                "--log-level", settings.log_level.lower(), "--no-server-header",
                *(["--workers", str(settings.http_workers)] if settings.http_workers > 1 else []),
            ],
        ),
        ChildSpec(
            "worker",
            [
                python, "-m", "celery", "-A", app, "worker", "--loglevel", settings.log_level,
                "--concurrency", "2", "--hostname", "worker@%h",
            ],
        ),
        ChildSpec(
            "beat",
            [
                python, "-m", "celery", "-A", app, "beat", "--loglevel", settings.log_level,
                "--schedule", str(settings.beat_schedule_path),
            ],
        ),
    ]  # fmt: skip
    if settings.syslog_enabled:
        # After the API, so a stop (reverse order) ends it before the API and after the workers.
        children.insert(
            1,
            ChildSpec(
                "collector", [python, "-m", "dijkwacht", "collect"], nice=settings.collector_nice
            ),
        )
    return children


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child if the supervisor itself is killed (no orphans)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _child_setup(nice: int) -> Callable[[], None]:
    """What runs in the child between fork and exec: die with the parent, then lower its
    CPU priority by `nice` (syscalls only, safe before exec)."""

    def setup() -> None:
        _die_with_parent()
        if nice:
            with contextlib.suppress(OSError):
                os.nice(nice)

    return setup


def _kill_leftovers(child: Child) -> None:
    """Kill what a dead child left running in its process group (it was started as the
    group's leader): the web server's worker processes kept serving on the port after their
    parent was killed, so the restarted API could not bind it and crashed again and again."""
    if child.process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left in the group
        os.killpg(child.process.pid, signal.SIGKILL)


class Supervisor:
    """Runs children until asked to stop; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        settings: Settings,
        children: Sequence[ChildSpec],
        report: Callable[[str], None],
        output: IO[str] | None = None,
    ) -> None:
        self._settings = settings
        self._children = [Child(spec) for spec in children]
        self._report = report
        self._output = output or sys.stdout
        self._output_lock = threading.Lock()
        self._stop = threading.Event()
        self._status_error: str | None = None
        self._started_at = datetime.now(UTC)

    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def run(self) -> int:
        """Start everything, watch, and stop cleanly; return the process exit code."""
        for child in self._children:
            self._start(child)
        self._write_status()
        while not self._stop.wait(0.2):
            self._watch()
        self._shutdown()
        self._write_status()
        return 0

    def _start(self, child: Child) -> None:
        if child.spec.fresh_dir is not None:
            shutil.rmtree(child.spec.fresh_dir, ignore_errors=True)
            child.spec.fresh_dir.mkdir(parents=True, exist_ok=True)
        child.process = subprocess.Popen(
            list(child.spec.argv),
            env={**os.environ, **child.spec.env} if child.spec.env else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_child_setup(child.spec.nice),  # syscalls only; safe before exec
        )
        child.state = "running"
        child.started = time.monotonic()
        threading.Thread(target=self._pump, args=(child,), daemon=True).start()
        self._report(f"started {child.spec.name} (pid {child.process.pid})")

    def _pump(self, child: Child) -> None:
        """Forward a child's output line by line, prefixed with its name."""
        process = child.process
        assert process is not None and process.stdout is not None
        prefix = f"{child.spec.name:>7} | "
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._output_lock:
                self._output.write(prefix + line + "\n")
                self._output.flush()

    def _watch(self) -> None:
        now = time.monotonic()
        changed = False
        for child in self._children:
            process = child.process
            if child.state == "restarting" and now >= child.next_start:
                self._start(child)
                changed = True
            elif process is not None and child.state == "running" and process.poll() is not None:
                changed = True
                self._on_crash(child, process.returncode, now)
        if changed:
            self._write_status()

    def _on_crash(self, child: Child, code: int, now: float) -> None:
        """Schedule a restart; the rest of the platform keeps running (never stop on crashes)."""
        child.last_exit = code
        child.last_exit_at = datetime.now(UTC).isoformat()
        _kill_leftovers(child)
        if now - child.started >= STABLE_SECONDS:
            child.backoff = MIN_BACKOFF_SECONDS
        delay = child.backoff
        child.backoff = min(child.backoff * 2, MAX_BACKOFF_SECONDS)
        child.restarts += 1
        child.state = "restarting"
        child.next_start = now + delay
        self._report(
            f"[red]{child.spec.name} exited unexpectedly with code {code}[/red]; "
            f"restarting in {delay:g}s (restart {child.restarts}); the platform is degraded"
        )

    def _shutdown(self) -> None:
        self._report("stopping: " + ", ".join(c.spec.name for c in reversed(self._children)))
        running = [c for c in reversed(self._children) if c.process and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.state = "stopping"
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._report(f"[yellow]{child.spec.name} did not stop in time: killing[/yellow]")
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        for child in self._children:
            child.state = "stopped"
            if child.process is not None:
                child.last_exit = child.process.returncode
        self._report("all processes stopped")

    def status(self) -> dict[str, Any]:
        """What `run/supervisor.json` holds: `degraded` while any child is not running."""
        states = {c.state for c in self._children}
        if states <= {"stopped"}:
            overall = "stopped"
        else:
            overall = "ok" if states == {"running"} else "degraded"
        return {
            "pid": os.getpid(),
            "started_at": self._started_at.isoformat(),
            "status": overall,
            "children": {
                c.spec.name: {
                    "state": c.state,
                    "pid": c.process.pid if c.process else None,
                    "restarts": c.restarts,
                    "last_exit": c.last_exit,
                    "last_exit_at": c.last_exit_at,
                }
                for c in self._children
            },
        }

    def _write_status(self) -> None:
        """Best effort: a data directory that cannot take the file must not stop the platform."""
        try:
            write_supervisor_status(self._settings, self.status())
        except OSError as exc:
            if self._status_error != str(exc):
                self._report(f"[yellow]status file not written: {exc}[/yellow]")
            self._status_error = str(exc)
        else:
            self._status_error = None
