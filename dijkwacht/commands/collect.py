"""`dijkwacht collect`: the syslog, RELP and HTTP ingest listeners and the spool consumer.

This module is a composition root: it wires detection into the spool consumer (collectors may
not import detection themselves).
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer

from core.config import Settings
from dijkwacht.commands.common import (
    console,
    detection_modes_or_exit,
    settings_or_exit,
)


def _detection_hook(settings: Settings) -> Any:
    """Detection behind the spool consumer: rules, correlations and alerts for each batch."""
    from dijkwacht.detection_runtime import DetectionHook

    return DetectionHook(settings=settings)


def collect(
    no_detection: Annotated[
        bool, typer.Option("--no-detection", help="Only store events; do not run detection.")
    ] = False,
) -> None:
    """Run the syslog, RELP and HTTP ingest listeners and the spool consumer until a signal."""
    from rich.markup import escape

    from collectors.processes import run_collect
    from collectors.service import data_dir_setting, describe_fault
    from dijkwacht.commands.up import data_dir_or_exit

    settings = settings_or_exit()
    if not no_detection:
        detection_modes_or_exit(settings)
    logging.basicConfig(level=settings.log_level, stream=sys.stderr)
    data_dir_or_exit(settings)

    def ready(ports: dict[str, int]) -> None:
        listening = " ".join(f"{name}={port}" for name, port in sorted(ports.items()))
        print(f"collect: ready {listening}".rstrip(), flush=True)

    try:
        on_batch = None if no_detection else _detection_hook(settings)
        run_collect(settings=settings, on_batch=on_batch, on_ready=ready)
    except Exception as exc:
        # Faults while running pause the collector; one at start-up (the spool cannot even be
        # opened) ends it with the cause, and the supervisor starts it again later.
        cause = describe_fault(exc)
        if cause is None:
            raise
        console.print(
            f"[red]collect: {escape(data_dir_setting(settings))}: {cause}[/red]", soft_wrap=True
        )
        raise typer.Exit(code=1) from None
    print("collect: stopped", flush=True)
