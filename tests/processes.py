"""Real child processes for tests: Celery workers, beat, the API, the collector.

Every child is always stopped (SIGTERM for a warm shutdown, SIGKILL after 20 s) and waited for,
even when the test fails; its output goes to a log file that a timed-out wait shows.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CELERY = ("-m", "celery", "-A", "dijkwacht.celery_entry")
BEAT_ARGS = ("beat", "--loglevel=INFO")
T = TypeVar("T")


def child_env(**settings: Any) -> dict[str, str]:
    """This process's environment without any DIJKWACHT_ variable, plus `settings`.

    `data_dir=path` becomes `DIJKWACHT_DATA_DIR=path`; a dict is written as JSON; None is left out.
    RELP and HTTP ingest listen on free ports unless `settings` names them.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIJKWACHT_")}
    # Fixed default listener ports would collide between tests: any free port unless given.
    env.update({"DIJKWACHT_RELP_PORT": "0", "DIJKWACHT_RELP_TLS_PORT": "0"})
    env["DIJKWACHT_INGEST_HTTP_PORT"] = "0"
    for name, value in settings.items():
        if value is None:
            continue
        shown = json.dumps(value) if isinstance(value, dict) else str(value)
        env[f"DIJKWACHT_{name.upper()}"] = shown
    return env


@contextmanager
def child(
    args: Sequence[str], *, env: dict[str, str], log: Path, append: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python ARGS` in the repository; always stop it (SIGTERM, then SIGKILL) and wait."""
    with log.open("ab" if append else "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # warm shutdown
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def celery(
    *args: str, env: dict[str, str], log: Path, append: bool = False
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """Run `celery -A dijkwacht.celery_entry ARGS` as a `child`."""
    return child([*CELERY, *args], env=env, log=log, append=append)


def worker_args(hostname: str, *, mingle_and_gossip: bool = False) -> tuple[str, ...]:
    """A solo-pool worker named `hostname`; without mingle and gossip unless asked for."""
    args = ("worker", "--pool=solo", "--loglevel=INFO", f"--hostname={hostname}")
    return args if mingle_and_gossip else (*args, "--without-mingle", "--without-gossip")


def logs_text(logs: Path) -> str:
    """A log file's text, or the tail of every `*.log` in a directory."""
    if not logs.is_dir():
        return logs.read_text(errors="replace")
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
        for path in sorted(logs.glob("*.log"))
    )


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, logs: Path | None = None
) -> T:
    """Poll `check` until it returns something truthy; fail showing `logs` (a file or folder)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            shown = "" if logs is None else f"\n{logs_text(logs)}"
            pytest.fail(f"timed out after {timeout}s waiting for {what}{shown}")
        time.sleep(0.1)


def free_port() -> int:
    """A port free for both TCP and UDP right now (the syslog server binds both)."""
    for _ in range(50):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")
