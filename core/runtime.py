"""Runtime state files shared by the `up` supervisor and the health page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from core.config import Settings


def supervisor_status_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / "run" / "supervisor.json"


def write_supervisor_status(settings: Settings, status: dict[str, Any]) -> None:
    """Replace the status file atomically so readers never see half a document."""
    path = supervisor_status_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(status, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def read_supervisor_status(settings: Settings) -> dict[str, Any] | None:
    path = supervisor_status_path(settings)
    try:
        data = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
