"""Real worker, beat and collector processes for the drills tests (each always stopped)."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_ARGS = (
    "worker",
    "--pool=solo",
    "--loglevel=INFO",
    "--without-mingle",
    "--without-gossip",
)
T = TypeVar("T")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(path: Path, values: Mapping[str, Any]) -> Path:
    """A small TOML writer for the settings the tests need (scalars, lists, two-level tables)."""
    plain = [f"{key} = {_toml_value(v)}" for key, v in values.items() if not isinstance(v, dict)]
    tables: list[str] = []
    for key, value in values.items():
        if not isinstance(value, dict):
            continue
        nested = {k: v for k, v in value.items() if isinstance(v, dict)}
        flat = {k: v for k, v in value.items() if not isinstance(v, dict)}
        if flat:
            tables.append(f"[{key}]")
            tables.extend(f"{k} = {_toml_value(v)}" for k, v in flat.items())
        for name, table in nested.items():
            tables.append(f"[{key}.{name}]")
            tables.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
    path.write_text("\n".join([*plain, *tables]) + "\n", encoding="utf-8")
    return path


def process_env(data_dir: Path, config: Path) -> dict[str, str]:
    """The environment every child (and the test's own settings) reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIJKWACHT_")}
    env.update(
        DIJKWACHT_DATA_DIR=str(data_dir),
        DIJKWACHT_ENVIRONMENT="test",
        DIJKWACHT_BROKER_POLLING_INTERVAL="0.05",
        DIJKWACHT_CONFIG=str(config),
    )
    return env


@contextmanager
def child(args: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python ARGS`; always stop it (SIGTERM, then SIGKILL) and wait."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextmanager
def celery_processes(
    *,
    env: dict[str, str],
    logs: Path,
    workers_alive: Callable[[], int],
    workers: int = 1,
    beat: bool = True,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`workers` solo workers, started one after the other, then beat.

    One at a time because kombu's SQLAlchemy transport creates its queue row on first use:
    two workers starting together race on that row and one dies of a UNIQUE error.
    """
    with ExitStack() as stack:
        procs = []
        for n in range(workers):
            procs.append(
                stack.enter_context(
                    child(
                        ["-m", "celery", "-A", "core.celery_entry", *WORKER_ARGS, f"-n=w{n}@%h"],
                        env=env,
                        log=logs / f"worker{n}.log",
                    )
                )
            )
            wait_until(
                functools.partial(lambda started: workers_alive() > started, n),
                timeout=40,
                what=f"worker {n} heartbeat",
                logs=logs,
            )
        if beat:
            procs.append(
                stack.enter_context(
                    child(
                        ["-m", "celery", "-A", "core.celery_entry", "beat", "--loglevel=INFO"],
                        env=env,
                        log=logs / "beat.log",
                    )
                )
            )
        yield procs


def logs_text(logs: Path) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
        for path in sorted(logs.glob("*.log"))
    )


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str, logs: Path) -> T:
    """Poll `check` until it returns something truthy; fail with the children's logs."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{logs_text(logs)}")
        time.sleep(0.1)


class Mailbox:
    """An aiosmtpd handler keeping (recipients, subject) of every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        message = message_from_bytes(envelope.content)
        subject = " ".join(str(message["Subject"]).split())
        self.messages.append((list(envelope.rcpt_tos), subject))
        return "250 OK"


@contextmanager
def smtp_receiver() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on 127.0.0.1 (a free port) for the exercise mailbox."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()
