"""Worker and beat processes, config files and a mailbox for the drills tests."""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.processes import BEAT_ARGS, celery, child_env, wait_until, worker_args


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
    return child_env(
        data_dir=data_dir, environment="test", broker_polling_interval=0.05, config=config
    )


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
                    celery(*worker_args(f"w{n}@%h"), env=env, log=logs / f"worker{n}.log")
                )
            )
            wait_until(
                functools.partial(lambda started: workers_alive() > started, n),
                timeout=40,
                what=f"worker {n} heartbeat",
                logs=logs,
            )
        if beat:
            procs.append(stack.enter_context(celery(*BEAT_ARGS, env=env, log=logs / "beat.log")))
        yield procs


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
