"""The `dijkwacht up` supervisor: starts the platform's processes and keeps them honest.

Each child runs in its own session so a terminal Ctrl-C reaches only the supervisor, which then
stops the children in order (beat first, API last) with a grace period. A child that dies on its
own is reported loudly and restarted with back-off; too many crashes stop the platform with a
non-zero exit instead of limping on.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from core.config import Settings
from core.runtime import write_supervisor_status

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 15.0
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 300.0


@dataclass(frozen=True)
class ChildSpec:
    """One process of the platform: a name for people and the command that runs it."""

    name: str
    argv: Sequence[str]


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    state: str = "starting"
    last_exit: int | None = None
    next_start: float = 0.0


def plan_children(settings: Settings) -> list[ChildSpec]:
    """The processes of the embedded platform, in start order."""
    python = sys.executable
    app = "core.celery_entry"
    children = [
        ChildSpec(
            "api",
            [
                python, "-m", "uvicorn", "--factory", "dashboard.app:create_app_from_environment",
                "--host", settings.http_host, "--port", str(settings.http_port),
                "--log-level", settings.log_level.lower(), "--no-server-header",
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
        children.insert(1, ChildSpec("collector", [python, "-m", "dijkwacht", "collect"]))
    return children


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child if the supervisor itself is killed (no orphans)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


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
        self._failed = False
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
        return 1 if self._failed else 0

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(
            list(child.spec.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # prctl only; safe before exec
        )
        child.state = "running"
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
            if child.state == "waiting" and now >= child.next_start:
                self._start(child)
                changed = True
            elif process is not None and child.state == "running" and process.poll() is not None:
                changed = True
                self._on_crash(child, process.returncode, now)
        if changed:
            self._write_status()

    def _on_crash(self, child: Child, code: int, now: float) -> None:
        child.last_exit = code
        child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_SECONDS]
        if len(child.restarts) >= MAX_RESTARTS:
            child.state = "failed"
            self._failed = True
            self._report(
                f"[red]{child.spec.name} exited with code {code} and crashed {MAX_RESTARTS} times "
                f"in {RESTART_WINDOW_SECONDS:.0f}s: stopping the platform[/red]"
            )
            self._stop.set()
            return
        delay = 2 ** len(child.restarts)
        child.restarts.append(now)
        child.state = "waiting"
        child.next_start = now + delay
        self._report(
            f"[red]{child.spec.name} exited unexpectedly with code {code}[/red]; "
            f"restarting in {delay}s (restart {len(child.restarts)} of {MAX_RESTARTS})"
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
            if child.state != "failed":
                child.state = "stopped"
            if child.process is not None:
                child.last_exit = child.process.returncode
        self._report("all processes stopped")

    def _write_status(self) -> None:
        write_supervisor_status(
            self._settings,
            {
                "pid": os.getpid(),
                "started_at": self._started_at.isoformat(),
                "children": {
                    c.spec.name: {
                        "state": c.state,
                        "pid": c.process.pid if c.process else None,
                        "restarts": len(c.restarts),
                        "last_exit": c.last_exit,
                    }
                    for c in self._children
                },
            },
        )
